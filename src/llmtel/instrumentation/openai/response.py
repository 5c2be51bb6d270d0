"""Reading a whole OpenAI response (Chat Completions, Completions, Responses, embeddings)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from llmtel.instrumentation import semconv
from llmtel.instrumentation.adapter import UNFINISHED, read_ids_and_usage
from llmtel.instrumentation.openai.messages import chat_message, response_items
from llmtel.instrumentation.openai.usage import read_usage
from llmtel.instrumentation.records import LLMCall
from llmtel.instrumentation.stainless.fields import fields_of, get


def _is_responses(data: Any) -> bool:
    return bool(get(data, "object") == "response")


def read_response(call: LLMCall, data: Any) -> None:
    """Fill ``call`` from a whole response (SDK model or decoded JSON): ids, usage, finish reasons."""
    if data is None:
        return
    fields = read_ids_and_usage(call, data, read_usage)
    call.response_attributes = response_attributes(fields)
    if fields.get("object") == "response":
        reason = _responses_finish_reason(fields)
        if reason:
            call.finish_reasons = (reason,)
    else:
        call.finish_reasons = finish_reasons(fields.get("choices"))


_RESPONSE_ATTRIBUTES: Final = (
    ("service_tier", semconv.OPENAI_RESPONSE_SERVICE_TIER),
    ("system_fingerprint", semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
)


def response_attributes(fields: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """``openai.response.service_tier`` and ``.system_fingerprint`` where the response has them."""
    return tuple(
        (name, value) for key, name in _RESPONSE_ATTRIBUTES if isinstance(value := fields.get(key), str) and value
    )


_INCOMPLETE: Final = {"max_output_tokens": "length", "content_filter": "content_filter"}


def _responses_finish_reason(fields: Mapping[str, Any]) -> str | None:
    """A Responses API status as a finish reason, in Chat Completions' words as the official
    instrumentation gives it: completed is ``stop``, an incomplete response says why (``length``,
    ``content_filter``), failed and cancelled stay; a response still running has none."""
    status = fields.get("status")
    if status == "completed":
        return "stop"
    if status == "incomplete":
        return _INCOMPLETE.get(str(get(fields.get("incomplete_details"), "reason")), "incomplete")
    return str(status) if status in ("failed", "cancelled") else None


def finish_reasons(choices: Any) -> tuple[str, ...]:
    return tuple(str(reason) for choice in choices or () if (reason := get(choice, "finish_reason")))


def output_messages(call: LLMCall, data: Any) -> list[dict[str, Any]]:
    """``gen_ai.output.messages`` from a whole or assembled response."""
    if isinstance(data, (bytes, bytearray)):
        data = json.loads(data)
    if _is_responses(data):
        reason = _responses_finish_reason(fields_of(data)) or UNFINISHED
        return [{**message, "finish_reason": reason} for message in response_items(get(data, "output"))]
    out = []
    for choice in get(data, "choices") or []:
        message = chat_message(get(choice, "message") or {"role": "assistant", "content": get(choice, "text")})
        message["finish_reason"] = get(choice, "finish_reason") or UNFINISHED
        out.append(message)
    return out
