"""The GenAI semantic conventions' message shape, which each provider's messages.py converts to:
``{"role": ..., "parts": [{"type": "text", "content": ...}, {"type": "tool_call", ...}]}``.

Only used when content capture is on; unknown part types pass through with their type.
"""

from __future__ import annotations

from typing import Any


def text_part(text: Any) -> dict[str, Any]:
    return {"type": "text", "content": text}


def tool_call_part(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def tool_response_part(call_id: Any, response: Any) -> dict[str, Any]:
    return {"type": "tool_call_response", "id": call_id, "response": response}
