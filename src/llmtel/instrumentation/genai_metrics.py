"""GenAI client metrics with the semantic conventions' advised bucket boundaries, recorded
when a metric reader collects rather than on the request path.

Three histogram records cost an LLM call more than its span does (the SDK hashes the
attributes and updates every reader's storage each time). A call only appends its
measurements to a bounded queue; an observable instrument's callback, which the SDK runs
at the start of every collection (periodic export, ``force_flush``, shutdown), records
them into the histograms, so each collection still holds every call before it, with
exemplars pointing at the call's span. The callback itself reports nothing.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterable
from typing import Final

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context
from opentelemetry.util.types import AttributeValue

from llmtel import __version__
from llmtel.instrumentation import semconv

TOKEN_BUCKETS: Final = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
SECONDS_BUCKETS: Final = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
# Calls waiting for a collection (about 1 KB each: numbers, attributes, the span's ids). A
# minute between exports holds 16k calls at 270 calls/s. Past this (a busier process, or no
# reader that collects) a call records its own measurements at once: memory stays bounded
# and nothing is lost.
MAX_WAITING: Final = 16384

AttributePairs = tuple[tuple[str, AttributeValue], ...]  # a metric attribute set, shared by calls
# (duration s, time to first chunk s | None, input tokens | None, output tokens | None, attributes,
# trace id, span id, trace flags: the call's span for exemplars). Only plain values, so the garbage
# collector stops tracking the tuple at its first pass: calls that wait a minute for the next
# export are never promoted to its oldest generation, and never bring on a full collection.
Measurements = tuple[float, float | None, int | None, int | None, AttributePairs, int, int, int]


class GenAIMetrics:
    """The GenAI client instruments on one meter provider (the global one unless an
    instrumentor is given its own) and the calls waiting for that provider's next collection."""

    def __init__(self, scope: str, meter_provider: MeterProvider | None = None) -> None:
        meter = metrics.get_meter(scope, __version__, meter_provider=meter_provider, schema_url=semconv.SCHEMA_URL)
        self.token_usage = meter.create_histogram(
            semconv.METRIC_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.operation_duration = meter.create_histogram(
            semconv.METRIC_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
        )
        self.time_to_first_chunk = meter.create_histogram(
            semconv.METRIC_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time from the request until the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
        )
        self.waiting: deque[Measurements] = deque()
        meter.create_observable_gauge(
            "llmtel.genai.record_waiting",
            callbacks=[self.record_waiting],
            description="Never reports: its callback records queued GenAI measurements at collection",
        )

    def record_call(self, measurements: Measurements) -> None:
        """Queue one call's measurements for the next collection (append only: GIL-atomic)."""
        if len(self.waiting) < MAX_WAITING:
            self.waiting.append(measurements)
        else:
            self._record(measurements)

    def _record(self, measurements: Measurements) -> None:
        duration, ttfc, input_tokens, output_tokens, pairs, trace_id, span_id, flags = measurements
        span_context = SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(flags))
        ctx = set_span_in_context(NonRecordingSpan(span_context))  # built here, off the request path
        # Each instrument gets a dict of its own, never changed after: some SDKs keep the
        # dict they are given as the point's attributes (1.30 does), so a later pop would change it.
        self.operation_duration.record(duration, dict(pairs), context=ctx)
        if ttfc is not None:
            attrs = {k: v for k, v in pairs if k not in semconv.NOT_ON_FIRST_CHUNK}
            self.time_to_first_chunk.record(ttfc, attrs, context=ctx)
        if input_tokens is None and output_tokens is None:
            return
        # gen_ai.client.token.usage does not define error.type
        usage = {k: v for k, v in pairs if k != semconv.ERROR_TYPE}
        if input_tokens is not None:
            self.token_usage.record(input_tokens, {**usage, semconv.GEN_AI_TOKEN_TYPE: "input"}, context=ctx)
        if output_tokens is not None:
            self.token_usage.record(output_tokens, {**usage, semconv.GEN_AI_TOKEN_TYPE: "output"}, context=ctx)

    def record_waiting(self, options: CallbackOptions | None = None) -> Iterable[Observation]:
        """Record every queued call now; runs first in each collection, before storage is read."""
        while True:
            try:
                measurements = self.waiting.popleft()
            except IndexError:
                return []
            self._record(measurements)


_all: dict[tuple[str, object], GenAIMetrics] = {}
_creating = threading.Lock()


def metrics_for(scope: str, meter_provider: MeterProvider | None = None) -> GenAIMetrics:
    """The instruments of ``scope`` on ``meter_provider`` (None: the global one), made once: an
    instrumentor instrumented again reuses them rather than registering its callback twice."""
    key = (scope, meter_provider)
    with _creating:
        found = _all.get(key)
        if found is None:
            found = _all[key] = GenAIMetrics(scope, meter_provider)
        return found


def _forget_parents_calls() -> None:
    for instance in list(_all.values()):
        instance.waiting.clear()  # the parent's calls are the parent's to report


os.register_at_fork(after_in_child=_forget_parents_calls)
