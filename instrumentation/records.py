"""The provider trace: one denormalised row per LLM call, linked to its span by ids."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple


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
    request_json: str = ""
    response_json: str = ""
    request_bytes: int = 0
    response_bytes: int = 0
    request_params_json: str = "{}"

    def approx_bytes(self) -> int:
        """Memory this record holds, for byte-bounded queues."""
        return 512 + len(self.request_json) + len(self.response_json) + len(self.request_params_json)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class PendingTrace:
    """A provider trace that a background sink builds on its own thread, so the request path
    only enqueues the finished span. ``build`` returns None when building failed (counted)."""

    builder: Callable[[Any, Any], ProviderTrace | None]  # (span, call) → the record
    span: Any
    call: Any
    size: int

    def approx_bytes(self) -> int:
        return self.size

    def build(self) -> ProviderTrace | None:
        return self.builder(self.span, self.call)


class Payload(NamedTuple):
    """An offloaded value a sink stores under its sha256 (per org)."""

    sha256: str
    data: bytes
    org_id: str | None


def split(batch: Iterable[ProviderTrace | PendingTrace | Payload]) -> tuple[list[ProviderTrace], list[Payload]]:
    """A sink's batch as its traces, pending ones built now (on the sink's thread), and its
    payloads. Items are queued as they are, not tagged: one object less per call to collect."""
    traces: list[ProviderTrace] = []
    payloads: list[Payload] = []
    for item in batch:
        if isinstance(item, Payload):
            payloads.append(item)
            continue
        trace = item.build() if isinstance(item, PendingTrace) else item
        if trace is not None:
            traces.append(trace)
    return traces, payloads
