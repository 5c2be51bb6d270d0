"""Shared fixtures: one real OTel SDK TracerProvider/MeterProvider for the whole session
(OTel allows setting the global providers once), in-memory exporters reset per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, SamplingResult

from llmtel.instrumentation import InMemorySink, ProviderTrace, Settings, payloads, runtime
from llmtel.instrumentation.anthropic import AnthropicInstrumentor
from llmtel.instrumentation.openai import OpenAIInstrumentor
from llmtel.instrumentation.processor import ProviderTraceProcessor

from .providers import ProviderServer
from .store.standin import ClickHouseStandIn, Faults


@dataclass
class Telemetry:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    sink: InMemorySink
    provider: TracerProvider
    sampler: ProbeSampler

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return found[0]

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
        self.sink.traces.clear()

    def configure(self, **changes: Any) -> None:
        """Swap settings for this test (budgets, redaction...), keeping the in-memory sink."""
        settings = replace(runtime.active.settings, **changes)
        runtime.install(runtime.Runtime(settings, payload_sink=self.sink, trace_sink=self.sink))


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


sampler = ProbeSampler()
_exporter = InMemorySpanExporter()
_reader = InMemoryMetricReader()
_provider = TracerProvider(resource=Resource.create({"service.name": "llmtel-tests"}), sampler=sampler)
_provider.add_span_processor(ProviderTraceProcessor())
_provider.add_span_processor(SimpleSpanProcessor(_exporter))
trace.set_tracer_provider(_provider)
metrics.set_meter_provider(MeterProvider(metric_readers=[_reader]))


@pytest.fixture
def tel() -> Iterator[Telemetry]:
    sink = InMemorySink()
    runtime.install(runtime.Runtime(Settings(), payload_sink=sink, trace_sink=sink))
    payloads.forget_offered()
    _exporter.clear()
    sampler.inner = ParentBased(ALWAYS_ON)
    sampler.seen.clear()
    yield Telemetry(_exporter, _reader, sink, _provider, sampler)
    sampler.inner = ParentBased(ALWAYS_ON)
    _exporter.clear()


@pytest.fixture(scope="session")
def provider_server() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


@pytest.fixture(scope="session")
def instrumentors() -> Iterator[tuple[OpenAIInstrumentor, AnthropicInstrumentor]]:
    pair = (OpenAIInstrumentor(), AnthropicInstrumentor())
    for instrumentor in pair:
        instrumentor.instrument()
    yield pair
    for instrumentor in pair:
        instrumentor.uninstrument()


@pytest.fixture
def server(provider_server: ProviderServer, instrumentors: Any, tel: Telemetry) -> Iterator[ProviderServer]:
    """The loopback provider with both SDKs instrumented and telemetry reset."""
    provider_server.reset()
    yield provider_server
    provider_server.reset()


@pytest.fixture
def client(server: ProviderServer) -> Any:
    """A real OpenAI client pointed at the loopback provider (no retries: one request a call)."""
    import openai

    return openai.OpenAI(base_url=server.url + "/v1", api_key="sk-proj-SECRET", max_retries=0)


@pytest.fixture
def aclient(server: ProviderServer) -> Any:
    import openai

    return openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="sk-proj-SECRET", max_retries=0)


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


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The one embedded ClickHouse directory this test process uses (chdb hosts one per process);
    tests keep apart by database."""
    return str(tmp_path_factory.mktemp("chdb") / "store")


@pytest.fixture
def store_url(chdb_path: str) -> str:
    """A fresh database in the session's embedded store."""
    return f"chdb://{chdb_path}?database=t_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def standin(chdb_path: str) -> Iterator[ClickHouseStandIn]:
    """The stand-in for a ClickHouse server (see tests/store/standin.py)."""
    server = ClickHouseStandIn(chdb_path)
    yield server
    server.close()


@pytest.fixture
def server_url(standin: ClickHouseStandIn) -> Iterator[str]:
    standin.faults = Faults()
    yield standin.url(f"s_{uuid.uuid4().hex[:12]}")
    standin.faults = Faults()
