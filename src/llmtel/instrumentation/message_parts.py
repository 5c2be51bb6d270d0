"""The GenAI semantic conventions' message shape, which each provider's messages.py converts to:
``{"role": ..., "parts": [{"type": "text", "content": ...}, {"type": "tool_call", ...}]}``.

Only used when content capture is on; unknown part types pass through with their type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def text_part(text: Any) -> dict[str, Any]:
    return {"type": "text", "content": text}


def tool_call_part(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def tool_response_part(call_id: Any, response: Any) -> dict[str, Any]:
    return {"type": "tool_call_response", "id": call_id, "response": response}


def tool_definition(tool: Mapping[str, Any], kind: Any, schema_key: str = "parameters") -> dict[str, Any]:
    """One ``gen_ai.tool.definitions`` item: ``type`` and ``name``, which its schema requires (a
    built-in tool is named by its type), the arguments' JSON schema as ``parameters``, and the
    rest as the provider has it."""
    kind = str(kind or "function")
    out: dict[str, Any] = {"type": kind, "name": str(tool.get("name") or kind)}
    for key, value in tool.items():
        if key not in out:
            out["parameters" if key == schema_key else key] = value
    return out
