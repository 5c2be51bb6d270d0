"""Reading a whole Anthropic Message."""

from __future__ import annotations

import json
from typing import Any, Final

from llmtel.instrumentation.adapter import UNFINISHED, read_ids_and_usage
from llmtel.instrumentation.anthropic.messages import block_part
from llmtel.instrumentation.anthropic.usage import read_usage
from llmtel.instrumentation.records import LLMCall
from llmtel.instrumentation.stainless.fields import fields_of


def read_response(call: LLMCall, data: Any) -> None:
    """Fill ``call`` from a whole Message (SDK model or decoded JSON): ids, usage, stop reason."""
    if data is None:
        return
    reason = read_ids_and_usage(call, data, read_usage).get("stop_reason")
    if reason:
        call.finish_reasons = (finish_reason(reason),)


# Stop reasons in the words OpenAI's finish reasons use, as the official instrumentation maps
# them, so one filter finds the calls of both providers that ran out of tokens or called a tool.
_FINISH: Final = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


def finish_reason(stop_reason: Any) -> str:
    return _FINISH.get(str(stop_reason), str(stop_reason))


def output_messages(call: LLMCall, data: Any) -> list[dict[str, Any]]:
    """``gen_ai.output.messages`` from a whole or assembled Message."""
    fields = fields_of(json.loads(data) if isinstance(data, (bytes, bytearray)) else data)
    parts = [block_part(b) for b in fields.get("content") or []]
    reason = fields.get("stop_reason")
    return [{"role": "assistant", "parts": parts, "finish_reason": finish_reason(reason) if reason else UNFINISHED}]
