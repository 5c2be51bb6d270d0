"""What llmtel knows about the Anthropic Messages API: routes and request attributes (responses:
response.py, streams: stream.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.util.types import AttributeValue

from llmtel.instrumentation import semconv
from llmtel.instrumentation.adapter import Accumulator, scalar_attributes
from llmtel.instrumentation.anthropic.messages import content_parts, message
from llmtel.instrumentation.anthropic.response import output_messages, read_response
from llmtel.instrumentation.anthropic.stream import AnthropicStreamAccumulator
from llmtel.instrumentation.message_parts import tool_definition
from llmtel.instrumentation.stainless.fields import fields_of, get, sent_params

CONTENT_KEYS: Final = frozenset({"messages", "system", "tools"})
_SCALARS: Final = {
    "max_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "top_k": semconv.GEN_AI_REQUEST_TOP_K,
}


def _tool_definition(tool: Any) -> dict[str, Any]:
    """A client tool (no type, or ``custom``) is a function whose arguments' schema is
    ``input_schema``; a server tool (``web_search_20250305``...) keeps its type."""
    fields = fields_of(tool)
    kind = fields.get("type")
    return tool_definition(fields, "function" if kind in (None, "custom") else kind, "input_schema")


class AnthropicAdapter:
    provider = "anthropic"

    def operation(self, method: str, path: str) -> str | None:
        if method.lower() != "post":
            return None
        return "chat" if path.split("?", 1)[0].endswith("/v1/messages") else None

    def request_attributes(self, operation: str, body: Mapping[str, Any]) -> dict[str, AttributeValue]:
        attrs = scalar_attributes(body, _SCALARS)
        stop = body.get("stop_sequences")
        if isinstance(stop, list) and stop:
            attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(str(s) for s in stop)
        return attrs

    @staticmethod  # no bound method per call: the call record keeps it until the writer runs
    def request_params(body: Mapping[str, Any]) -> dict[str, Any]:
        params = sent_params(body, CONTENT_KEYS)
        if body.get("tools"):
            params["tool_names"] = [get(t, "name") for t in body["tools"]]
        return params

    def input_content(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        content: dict[str, Any] = {semconv.GEN_AI_INPUT_MESSAGES: [message(m) for m in body.get("messages") or []]}
        if body.get("system"):
            content[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = content_parts(body["system"])
        if body.get("tools"):
            content[semconv.GEN_AI_TOOL_DEFINITIONS] = [_tool_definition(t) for t in body["tools"]]
        return content

    read_response = staticmethod(read_response)
    output_messages = staticmethod(output_messages)

    def accumulator(self, operation: str) -> Accumulator:
        return AnthropicStreamAccumulator()
