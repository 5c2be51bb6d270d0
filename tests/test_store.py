"""The ClickHouse store on real embedded ClickHouse (chdb): schema, writer, reader."""

from __future__ import annotations

import datetime
import gc
import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmtel.exporters.clickhouse import schema
from llmtel.exporters.clickhouse.location import connect, parse_location
from llmtel.exporters.clickhouse.reader import StoreEmpty, TraceReader
from llmtel.exporters.clickhouse.writer import ClickHouseWriter
from llmtel.instrumentation import llm_context, payloads, runtime
from llmtel.instrumentation.config import ConfigError, Settings

from .conftest import Telemetry
from .store.records import T0, bare_trace, full_trace

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


def test_every_field_round_trips(store_url: str, make_writer: WriterFactory) -> None:
    writer = make_writer(store_url)
    full, bare = full_trace(), bare_trace()
    assert writer.offer(full) and writer.offer(bare)
    assert writer.flush(30)
    with TraceReader(store_url) as reader:
        assert reader.get(full.id) == full
        assert reader.get(bare.id) == bare
        assert reader.by_trace(full.trace_id.upper()) == [full]


def test_queued_traces_wait_as_rows_the_garbage_collector_does_not_track(
    store_url: str, make_writer: WriterFactory
) -> None:
    writer = make_writer(store_url, flush_interval=60)  # no write while we look at the queue
    traces = [full_trace() for _ in range(ClickHouseWriter.prepare_every)]
    for trace in traces:
        assert writer.offer(trace)
    deadline = time.monotonic() + 10
    while not all(type(item) is tuple for item in list(writer._items)) and time.monotonic() < deadline:
        time.sleep(0.01)
    gc.collect()  # a collection stops tracking tuples of plain values: the tags and reasons first,
    gc.collect()  # then the rows that hold them (as a young row's next, generation-1 pass would)
    assert not [item for item in list(writer._items) if gc.is_tracked(item)]  # never promoted, never collected
    assert writer.flush(30)
    with TraceReader(store_url) as reader:
        assert [reader.get(trace.id) for trace in traces] == traces


def test_ten_megabyte_payloads_round_trip(store_url: str, make_writer: WriterFactory) -> None:
    writer = make_writer(store_url)
    big = '{"messages":[{"role":"user","content":"' + "ä" * (5 << 20) + '"}]}'  # 10 MiB of UTF-8
    trace = full_trace(request_json=big, request_bytes=len(big.encode()))
    data = big.encode()
    sha = hashlib.sha256(data).hexdigest()
    assert writer.offer(trace) and writer.offer_payload(sha, data)
    assert writer.flush(60)
    with TraceReader(store_url) as reader:
        stored = reader.get(trace.id)
        assert stored is not None and stored.request_json == big
        assert reader.payload(f"llmtel://llm_payloads/{sha}") == data


def test_identical_payloads_are_stored_once(store_url: str, make_writer: WriterFactory) -> None:
    writer = make_writer(store_url)
    data = b'{"tools":[{"name":"search","parameters":{"type":"object"}}]}'
    sha = hashlib.sha256(data).hexdigest()
    for _ in range(3):  # three batches, as three calls sending the same tool schema would
        assert writer.offer_payload(sha, data)
        assert writer.flush(30)
    assert writer.offer_payload(sha, data) and writer.offer_payload(sha, data)  # twice in one batch
    assert writer.flush(30)
    location = parse_location(store_url)
    client = connect(location)
    try:
        client.command(f"OPTIMIZE TABLE {schema.PAYLOADS} FINAL")
        assert client.query(f"SELECT count(), any(data) FROM {schema.PAYLOADS}").result_rows == [(1, data.decode())]
    finally:
        client.close()


def test_offloaded_span_values_land_in_the_store(store_url: str, make_writer: WriterFactory, tel: Telemetry) -> None:
    """A value too big for a span attribute is readable through the ref the span carries."""
    writer = make_writer(store_url)
    runtime.install(runtime.Runtime(Settings(), payload_sink=writer, trace_sink=writer))
    payloads.forget_offered()
    data = ('{"schema":"' + "s" * 9000 + '"}').encode()
    with llm_context(org_id="acme"):
        ref = payloads.offload(data)
    assert writer.flush(30)
    with TraceReader(store_url, org_id="acme") as reader:
        assert reader.payload(ref) == data
    with TraceReader(store_url, org_id="other") as reader:
        assert reader.payload(ref) is None  # another tenant cannot resolve it


def test_migrations_are_versioned_and_idempotent(store_url: str) -> None:
    location = parse_location(store_url)
    client = connect(location, database=False)
    layout = schema.Layout(location.database, ttl_days=30)
    try:
        assert schema.migrate(client, layout) == [schema.LATEST_VERSION]
        assert schema.migrate(client, layout) == []
        assert list(schema.applied_versions(client, layout)) == [1]
        ddl = client.command(f"SHOW CREATE TABLE {location.database}.{schema.TRACES}")
        assert "toIntervalDay(30)" in ddl and "CODEC(ZSTD(1))" in ddl and "LowCardinality(String)" in ddl
        assert "min_bytes_for_wide_part = 268435456" in ddl
        assert "bloom_filter" in ddl and "DateTime64(6, \\'UTC\\')" in ddl
        schema.migrate(client, schema.Layout(location.database, ttl_days=0))  # TTL follows the setting
        assert "TTL" not in client.command(f"SHOW CREATE TABLE {location.database}.{schema.TRACES}")
    finally:
        client.close()


def test_cluster_ddl_is_valid_clickhouse(store_url: str) -> None:
    statements = schema.cluster_ddl("llmtel", "prod", ttl_days=14)
    client = connect(parse_location(store_url), database=False)
    try:
        for statement in statements:  # the engine's own parser accepts each one
            formatted = client.query("SELECT formatQuery({q:String})", parameters={"q": statement}).result_rows[0][0]
            assert "ON CLUSTER prod" in formatted
    finally:
        client.close()
    text = "\n".join(statements)
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/llmtel/llm_traces', '{replica}')" in text
    assert "ENGINE = Distributed(`prod`, `llmtel`, `llm_traces_local`, cityHash64(trace_id))" in text
    assert text.count("toDateTime(created_at) + INTERVAL 14 DAY") == 2


@pytest.fixture
def filled(store_url: str, make_writer: WriterFactory) -> list[Any]:
    """Twenty-five traces over three agents, two models, one org apart."""
    writer = make_writer(store_url)
    traces = []
    for i in range(25):
        traces.append(
            full_trace(
                created_at=T0 + datetime.timedelta(minutes=i),
                agent_id=f"agent-{i % 3}",
                run_id=f"run-{i % 5}",
                org_id="acme" if i < 20 else "globex",
                response_model="big" if i % 2 else "small",
                is_error=i % 10 == 0,
                input_tokens=i,
                cost_usd=None if i == 24 else 0.5,
                duration_ms=float(i),
            )
        )
    for trace in traces:
        assert writer.offer(trace)
    assert writer.flush(30)
    return traces


def test_reader_filters_and_pages(store_url: str, filled: list[Any]) -> None:
    with TraceReader(store_url) as reader:
        assert reader.count() == 25
        assert {t.id for t in reader.traces(run_id="run-2", limit=100).traces} == {
            t.id for t in filled if t.run_id == "run-2"
        }
        assert len(reader.traces(agent_id="agent-0", model="small", limit=100).traces) == sum(
            1 for t in filled if t.agent_id == "agent-0" and t.response_model == "small"
        )
        assert [t.id for t in reader.traces(errors_only=True).traces] == [filled[20].id, filled[10].id, filled[0].id]
        since = reader.traces(since=T0 + datetime.timedelta(minutes=22), limit=100).traces
        assert [t.id for t in since] == [filled[24].id, filled[23].id, filled[22].id]
        seen, cursor, pages = [], None, 0
        while True:
            page = reader.traces(limit=7, cursor=cursor)
            seen += [t.id for t in page.traces]
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [t.id for t in reversed(filled)] and pages == 4


def test_usage_rollups(store_url: str, filled: list[Any]) -> None:
    with TraceReader(store_url) as reader:
        by_model = {row.key: row for row in reader.usage("model")}
        assert set(by_model) == {"big", "small"}
        assert by_model["big"].calls == 12 and by_model["big"].input_tokens == sum(range(1, 25, 2))
        assert by_model["small"].errors == 3
        assert by_model["small"].calls == 13  # the unpriced call (i=24) adds a call but no cost
        assert by_model["big"].cost_usd == by_model["small"].cost_usd == pytest.approx(0.5 * 12)
        by_day = reader.usage("day")
        assert [(r.key, r.calls) for r in by_day] == [("2026-03-14", 25)]
        with pytest.raises(ValueError, match="choose one of"):
            reader.usage("colour")


def test_org_scope_cannot_be_escaped(store_url: str, filled: list[Any]) -> None:
    with TraceReader(store_url, org_id="globex") as reader:
        assert reader.count() == 5
        assert {t.org_id for t in reader.traces(limit=100).traces} == {"globex"}
        assert reader.get(filled[0].id) is None  # acme's trace, asked for by id
        assert sum(r.calls for r in reader.usage("agent")) == 5
        assert reader.traces(run_id="x' OR 1=1 OR run_id='y", limit=100).traces == []
    with TraceReader(store_url, org_id="' OR 1=1 --") as reader:
        assert reader.count() == 0


def test_empty_and_bad_stores_say_so(store_url: str, tmp_path: Path) -> None:
    with pytest.raises(StoreEmpty, match="does not exist yet"):
        TraceReader(f"chdb://{tmp_path}/nothing-here")
    with TraceReader(store_url) as reader, pytest.raises(StoreEmpty, match="no llmtel tables yet"):
        reader.count()
    for bad, message in [
        ("http://", "no host"),
        ("http://h:port/db", "port is not a number"),
        ("http://h/db;drop", "must be letters, digits or _"),
        ("ftp://h/db", "not a ClickHouse URL"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_location(bad)
