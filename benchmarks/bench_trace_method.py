"""Cost of ``@trace_method`` with three small arguments against the same span written by hand.

Both run under one TracerProvider with llmtel's ProviderTraceProcessor and a
BatchSpanProcessor whose exporter discards, so only the request-path cost differs.
Rounds interleave the variants to share the machine's noise; medians are reported.

    python benchmarks/bench_trace_method.py
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from llmtel.instrumentation import trace_method
from llmtel.instrumentation.processor import ProviderTraceProcessor


class DiscardExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


provider = TracerProvider()
provider.add_span_processor(ProviderTraceProcessor())
provider.add_span_processor(BatchSpanProcessor(DiscardExporter(), max_queue_size=1 << 16))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("bench")


def bare(user: str, n: int, flag: bool) -> int:
    return n


@trace_method
def decorated(user: str, n: int, flag: bool) -> int:
    return n


def handwritten(user: str, n: int, flag: bool) -> int:
    with tracer.start_as_current_span("handwritten") as span:
        span.set_attributes({"parameter.user": user, "parameter.n": n, "parameter.flag": flag})
        return n


def handwritten_no_attributes(user: str, n: int, flag: bool) -> int:
    with tracer.start_as_current_span("handwritten"):
        return n


def per_call_us(func: Callable[[str, int, bool], int], calls: int) -> float:
    started = time.perf_counter()
    for i in range(calls):
        func("alice", i, True)
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    variants = {
        "bare function": bare,
        "hand-written span, 3 attributes": handwritten,
        "hand-written span, no attributes": handwritten_no_attributes,
        "@trace_method": decorated,
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    for func in variants.values():
        per_call_us(func, 2000)  # warm up
    for _ in range(args.rounds):
        for name, func in variants.items():
            results[name].append(per_call_us(func, args.calls))
    med = {name: statistics.median(v) for name, v in results.items()}
    base = med["hand-written span, 3 attributes"]
    print(f"{'variant':36} {'median µs/call':>15} {'vs hand-written':>16}")
    for name in variants:
        print(f"{name:36} {med[name]:15.2f} {med[name] / base:15.2f}x")
    provider.shutdown()


if __name__ == "__main__":
    main()
