"""The redaction hook covers every byte llmtel stores or exports that came from a request or a
response: content, request parameters (``user``, ``metadata``, tool names), the error a provider
sends back quoting the input, the exception event and the span status. A known secret is put in
each and then looked for in every span, event, status, provider-trace row and payload."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import openai
import pytest

from llmtel.loopback import ProviderServer, Reply
from llmtel.loopback import openai_replies as fx
from tests.support.telemetry import Telemetry

SECRET = "hunter2-7f3a"
CHAT = "/v1/chat/completions"


def scrub(kind: str, value: Any) -> Any:
    """The hook an app would write: the secret out of every string, at any depth."""
    if isinstance(value, str):
        return value.replace(SECRET, "[gone]")
    if isinstance(value, dict):
        return {scrub(kind, k): scrub(kind, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(kind, v) for v in value]
    return value


def everything_llmtel_emitted(tel: Telemetry) -> str:
    texts = []
    for span in tel.spans():
        texts += [span.name, span.status.description or "", json.dumps(dict(span.attributes), default=str)]
        texts += [json.dumps(dict(e.attributes or {}), default=str) for e in span.events]
    texts += [json.dumps(dataclasses.asdict(t), default=str) for t in tel.sink.traces]
    texts += [data.decode("utf-8", "replace") for data in tel.sink.payloads.values()]
    return "\n".join(texts)


def test_a_secret_reaches_no_span_row_or_payload(tel: Telemetry, server: ProviderServer, client: Any) -> None:
    tel.configure(redact=scrub, capture_content=True, max_attribute_bytes=256, max_span_bytes=4096)
    kwargs: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": f"my password is {SECRET} " + "pad " * 200}],
        "user": f"user-{SECRET}",
        "metadata": {"note": SECRET},
        "tools": [{"type": "function", "function": {"name": f"lookup_{SECRET}", "parameters": {"type": "object"}}}],
    }
    error = {"error": {"message": f"Invalid 'messages[0].content': '{SECRET}' is not allowed", "type": "invalid"}}
    server.expect(CHAT, fx.chat(f"noted: {SECRET}"), Reply.json(error, status=400))
    reply = client.chat.completions.create(**kwargs)
    assert SECRET in reply.choices[0].message.content  # the app sees exactly what it got
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(**kwargs)
    assert SECRET in str(raised.value)  # and exactly what was raised
    assert len(tel.sink.traces) == 2
    assert any(span.events for span in tel.spans())  # the exception event is there, scrubbed
    emitted = everything_llmtel_emitted(tel)
    assert "[gone]" in emitted
    assert SECRET not in emitted
