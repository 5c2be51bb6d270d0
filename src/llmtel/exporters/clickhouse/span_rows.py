"""Finished spans as ``otel_traces`` rows, the OpenTelemetry Collector ClickHouse exporter's
schema (its current column set and value forms), so Grafana's ClickHouse datasource and a team's
collector-fed tables read them the same way.

A row is built on the writer thread from the SDK's ``ReadableSpan``; its values are plain
(text, ints, tuples), so it spools as JSON unchanged. Attribute values are text as the
collector writes them (``AsString``: arrays as JSON); each is cut to LLMTEL_MAX_ATTRIBUTE_BYTES,
and a span's attributes and events together to LLMTEL_MAX_SPAN_BYTES (what is left out is
counted on the row as ``llmtel.dropped_attributes``): a foreign instrumentation's unbudgeted
span costs the store what a budgeted one does.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from opentelemetry.sdk.trace import ReadableSpan

from llmtel.instrumentation.encoding import cut_marker
from llmtel.instrumentation.selftelemetry import attributes_dropped
from llmtel.instrumentation.semconv import LLMTEL_DROPPED_ATTRIBUTES

SPAN_COLUMNS: Final = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "TraceState",
    "SpanName",
    "SpanKind",
    "ServiceName",
    "ResourceAttributes",
    "ScopeName",
    "ScopeVersion",
    "SpanAttributes",
    "Duration",
    "StatusCode",
    "StatusMessage",
    "Events.Timestamp",
    "Events.Name",
    "Events.Attributes",
    "Links.TraceId",
    "Links.SpanId",
    "Links.TraceState",
    "Links.Attributes",
)
_MAPS: Final = tuple(SPAN_COLUMNS.index(c) for c in ("ResourceAttributes", "SpanAttributes"))
_MAP_LISTS: Final = tuple(SPAN_COLUMNS.index(c) for c in ("Events.Attributes", "Links.Attributes"))
# SpanKind and StatusCode as pdata's String() gives them, which the exporter writes
_KINDS: Final = ("Internal", "Server", "Client", "Producer", "Consumer")
_STATUS: Final = ("Unset", "Ok", "Error")
# What the request path charges the queue for a span before its row exists: a fixed part
# for ids, names and resource, plus each attribute's key and text (other values: 16).
BASE_COST: Final = 512


class SpanRow(tuple[Any, ...]):
    """An ``otel_traces`` row, told apart from llm_traces rows in a writer's batch."""

    __slots__ = ()


def cost(span: ReadableSpan) -> int:
    """The queue charge of one span: cheap, from its attribute and event counts and text sizes."""
    size = BASE_COST + 64 * len(span.events)
    for key, value in (span.attributes or {}).items():
        size += len(key) + (len(value) if isinstance(value, str) else 16)
    return size


def _text(value: Any) -> str:
    """An attribute value as the collector writes it: text as is, bools lowercase, arrays as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return json.dumps(list(value), default=str, ensure_ascii=False)
    return str(value)


class _Budget:
    """The bytes one span's attributes and events may still take in its row."""

    __slots__ = ("dropped", "per_value", "remaining")

    def __init__(self, per_value: int, total: int) -> None:
        self.per_value = per_value
        self.remaining = total
        self.dropped = 0

    def flat(self, attributes: Mapping[str, Any] | None) -> tuple[str, ...]:
        """``attributes`` as key, text, key, text ... within the budget."""
        out: list[str] = []
        for key, value in (attributes or {}).items():
            text = _text(value)
            if len(text) > self.per_value:
                text = text[: self.per_value] + cut_marker(len(text) - self.per_value)
            cost = len(key) + len(text)
            if cost > self.remaining:
                self.dropped += 1
                continue
            self.remaining -= cost
            out += (key, text)
        return tuple(out)


def span_row(span: ReadableSpan, max_value: int, max_bytes: int) -> SpanRow:
    """One ``otel_traces`` row (times in ns; maps flat, as ``for_insert`` takes them)."""
    ctx = span.context
    parent = span.parent
    start = span.start_time or 0
    budget = _Budget(max_value, max_bytes)
    attributes = budget.flat(span.attributes)
    events = span.events
    event_attributes = tuple(budget.flat(e.attributes) for e in events)
    if budget.dropped:
        attributes += (LLMTEL_DROPPED_ATTRIBUTES, str(budget.dropped))
        attributes_dropped.add(budget.dropped)
    service, resource = _resource(span)
    scope = span.instrumentation_scope
    links = span.links
    kind = span.kind.value if span.kind is not None else 0
    return SpanRow(
        (
            start,
            f"{ctx.trace_id:032x}" if ctx is not None else "",
            f"{ctx.span_id:016x}" if ctx is not None else "",
            f"{parent.span_id:016x}" if parent is not None else "",
            ctx.trace_state.to_header() if ctx is not None else "",
            span.name,
            _KINDS[kind] if 0 <= kind < len(_KINDS) else "Unspecified",
            service,
            resource,
            scope.name if scope is not None else "",
            (scope.version or "") if scope is not None else "",
            attributes,
            max(0, (span.end_time or start) - start),
            _STATUS[span.status.status_code.value],
            span.status.description or "",
            tuple(e.timestamp for e in events),
            tuple(e.name for e in events),
            event_attributes,
            tuple(f"{link.context.trace_id:032x}" for link in links),
            tuple(f"{link.context.span_id:016x}" for link in links),
            tuple(link.context.trace_state.to_header() for link in links),
            tuple(budget.flat(link.attributes) for link in links),
        )
    )


_resources: dict[int, tuple[Any, str, tuple[str, ...]]] = {}  # id → (resource, service, flat attributes)


def _resource(span: ReadableSpan) -> tuple[str, tuple[str, ...]]:
    """The span's service name and resource attributes, converted once per resource (a process has
    one or a few, shared by all its spans)."""
    resource = span.resource
    if resource is None:
        return "", ()
    found = _resources.get(id(resource))
    if found is None or found[0] is not resource:
        if len(_resources) > 64:
            _resources.clear()
        attributes = resource.attributes
        flat = tuple(itertools.chain.from_iterable((k, _text(v)) for k, v in attributes.items()))
        found = _resources[id(resource)] = (resource, str(attributes.get("service.name", "")), flat)
    return found[1], found[2]


def _as_map(flat: Sequence[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def span_for_insert(row: Sequence[Any]) -> list[Any]:
    """A row as the client takes it: each Map value a dict."""
    values = list(row)
    for index in _MAPS:
        values[index] = _as_map(row[index])
    for index in _MAP_LISTS:
        values[index] = [_as_map(flat) for flat in row[index]]
    return values


def span_key(row: Sequence[Any]) -> str:
    """What identifies a span in a batch token: its trace and span ids."""
    return f"{row[1]}/{row[2]}"
