"""Every finished span in the store's otel_traces, as the OpenTelemetry Collector's ClickHouse
exporter writes it: real SDK spans (trace_method, log_event, an OpenAI call over HTTP), real
embedded ClickHouse, and the trace query Grafana's ClickHouse datasource runs."""

from __future__ import annotations

import io
import json
from typing import Any

import openai
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from llmtel.exporters.cli import main
from llmtel.exporters.clickhouse.location import connect, parse_location
from llmtel.exporters.clickhouse.writer import ClickHouseWriter
from llmtel.instrumentation import active, llm_context, log_event, trace_method
from llmtel.loopback import ProviderServer
from llmtel.loopback import openai_replies as fx
from tests.conftest import WriterFactory
from tests.support.telemetry import Telemetry


def store_spans(tel: Telemetry, writer: ClickHouseWriter, **settings: Any) -> None:
    """The setup configure() installs for the embedded store: the writer takes spans too."""
    tel.configure(**settings)
    active.install(active.Setup(active.setup.settings, payload_sink=writer, trace_sink=writer, span_sink=writer))


def query(store_url: str, sql: str, **parameters: Any) -> list[tuple[Any, ...]]:
    location = parse_location(store_url)
    client = connect(location)
    try:
        return [tuple(row) for row in client.query(sql, parameters=parameters).result_rows]
    finally:
        client.close()


@trace_method(name="plan")
def plan(client: openai.OpenAI) -> str:
    log_event("plan.start", {"goal": "greet", "steps": 2})
    answer = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    return str(answer.choices[0].message.content)


def test_an_agent_step_is_one_trace_of_spans_in_otel_traces(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry, store_url: str, make_writer: WriterFactory
) -> None:
    writer = make_writer(store_url)
    store_spans(tel, writer)
    server.expect("/v1/chat/completions", fx.chat("Hello!"))
    with llm_context(run_id="run-1", agent_id="greeter"):
        assert plan(client) == "Hello!"
    assert writer.flush(30)
    sdk_spans = {f"{s.context.span_id:016x}": s for s in tel.spans()}
    rows = query(
        store_url,
        "SELECT SpanId, ParentSpanId, TraceId, SpanName, SpanKind, ServiceName, ScopeName, StatusCode,"
        " SpanAttributes, Duration, toUnixTimestamp64Nano(Timestamp), Events.Name, Events.Attributes,"
        " ResourceAttributes FROM otel_traces ORDER BY Timestamp",
    )
    assert {row[0] for row in rows} == set(sdk_spans)  # every span, once
    by_name = {row[3]: row for row in rows}
    step, call = by_name["plan"], by_name["chat gpt-4o-mini"]
    assert call[1] == step[0] and step[1] == ""  # the tree, as the SDK made it
    assert len({row[2] for row in rows}) == 1
    assert (step[4], call[4]) == ("Internal", "Client")
    assert (step[5], step[13]["service.name"]) == ("llmtel-tests", "llmtel-tests")
    assert call[6] == "llmtel.instrumentation.openai" and call[7] == "Unset"
    assert call[8]["gen_ai.request.model"] == "gpt-4o-mini"
    assert call[8]["gen_ai.usage.input_tokens"] == str(sdk_spans[call[0]].attributes["gen_ai.usage.input_tokens"])
    assert call[8]["llmtel.run_id"] == "run-1"
    assert json.loads(call[8]["gen_ai.response.finish_reasons"]) == ["stop"]  # arrays as JSON, as the collector
    sdk_step = sdk_spans[step[0]]
    assert step[9] == sdk_step.end_time - sdk_step.start_time and step[10] == sdk_step.start_time
    assert list(step[11]) == ["plan.start"]
    assert step[12][0]["steps"] == "2"


def test_an_error_span_keeps_its_status_and_exception_event(
    tel: Telemetry, store_url: str, make_writer: WriterFactory
) -> None:
    writer = make_writer(store_url)
    store_spans(tel, writer)

    @trace_method()
    def fails() -> None:
        raise ValueError("no luck")

    with pytest.raises(ValueError):
        fails()
    assert writer.flush(30)
    [(status, message, events, attributes)] = query(
        store_url, "SELECT StatusCode, StatusMessage, Events.Name, Events.Attributes FROM otel_traces"
    )
    assert (status, list(events)) == ("Error", ["exception"])
    assert "no luck" in message and attributes[0]["exception.type"] == "ValueError"


def test_a_foreign_spans_huge_attribute_is_cut_and_its_excess_counted(
    tel: Telemetry, store_url: str, make_writer: WriterFactory
) -> None:
    """An instrumentation without a budget (a whole prompt in an attribute) costs the store
    no more than a budgeted span: each value cut to LLMTEL_MAX_ATTRIBUTE_BYTES, the span's
    attributes to LLMTEL_MAX_SPAN_BYTES, what did not fit counted on the row."""
    writer = make_writer(store_url)
    store_spans(tel, writer, max_attribute_bytes=1024, max_span_bytes=4096)
    tracer = trace.get_tracer("someone.elses")
    with tracer.start_as_current_span("chat", attributes={f"big.{i}": "x" * 100_000 for i in range(10)}):
        pass
    assert writer.flush(30)
    [(attributes,)] = query(store_url, "SELECT SpanAttributes FROM otel_traces")
    kept = [k for k in attributes if k.startswith("big.")]
    assert 1 <= len(kept) <= 4
    assert all(len(attributes[k]) < 1100 and "llmtel" in attributes[k][1024:] for k in kept)
    assert int(attributes["llmtel.dropped_attributes"]) == 10 - len(kept)


def test_unsampled_spans_are_not_stored_and_calls_still_are(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry, store_url: str, make_writer: WriterFactory
) -> None:
    """The store holds the spans the sampler kept, as a collector would; the LLM call's row is
    there regardless (LLMTEL_RECORD_UNSAMPLED)."""
    writer = make_writer(store_url)
    store_spans(tel, writer)
    tel.sampler.inner = ALWAYS_OFF
    server.expect("/v1/chat/completions", fx.chat("Hello!"))
    assert plan(client) == "Hello!"
    assert writer.flush(30)
    assert query(store_url, "SELECT count() FROM otel_traces") == [(0,)]
    assert query(store_url, "SELECT count() FROM llm_traces") == [(1,)]


def test_grafana_finds_the_trace_with_its_datasource_trace_query(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry, store_url: str, make_writer: WriterFactory
) -> None:
    """The trace view of Grafana's ClickHouse datasource (OTel mode) looks a trace's time range up
    in otel_traces_trace_id_ts, then reads its spans, tags and logs from otel_traces."""
    writer = make_writer(store_url)
    store_spans(tel, writer)
    server.expect("/v1/chat/completions", fx.chat("Hello!"))
    plan(client)
    assert writer.flush(30)
    trace_id = f"{tel.spans()[0].context.trace_id:032x}"
    rows = query(
        store_url,
        """
        WITH {trace_id:String} AS trace_id,
             (SELECT min(Start) FROM otel_traces_trace_id_ts WHERE TraceId = trace_id) AS trace_start,
             (SELECT max(End) + 1 FROM otel_traces_trace_id_ts WHERE TraceId = trace_id) AS trace_end
        SELECT TraceId AS traceID, SpanId AS spanID, ParentSpanId AS parentSpanID, ServiceName AS serviceName,
               SpanName AS operationName, ScopeName AS instrumentationLibraryName,
               multiply(toUnixTimestamp64Nano(Timestamp), 0.000001) AS startTime,
               multiply(Duration, 0.000001) AS duration,
               arrayMap(key -> map('key', key, 'value', SpanAttributes[key]), mapKeys(SpanAttributes)) AS tags,
               if(StatusCode IN ('Error', 'STATUS_CODE_ERROR'), 2, 0) AS statusCode,
               arrayMap((name, timestamp, attributes) -> tuple(name, toString(toUnixTimestamp64Milli(timestamp)),
                        arrayMap(key -> map('key', key, 'value', attributes[key]), mapKeys(attributes))),
                        Events.Name, Events.Timestamp, Events.Attributes) AS logs
        FROM otel_traces
        WHERE traceID = trace_id AND Timestamp >= trace_start AND Timestamp <= trace_end
        """,
        trace_id=trace_id,
    )
    assert sorted(row[4] for row in rows) == ["chat gpt-4o-mini", "plan"]
    step = next(row for row in rows if row[4] == "plan")
    assert step[10][0][0] == "plan.start"
    call = next(row for row in rows if row[4] == "chat gpt-4o-mini")
    assert {"key": "gen_ai.provider.name", "value": "openai"} in call[8]


def tree(store_url: str, key: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--url", store_url, "tree", key], out=out)
    return code, out.getvalue()


def test_llmtel_tree_by_run_trace_id_and_prefix(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry, store_url: str, make_writer: WriterFactory
) -> None:
    writer = make_writer(store_url)
    store_spans(tel, writer)
    server.expect("/v1/chat/completions", fx.chat("Hello!"))
    with llm_context(run_id="tree-run"):
        plan(client)
    assert writer.flush(30)
    trace_id = f"{tel.spans()[0].context.trace_id:032x}"
    code, by_run = tree(store_url, "tree-run")
    assert code == 0
    header, step, event, call = by_run.splitlines()[:4]
    assert header.startswith(f"trace {trace_id}  run tree-run  2 spans  1 LLM calls")
    assert step.startswith("plan ") and event.startswith("│  · plan.start goal=greet steps=2")
    assert call.startswith("└─ chat gpt-4o-mini ") and " tok" in call
    assert tree(store_url, trace_id) == (0, by_run)
    assert tree(store_url, trace_id[:6]) == (0, by_run)  # a unique prefix is enough
    assert tree(store_url, "no-such-run")[0] == 1


def test_llmtel_tree_shows_calls_when_spans_are_not_stored(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry, store_url: str, make_writer: WriterFactory
) -> None:
    writer = make_writer(store_url)
    tel.configure()
    active.install(active.Setup(active.setup.settings, payload_sink=writer, trace_sink=writer))  # no span sink
    server.expect("/v1/chat/completions", fx.chat("Hello!"))
    with llm_context(run_id="calls-only"):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert writer.flush(30)
    code, out = tree(store_url, "calls-only")
    lines = out.splitlines()
    assert code == 0 and "0 spans  1 LLM calls" in lines[0]
    assert lines[1].startswith("chat gpt-4o-mini ") and "gpt-4o-mini" in lines[1][20:]
    assert lines[2].startswith("(no spans stored for this trace")
