"""OpenAI chat messages and Responses API items → the GenAI message shape (see message_parts)."""

from __future__ import annotations

import json
from typing import Any

from llmtel.instrumentation.message_parts import text_part, tool_call_part, tool_definition, tool_response_part
from llmtel.instrumentation.stainless.fields import fields_of, get


def parse_arguments(arguments: Any) -> Any:
    """Tool-call arguments arrive as a JSON string from OpenAI; keep them as JSON when they are."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def part(part: Any) -> dict[str, Any]:
    kind = get(part, "type")
    if kind in ("text", "input_text", "output_text"):
        return text_part(get(part, "text"))
    if kind == "refusal":
        return {"type": "refusal", "content": get(part, "refusal")}
    return {"type": kind or "unknown", "content": part}


def chat_message(message: Any) -> dict[str, Any]:
    fields = fields_of(message)  # a dict as it is, an SDK model's field dict: read by key
    role = fields.get("role") or "user"
    content = fields.get("content")
    if isinstance(content, str):
        parts: list[dict[str, Any]] = [text_part(content)]
    elif isinstance(content, list):
        parts = [part(p) for p in content]
    else:
        parts = []
    for call in fields.get("tool_calls") or ():
        function = get(call, "function")
        arguments = parse_arguments(get(function, "arguments"))
        parts.append(tool_call_part(get(call, "id"), get(function, "name"), arguments))
    if role == "tool":
        return {"role": "tool", "parts": [tool_response_part(fields.get("tool_call_id"), content)]}
    return {"role": role, "parts": parts}


def response_items(items: Any) -> list[dict[str, Any]]:
    """Responses API input or output items → messages."""
    if isinstance(items, str):
        return [{"role": "user", "parts": [text_part(items)]}]
    messages: list[dict[str, Any]] = []
    for item in items or []:
        kind = get(item, "type") or "message"
        if kind == "message":
            messages.append(chat_message(item))
        elif kind == "function_call":
            arguments = parse_arguments(get(item, "arguments"))
            part = tool_call_part(get(item, "call_id"), get(item, "name"), arguments)
            messages.append({"role": "assistant", "parts": [part]})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "parts": [tool_response_part(get(item, "call_id"), get(item, "output"))]})
        elif kind == "reasoning":
            summary = " ".join(str(get(s, "text") or "") for s in get(item, "summary") or [])
            messages.append({"role": "assistant", "parts": [{"type": "reasoning", "content": summary}]})
        else:
            messages.append({"role": "assistant", "parts": [{"type": kind, "content": item}]})
    return messages


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    """Chat Completions nests a function tool (``{"type": "function", "function": {...}}``); the
    Responses API has it flat, beside built-in tools named by their type."""
    out = []
    for tool in tools or ():
        fields = fields_of(tool)
        function = fields.get("function")
        out.append(tool_definition(fields_of(function) if function else fields, fields.get("type")))
    return out
