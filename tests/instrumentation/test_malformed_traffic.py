"""Malformed provider traffic and fuzzed request payloads: the app sees exactly what the
uninstrumented SDK gives it, and llmtel records what it can."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmtel.instrumentation.anthropic import AnthropicInstrumentor
from llmtel.instrumentation.openai import OpenAIInstrumentor
from llmtel.loopback import ProviderServer, Reply
from llmtel.loopback import openai_replies as fx
from tests.support.telemetry import Telemetry, uninstrumented

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "Say hello"}]
Pair = tuple[OpenAIInstrumentor, AnthropicInstrumentor]


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """What the app sees: the result's data, or the exception's type and message."""
    try:
        result = call()
    except Exception as exc:
        return "raised", (type(exc).__name__, str(exc))
    if isinstance(result, openai.Stream):
        items: list[Any] = []
        try:
            for chunk in result:
                items.append(chunk.model_dump(warnings=False))
        except Exception as exc:
            return "raised mid-stream", (items, type(exc).__name__, str(exc))
        return "stream", items
    dump = getattr(result, "model_dump", None)
    return "result", dump(warnings=False) if dump else result  # a non-JSON body comes back as text


MALFORMED: dict[str, tuple[Reply, bool]] = {
    "truncated JSON": (Reply(body=json.dumps(fx.completion())[:57].encode()), False),
    "wrong types": (Reply.json({"id": 7, "choices": "none", "usage": "lots", "model": ["x"]}), False),
    "missing usage": (Reply.json({**fx.completion(), "usage": None}), False),
    "not JSON at all": (Reply(body=b"<html>502 Bad Gateway</html>", headers={"content-type": "text/html"}), False),
    "garbage SSE lines": (
        Reply.sse(
            [fx.chunk({"content": "a"}), ": comment", "data: {not json", "event: weird\ndata: 1", "data: [DONE]"]
        ),
        True,
    ),
    "error event mid-stream": (
        Reply.sse([fx.chunk({"content": "a"}), 'data: {"error": {"message": "overloaded", "type": "server_error"}}']),
        True,
    ),
    "reset mid-stream": (fx.chat_stream("a", "b", "c", reset_after_events=2), True),
    "stream without finish or usage": (Reply.sse([fx.chunk({"content": "a"})]), True),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_provider_traffic(
    case: str, server: ProviderServer, client: openai.OpenAI, instrumentors: Pair, tel: Telemetry
) -> None:
    reply, stream = MALFORMED[case]

    def call() -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=stream)

    server.expect(CHAT, reply)
    seen = outcome(call)
    server.expect(CHAT, reply)
    with uninstrumented(instrumentors):
        expected = outcome(call)
    assert seen == expected
    [record] = tel.traces()
    assert record.is_error == seen[0].startswith("raised")
    assert record.is_stream == stream
    if record.is_error:
        assert record.error_type


FUZZ = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(codec="utf-8")),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=FUZZ, content=st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_fuzzed_request_payloads_change_nothing_for_the_app(
    server: ProviderServer, client: openai.OpenAI, instrumentors: Pair, tel: Telemetry, extra: Any, content: str
) -> None:
    tel.reset()

    def call() -> Any:
        return client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": content}], extra_body={"fuzz": extra}
        )

    server.expect(CHAT, fx.chat("ok"))
    seen = outcome(call)
    server.expect(CHAT, fx.chat("ok"))
    with uninstrumented(instrumentors):
        expected = outcome(call)
    assert seen == expected
    records = tel.traces()
    if seen[0] == "result":
        [record] = records
        assert len(record.request_json) > 0
        if not _has_non_finite(extra):
            assert json.loads(record.request_json)["fuzz"] == extra
    for span in tel.spans():
        for value in (span.attributes or {}).values():
            assert len(str(value).encode()) <= 4096


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    return False
