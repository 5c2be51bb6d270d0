"""Reading a whole OpenAI response (Chat Completions, Completions, Responses, embeddings)."""

from __future__ import annotations

import json
from typing import Any

from llmtel.instrumentation.adapter import read_ids_and_usage
from llmtel.instrumentation.openai.messages import chat_message, response_items
from llmtel.instrumentation.openai.usage import read_usage
from llmtel.instrumentation.records import LLMCall
from llmtel.instrumentation.stainless.fields import get


def _is_responses(data: Any) -> bool:
    return bool(get(data, "object") == "response")


def read_response(call: LLMCall, data: Any) -> None:
    """Fill ``call`` from a whole response (SDK model or decoded JSON): ids, usage, finish reasons."""
    if data is None:
        return
    fields = read_ids_and_usage(call, data, read_usage)
    if fields.get("object") == "response":
        incomplete = get(fields.get("incomplete_details"), "reason")
        status = fields.get("status")
        if incomplete or status:
            call.finish_reasons = (str(incomplete or status),)
    else:
        call.finish_reasons = finish_reasons(fields.get("choices"))


def finish_reasons(choices: Any) -> tuple[str, ...]:
    return tuple(str(reason) for choice in choices or () if (reason := get(choice, "finish_reason")))


def output_messages(call: LLMCall, data: Any) -> list[dict[str, Any]]:
    """``gen_ai.output.messages`` from a whole or assembled response."""
    if isinstance(data, (bytes, bytearray)):
        data = json.loads(data)
    if _is_responses(data):
        return response_items(get(data, "output"))
    out = []
    for choice in get(data, "choices") or []:
        message = chat_message(get(choice, "message") or {"role": "assistant", "content": get(choice, "text")})
        message["finish_reason"] = get(choice, "finish_reason")
        out.append(message)
    return out
