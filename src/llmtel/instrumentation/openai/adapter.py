"""What llmtel knows about the OpenAI API: routes, request attributes, responses (streams: stream.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.util.types import AttributeValue

from llmtel.instrumentation import semconv
from llmtel.instrumentation.adapter import Accumulator, scalar_attributes
from llmtel.instrumentation.message_parts import text_part
from llmtel.instrumentation.openai.messages import chat_message, response_items, tool_definitions
from llmtel.instrumentation.openai.response import output_messages, read_response
from llmtel.instrumentation.openai.stream import OpenAIStreamAccumulator
from llmtel.instrumentation.stainless.fields import get, sent_params

CONTENT_KEYS: Final = frozenset({"messages", "input", "instructions", "tools", "functions", "prompt"})
_SCALARS: Final = {
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "frequency_penalty": semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "seed": semconv.GEN_AI_REQUEST_SEED,
}
_OTHER_PARAMS: Final = frozenset(
    {"max_completion_tokens", "max_tokens", "max_output_tokens", "stop", "n", "response_format", "text"}
    | {"encoding_format", "dimensions", "service_tier"}
)


def _other_request_attributes(attrs: dict[str, AttributeValue], operation: str, body: Mapping[str, Any]) -> None:
    """The request attributes from parameters most calls leave out."""
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or body.get("max_output_tokens")
    if isinstance(max_tokens, int):
        attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    stop = body.get("stop")
    if isinstance(stop, str):
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = (stop,)
    elif isinstance(stop, list) and stop:
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(str(s) for s in stop)
    n = body.get("n")
    if isinstance(n, int) and n != 1:
        attrs[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = n
    fmt = get(body.get("response_format"), "type") or get(get(body.get("text"), "format"), "type")
    if fmt:
        attrs[semconv.GEN_AI_OUTPUT_TYPE] = "json" if str(fmt).startswith("json") else str(fmt)
    tier = body.get("service_tier")
    if isinstance(tier, str) and tier != "auto":  # the conventions leave out the default
        attrs[semconv.OPENAI_REQUEST_SERVICE_TIER] = tier
    if operation == "embeddings":
        encoding = body.get("encoding_format")
        if encoding:
            attrs[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = (str(encoding),)
        if isinstance(body.get("dimensions"), int):
            attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = body["dimensions"]


class OpenAIAdapter:
    provider = "openai"

    def operation(self, method: str, path: str) -> str | None:
        if method.lower() != "post":  # GET /chat/completions lists stored completions
            return None
        path = path.split("?", 1)[0]
        if path.endswith("/chat/completions"):
            return "chat"
        if path.endswith("/responses"):
            return "chat"
        if path.endswith("/embeddings"):
            return "embeddings"
        if path.endswith("/completions"):
            return "text_completion"
        return None

    def request_attributes(self, operation: str, body: Mapping[str, Any]) -> dict[str, AttributeValue]:
        attrs = scalar_attributes(body, _SCALARS)
        if operation == "chat":  # Chat Completions always sends messages, the Responses API never
            attrs[semconv.OPENAI_API_TYPE] = "chat_completions" if "messages" in body else "responses"
        if not _OTHER_PARAMS.isdisjoint(body):
            _other_request_attributes(attrs, operation, body)
        return attrs

    @staticmethod  # no bound method per call: the call record keeps it until the writer runs
    def request_params(body: Mapping[str, Any]) -> dict[str, Any]:
        params = sent_params(body, CONTENT_KEYS)
        tools = body.get("tools")
        if tools:
            params["tool_names"] = [get(get(t, "function"), "name") or get(t, "name") or get(t, "type") for t in tools]
        return params

    def input_content(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        content: dict[str, Any] = {}
        if "messages" in body:
            content[semconv.GEN_AI_INPUT_MESSAGES] = [chat_message(m) for m in body["messages"] or []]
        elif operation == "chat" and "input" in body:
            content[semconv.GEN_AI_INPUT_MESSAGES] = response_items(body["input"])
        elif operation == "text_completion" and "prompt" in body:
            prompt = body["prompt"]
            prompts = [prompt] if isinstance(prompt, str) else prompt if isinstance(prompt, list) else [str(prompt)]
            content[semconv.GEN_AI_INPUT_MESSAGES] = [{"role": "user", "parts": [text_part(p)]} for p in prompts]
        # an embeddings span has no input messages in the conventions: its input is in the row only
        if body.get("instructions"):
            content[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = [text_part(body["instructions"])]
        if body.get("tools"):
            content[semconv.GEN_AI_TOOL_DEFINITIONS] = tool_definitions(body["tools"])
        return content

    read_response = staticmethod(read_response)

    output_messages = staticmethod(output_messages)

    def accumulator(self, operation: str) -> Accumulator:
        return OpenAIStreamAccumulator()
