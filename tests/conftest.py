"""Shared fixtures: one real OTel SDK TracerProvider/MeterProvider for the whole session
(OTel allows setting the global providers once), in-memory exporters reset per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

from llmtel.exporters.clickhouse.location import parse_location
from llmtel.exporters.clickhouse.writer import ClickHouseWriter
from llmtel.instrumentation import InMemorySink, Settings, active, budget
from llmtel.instrumentation.anthropic import AnthropicInstrumentor
from llmtel.instrumentation.openai import OpenAIInstrumentor
from llmtel.instrumentation.processor import ProviderTraceProcessor
from llmtel.loopback import ProviderServer
from tests.support.clickhouse_standin import ClickHouseStandIn, Faults
from tests.support.telemetry import InMemoryLogExporter, ProbeSampler, Telemetry

# An embedded store's owner process leaves after this long idle (120 s for apps): tests make many
# stores, and their owners (one engine each) should not outlive them by much.
os.environ.setdefault("LLMTEL_STORE_IDLE_S", "15")

sampler = ProbeSampler()
_exporter = InMemorySpanExporter()
_reader = InMemoryMetricReader()
_provider = TracerProvider(resource=Resource.create({"service.name": "llmtel-tests"}), sampler=sampler)
_provider.add_span_processor(ProviderTraceProcessor())
_provider.add_span_processor(SimpleSpanProcessor(_exporter))
trace.set_tracer_provider(_provider)
metrics.set_meter_provider(MeterProvider(metric_readers=[_reader]))
_log_exporter = InMemoryLogExporter()
_logger_provider = LoggerProvider()
_logger_provider.add_log_record_processor(SimpleLogRecordProcessor(_log_exporter))
_logs.set_logger_provider(_logger_provider)


@pytest.fixture
def tel() -> Iterator[Telemetry]:
    sink = InMemorySink()
    active.install(active.Setup(Settings(), payload_sink=sink, trace_sink=sink))
    budget.forget_offered()
    _exporter.clear()
    _log_exporter.clear()
    sampler.inner = ParentBased(ALWAYS_ON)
    sampler.seen.clear()
    yield Telemetry(_exporter, _reader, sink, _provider, sampler, _log_exporter)
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


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session's embedded store directory (its owner is a process of its own); tests keep
    apart by database."""
    return str(tmp_path_factory.mktemp("chdb") / "store")


@pytest.fixture
def store_url(chdb_path: str) -> str:
    """A fresh database in the session's embedded store."""
    return f"chdb://{chdb_path}?database=t_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseStandIn]:
    """The stand-in for a ClickHouse server (see tests/support/clickhouse_standin.py), on a
    directory of its own: the session's embedded store has its own owner process."""
    server = ClickHouseStandIn(str(tmp_path_factory.mktemp("standin") / "store"))
    yield server
    server.close()


@pytest.fixture
def server_url(standin: ClickHouseStandIn) -> Iterator[str]:
    standin.faults = Faults()
    yield standin.url(f"s_{uuid.uuid4().hex[:12]}")
    standin.faults = Faults()


WriterFactory = Callable[..., ClickHouseWriter]


@pytest.fixture
def make_writer(tmp_path: Path) -> Iterator[WriterFactory]:
    made: list[ClickHouseWriter] = []

    def make(url: str, **options: Any) -> ClickHouseWriter:
        options.setdefault("spool_dir", str(tmp_path / "spool"))
        options.setdefault("flush_interval", 0.05)
        writer = ClickHouseWriter(parse_location(url), **options)
        made.append(writer)
        return writer

    yield make
    for writer in made:
        writer.shutdown(10)
