"""Anthropic messages and content blocks → the GenAI message shape (see message_parts)."""

from __future__ import annotations

from typing import Any

from llmtel.instrumentation.message_parts import text_part, tool_call_part, tool_response_part
from llmtel.instrumentation.stainless.fields import get


def block_part(block: Any) -> dict[str, Any]:
    kind = get(block, "type")
    if kind == "text":
        return text_part(get(block, "text"))
    if kind in ("tool_use", "server_tool_use"):
        return tool_call_part(get(block, "id"), get(block, "name"), get(block, "input"))
    if kind == "tool_result":
        return tool_response_part(get(block, "tool_use_id"), get(block, "content"))
    if kind == "thinking":
        return {"type": "reasoning", "content": get(block, "thinking")}
    return {"type": kind or "unknown", "content": block}


def content_parts(content: Any) -> list[dict[str, Any]]:
    """Anthropic content (or a system prompt) given as a string or as blocks."""
    if isinstance(content, str):
        return [text_part(content)]
    return [block_part(b) for b in content or []]


def message(msg: Any) -> dict[str, Any]:
    return {"role": get(msg, "role") or "user", "parts": content_parts(get(msg, "content"))}
