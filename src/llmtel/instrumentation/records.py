"""What a sink receives and what it stores: an :class:`LLMCall` as observed, the
:class:`ProviderTrace` row built from it (see ``provider_trace.build``), and offloaded
:class:`Payload` values.

An LLMCall carries everything its row needs, ids and times included, so a row never depends
on the span: an unsampled call (whose span is never exported) is still one row.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from llmtel.instrumentation.context import LLMContext, current
from llmtel.instrumentation.encoding import EncodedJSON, encode_bytes
from llmtel.instrumentation.usage import Usage


@dataclass(slots=True)
class LLMCall:
    """One provider call: what it sent and received, with its span's ids and its times.
    ``request``/``response`` may be raw JSON bytes (straight from the SDK's HTTP layer, not
    re-serialised) or Python values; both are turned into text on the sink's thread."""

    provider: str
    operation: str
    request_model: str | None = None
    is_stream: bool = False
    request: Any = None
    request_params: Mapping[str, Any] = field(default_factory=dict)
    # When set, ``request_params`` is the body as sent and this picks the parameters from it
    # where the record is built (the writer thread), not on the request path.
    params_of: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    response: Any = None
    usage: Usage | None = None
    response_id: Any = None  # as the provider sent it: the row keeps a string, or null
    response_model: Any = None
    finish_reasons: Sequence[Any] = ()  # a tuple: it is also the span attribute, not a copy
    # The provider's own response attributes (``openai.response.*``): on the span and the
    # duration metric, not in the row (its response holds them). Pairs: part of a metric set's key.
    response_attributes: tuple[tuple[str, str], ...] = ()
    first_chunk_ns: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    incomplete: bool = False
    context: LLMContext | None = field(default_factory=current)  # the llm_context where the call began
    trace_id: int = 0
    span_id: int = 0
    parent_span_id: int | None = None
    start_ns: int = 0
    end_ns: int = 0
    is_error: bool = False
    service_name: str | None = None
    # Set when a body was too big to queue whole: {"request"/"response": (bytes, sha256)}.
    cut: dict[str, tuple[int, str]] | None = None

    def approx_bytes(self) -> int:
        """Memory this call holds until its row is built: its raw request and response, mostly."""
        size = 1024
        for value in (self.request, self.response):
            if isinstance(value, (bytes, bytearray, str)):
                size += len(value)
        return size


@dataclass(slots=True)
class ProviderTrace:
    """Everything about one provider call. ``None`` token counts were not reported."""

    id: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    created_at: datetime.datetime
    duration_ms: float
    provider: str
    operation: str
    time_to_first_token_ms: float | None = None
    org_id: str | None = None
    user_id: str | None = None
    agent_id: str | None = None
    agent_tags: list[str] = field(default_factory=list)
    run_id: str | None = None
    step_id: str | None = None
    call_type: str | None = None
    service_name: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    response_id: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    is_stream: bool = False
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_write_input_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    is_error: bool = False
    error_type: str | None = None
    error_message: str | None = None
    # JSON text; bytes only in rows the ClickHouse writer builds (``build(call, wire=True)``): an
    # ASCII body as it came off the wire, stored without a decoded copy.
    request_json: str | bytes = ""
    response_json: str | bytes = ""
    request_bytes: int = 0
    response_bytes: int = 0
    request_params_json: str = "{}"
    extra: dict[str, str] = field(default_factory=dict)  # llm_context(**extra); new columns go last

    def approx_bytes(self) -> int:
        """Memory this row holds, for byte-bounded queues."""
        return 512 + len(self.request_json) + len(self.response_json) + len(self.request_params_json)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Record = LLMCall | ProviderTrace
"""What a TraceSink takes: a call as observed (built into its row on the sink's thread), or
a row built elsewhere (an import, a test), stored as it is."""


class LateJSON:
    """A value too big to encode on the request path: the sink's thread turns it into its JSON
    bytes (:meth:`data`). ``len()`` is a lower bound of their size, for the queue's byte bound."""

    __slots__ = ("floor", "value")

    def __init__(self, value: Any, floor: int) -> None:
        self.value = value
        self.floor = floor

    def __len__(self) -> int:
        return self.floor

    def data(self) -> bytes:
        return encode_bytes(self.value)


class Payload(NamedTuple):
    """An offloaded value a sink stores under its key (per org): the sha256 of its bytes, or for a
    :class:`LateJSON` a random key (see budget.offload_late)."""

    sha256: str
    data: bytes | LateJSON
    org_id: str | None

    def encoded(self) -> bytes:
        """The payload's bytes: a LateJSON is encoded now (call it on the sink's thread)."""
        data = self.data
        return data if isinstance(data, bytes) else data.data()

    def stored(self) -> bytes | EncodedJSON:
        """The payload as a store writes it: a LateJSON encoded now, in pieces (EncodedJSON)."""
        data = self.data
        return data if isinstance(data, bytes) else EncodedJSON(data.value)
