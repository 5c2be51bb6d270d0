"""What a test reads its telemetry through: the spans, metrics and provider traces one test
produced (``Telemetry``), a sampler that remembers what it saw, and the SDKs uninstrumented."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, SamplingResult

from llmtel.instrumentation import InMemorySink, ProviderTrace, active
from llmtel.instrumentation.anthropic import AnthropicInstrumentor
from llmtel.instrumentation.openai import OpenAIInstrumentor

try:  # the SDK renamed it in 1.39 and deprecates the old name
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter as InMemoryLogExporter
except ImportError:  # the declared floor, 1.30
    from opentelemetry.sdk._logs.export import InMemoryLogExporter  # type: ignore[attr-defined,no-redef]


@dataclass
class Telemetry:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    sink: InMemorySink
    provider: TracerProvider
    sampler: ProbeSampler
    log_exporter: InMemoryLogExporter

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return found[0]

    def events(self) -> list[Any]:
        """The log records (GenAI events) emitted in this test, as the SDK recorded them."""
        return [finished.log_record for finished in self.log_exporter.get_finished_logs()]

    def traces(self) -> list[ProviderTrace]:
        return list(self.sink.traces)

    def metric_points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        points: list[Any] = []
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points

    def counter(self, name: str, **attrs: Any) -> int:
        return sum(p.value for p in self.metric_points(name) if all(p.attributes.get(k) == v for k, v in attrs.items()))

    def reset(self) -> None:
        """Forget spans and provider traces recorded so far in this test."""
        self.exporter.clear()
        self.log_exporter.clear()
        self.sink.traces.clear()

    def configure(self, **changes: Any) -> None:
        """Swap settings for this test (budgets, redaction...), keeping the in-memory sink."""
        settings = replace(active.setup.settings, **changes)
        active.install(active.Setup(settings, payload_sink=self.sink, trace_sink=self.sink))


class ProbeSampler(Sampler):
    """A real sampler that remembers the attributes each span had at sampling time and
    delegates the decision to ``inner`` (tests switch it to ALWAYS_OFF)."""

    def __init__(self) -> None:
        self.inner: Sampler = ParentBased(ALWAYS_ON)
        self.seen: dict[str, dict[str, Any]] = {}

    def should_sample(
        self,
        parent_context: Any,
        trace_id: int,
        name: str,
        kind: Any = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        self.seen[name] = dict(attributes or {})
        return self.inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return "ProbeSampler"


@contextmanager
def uninstrumented(pair: tuple[OpenAIInstrumentor, AnthropicInstrumentor]) -> Iterator[None]:
    """Run the SDKs as they are without llmtel, to compare what the app receives."""
    for instrumentor in pair:
        instrumentor.uninstrument()
    try:
        yield
    finally:
        for instrumentor in pair:
            instrumentor.instrument()
