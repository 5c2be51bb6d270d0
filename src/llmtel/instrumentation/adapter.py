"""What a provider instrumentation must say about its API, so one call lifecycle serves all.

``llmtel.instrumentation.openai`` and ``.anthropic`` each define one :class:`Adapter`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from opentelemetry.util.types import AttributeValue

from llmtel.instrumentation.records import LLMCall
from llmtel.instrumentation.semconv import GEN_AI_REQUEST_MODEL
from llmtel.instrumentation.stainless.fields import fields_of
from llmtel.instrumentation.usage import Usage

# An output message's finish reason when the provider gave none (a stream that ended early, a
# response cut off): the output-message schema requires one, and the official instrumentations say this.
UNFINISHED: Final = "error"


def scalar_attributes(body: Mapping[str, Any], scalars: Mapping[str, str]) -> dict[str, AttributeValue]:
    """``gen_ai.request.model`` and the numeric parameters (``scalars``: key → attribute) the
    request sets; only keys present are visited (the SDKs fill the rest with placeholders)."""
    attrs: dict[str, AttributeValue] = {}
    model = body.get("model")
    if model:
        attrs[GEN_AI_REQUEST_MODEL] = str(model)
    for key in scalars.keys() & body.keys():
        value = body[key]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs[scalars[key]] = value
    return attrs


def read_ids_and_usage(call: LLMCall, data: Any, usage: Callable[[Any], Usage | None]) -> Mapping[str, Any]:
    """The fields every provider's response shares: id, model and usage (kept if absent).
    Returns the response's fields, for the provider's own reads."""
    fields = fields_of(data)
    call.response_id = fields.get("id") or call.response_id
    call.response_model = fields.get("model") or call.response_model
    call.usage = usage(fields.get("usage")) or call.usage
    return fields


class Accumulator(Protocol):
    """Assembles a streamed response from its events."""

    def add_all(self, events: list[Any]) -> None:
        """Events as the SDK yielded them, in order (a stream's events arrive in batches)."""

    def complete(self, call: LLMCall) -> None:
        """Fill ``call`` (response, usage, ids, finish reasons) from what arrived so far."""


class Adapter(Protocol):
    provider: str

    def operation(self, method: str, path: str) -> str | None:
        """The GenAI operation of a request, or None for one that generates nothing (listing,
        retrieving, deleting, counting tokens): only generation calls are LLM calls."""

    def request_attributes(self, operation: str, body: Mapping[str, Any]) -> dict[str, AttributeValue]:
        """``gen_ai.request.*`` attributes from the request body (set at span start)."""

    def request_params(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The request's parameters without content (messages, input, tools) for the record."""

    def input_content(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """GenAI content attributes (input messages, system instructions, tool definitions)."""

    def read_response(self, call: LLMCall, data: Any) -> None:
        """Fill ``call`` from a whole response (SDK model or decoded JSON)."""

    def output_messages(self, call: LLMCall, data: Any) -> list[dict[str, Any]]:
        """``gen_ai.output.messages`` from a whole or assembled response."""

    def accumulator(self, operation: str) -> Accumulator:
        """A fresh accumulator for one stream."""
