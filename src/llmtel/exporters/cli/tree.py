"""``llmtel tree``: a run's or a trace's span tree from the store, with timings, each LLM call's
model, tokens and cost, and the spans' events inline, in 100 columns.

Spans come from otel_traces (LLMTEL_STORE_SPANS); LLM calls whose span is not there (not sampled,
or spans not stored) still show, from their provider-trace rows, under their parent when it is.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

from llmtel.exporters.cli.format import cell, num
from llmtel.instrumentation.records import ProviderTrace

WIDTH: Final = 100
NAME: Final = 44  # at most, for tree prefix and span name (narrower when every name is)
TIME: Final = 10  # the duration, right-aligned after the name
MODEL: Final = 22
_SKIP_EVENT_KEYS: Final = ("exception.stacktrace",)


@dataclass
class _Node:
    span_id: str
    name: str
    start_ns: int
    duration_ns: int
    error: str | None
    call: ProviderTrace | None = None
    events: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)


def _seconds(ns: int) -> str:
    return f"{ns / 1e9:.3f} s" if ns >= 1_000_000_000 else f"{ns / 1e6:.1f} ms"


def _nodes(spans: list[Any], calls: list[ProviderTrace]) -> list[_Node]:
    """The roots of one trace: spans by parent, calls on their spans (or as leaves of their own)."""
    by_id: dict[str, _Node] = {}
    parents: dict[str, str] = {}
    for span in spans:
        error = span.attributes.get("error.type") or (
            span.status_message or "error" if span.status == "Error" else None
        )
        node = _Node(span.span_id, span.name, span.start_ns, span.duration_ns, error)
        node.events = [(name, attrs) for _, name, attrs in span.events]
        by_id[span.span_id] = node
        parents[span.span_id] = span.parent_span_id
    for call in calls:
        if call.span_id not in by_id:  # a call whose span is not stored
            start = int(call.created_at.timestamp() * 1e9)
            name = f"{call.operation} {call.request_model or ''}".strip()
            by_id[call.span_id] = _Node(call.span_id, name, start, int(call.duration_ms * 1e6), None)
            parents[call.span_id] = call.parent_span_id or ""
        node = by_id[call.span_id]
        node.call = call
        if call.is_error:
            node.error = call.error_type or "error"
    roots: list[_Node] = []
    for span_id, node in by_id.items():
        parent = by_id.get(parents[span_id])
        (parent.children if parent is not None else roots).append(node)
    for node in by_id.values():
        node.children.sort(key=lambda n: n.start_ns)
    return sorted(roots, key=lambda n: n.start_ns)


def _call_text(call: ProviderTrace) -> str:
    model = cell(call.response_model or call.request_model or "-", MODEL)
    tokens = f"{num(call.input_tokens)}→{num(call.output_tokens)} tok"
    cost = "" if call.cost_usd is None else f"  ${call.cost_usd:.6f}"
    return f"{model}  {tokens}{cost}"


def _walk(node: _Node, lead: str, connector: str) -> Iterator[tuple[str, _Node | None, str]]:
    """(tree prefix and name, the node or None for an event line, the event's text), depth first."""
    yield lead + connector + node.name, node, ""
    below = lead + ("" if not connector else "│  " if connector == "├─ " else "   ")
    rail = below + ("│  " if node.children else "   ")
    for name, attrs in node.events:
        shown = " ".join(f"{k}={v}" for k, v in attrs.items() if k not in _SKIP_EVENT_KEYS)
        yield rail + "· ", None, f"{name} {shown}".rstrip()
    for i, child in enumerate(node.children):
        yield from _walk(child, below, "└─ " if i == len(node.children) - 1 else "├─ ")


def render(trace_id: str, spans: list[Any], calls: list[ProviderTrace]) -> list[str]:
    """The lines of one trace's tree, a header first, each at most WIDTH columns."""
    cost = sum(c.cost_usd or 0.0 for c in calls)
    runs = sorted({c.run_id for c in calls if c.run_id} | {s.attributes.get("llmtel.run_id", "") for s in spans} - {""})
    header = f"trace {trace_id}" + (f"  run {', '.join(runs)}" if runs else "")
    header += f"  {len(spans)} spans  {len(calls)} LLM calls" + (f"  ${cost:.6f}" if cost else "")
    out = [cell(header, WIDTH)]
    rows = [row for root in _nodes(spans, calls) for row in _walk(root, "", "")]
    name_width = min(NAME, max((len(text) for text, node, _ in rows if node is not None), default=0)) + 2
    for text, node, event in rows:
        if node is None:
            out.append(cell(text + event, WIDTH))
            continue
        details = "  " + _call_text(node.call) if node.call is not None else ""
        if node.error:
            details += f"  ✗ {node.error}"
        line = f"{cell(text, name_width - 2):<{name_width}}{_seconds(node.duration_ns):>{TIME}}{details}"
        out.append(cell(line, WIDTH))
    if not spans:
        out.append("(no spans stored for this trace: LLMTEL_STORE_SPANS is off, or they were not sampled)")
    return out


def cmd_tree(args: argparse.Namespace, out: TextIO) -> int:
    from llmtel.exporters.clickhouse.reader import TraceReader

    with TraceReader(args.url, org_id=args.org) as reader:
        trace_ids = reader.run_trace_ids(args.key, limit=args.limit)
        if not trace_ids:
            trace_ids = reader.trace_ids_starting(args.key)
            if len(trace_ids) > 1:
                sys.stderr.write(f"llmtel: {args.key!r} starts several trace ids: {', '.join(trace_ids)}…\n")
                return 1
        if not trace_ids:
            sys.stderr.write(f"llmtel: no run id, trace id or trace-id prefix {args.key!r} in the store\n")
            return 1
        spans = reader.spans(trace_ids)
        calls = reader.by_traces(trace_ids)
        for trace_id in trace_ids:
            mine = [s for s in spans if s.trace_id == trace_id]
            out.write("\n".join(render(trace_id, mine, calls.get(trace_id, []))) + "\n\n")
    return 0
