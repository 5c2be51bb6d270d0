"""Provider messages → the GenAI semantic conventions' message shape
(``{"role": ..., "parts": [{"type": "text", "content": ...}, {"type": "tool_call", ...}]}``).

Only used when content capture is on; unknown part types pass through with their type.
"""

from __future__ import annotations

import json
from typing import Any

from .fields import fields_of, get


def text_part(text: Any) -> dict[str, Any]:
    return {"type": "text", "content": text}


def parse_arguments(arguments: Any) -> Any:
    """Tool-call arguments arrive as a JSON string from OpenAI; keep them as JSON when they are."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def openai_part(part: Any) -> dict[str, Any]:
    kind = get(part, "type")
    if kind in ("text", "input_text", "output_text"):
        return text_part(get(part, "text"))
    if kind == "refusal":
        return {"type": "refusal", "content": get(part, "refusal")}
    return {"type": kind or "unknown", "content": part}


def openai_chat_message(message: Any) -> dict[str, Any]:
    fields = fields_of(message)  # a dict as it is, an SDK model's field dict: read by key
    role = fields.get("role") or "user"
    content = fields.get("content")
    if isinstance(content, str):
        parts: list[dict[str, Any]] = [text_part(content)]
    elif isinstance(content, list):
        parts = [openai_part(p) for p in content]
    else:
        parts = []
    for call in fields.get("tool_calls") or ():
        function = get(call, "function")
        parts.append(
            {
                "type": "tool_call",
                "id": get(call, "id"),
                "name": get(function, "name"),
                "arguments": parse_arguments(get(function, "arguments")),
            }
        )
    if role == "tool":
        return {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": fields.get("tool_call_id"), "response": content}],
        }
    return {"role": role, "parts": parts}


def openai_response_items(items: Any) -> list[dict[str, Any]]:
    """Responses API input or output items → messages."""
    if isinstance(items, str):
        return [{"role": "user", "parts": [text_part(items)]}]
    messages: list[dict[str, Any]] = []
    for item in items or []:
        kind = get(item, "type") or "message"
        if kind == "message":
            messages.append(openai_chat_message(item))
        elif kind == "function_call":
            messages.append(
                {
                    "role": "assistant",
                    "parts": [
                        {
                            "type": "tool_call",
                            "id": get(item, "call_id"),
                            "name": get(item, "name"),
                            "arguments": parse_arguments(get(item, "arguments")),
                        }
                    ],
                }
            )
        elif kind == "function_call_output":
            messages.append(
                {
                    "role": "tool",
                    "parts": [
                        {"type": "tool_call_response", "id": get(item, "call_id"), "response": get(item, "output")}
                    ],
                }
            )
        elif kind == "reasoning":
            summary = " ".join(str(get(s, "text") or "") for s in get(item, "summary") or [])
            messages.append({"role": "assistant", "parts": [{"type": "reasoning", "content": summary}]})
        else:
            messages.append({"role": "assistant", "parts": [{"type": kind, "content": item}]})
    return messages


def anthropic_block(block: Any) -> dict[str, Any]:
    kind = get(block, "type")
    if kind == "text":
        return text_part(get(block, "text"))
    if kind in ("tool_use", "server_tool_use"):
        return {
            "type": "tool_call",
            "id": get(block, "id"),
            "name": get(block, "name"),
            "arguments": get(block, "input"),
        }
    if kind == "tool_result":
        return {"type": "tool_call_response", "id": get(block, "tool_use_id"), "response": get(block, "content")}
    if kind == "thinking":
        return {"type": "reasoning", "content": get(block, "thinking")}
    return {"type": kind or "unknown", "content": block}


def anthropic_parts(content: Any) -> list[dict[str, Any]]:
    """Anthropic content (or a system prompt) given as a string or as blocks."""
    if isinstance(content, str):
        return [text_part(content)]
    return [anthropic_block(b) for b in content or []]


def anthropic_message(message: Any) -> dict[str, Any]:
    return {"role": get(message, "role") or "user", "parts": anthropic_parts(get(message, "content"))}
