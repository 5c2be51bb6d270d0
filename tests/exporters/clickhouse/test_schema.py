"""The store's schema: versioned, idempotent migrations and the cluster variant, on real chdb."""

from __future__ import annotations

from llmtel.exporters.clickhouse import schema
from llmtel.exporters.clickhouse.location import connect, parse_location
from llmtel.exporters.clickhouse.migrations import ADDED_TRACE_COLUMNS, MIGRATIONS_LIST
from llmtel.exporters.clickhouse.reader import TraceReader
from llmtel.exporters.clickhouse.rows import TRACE_COLUMNS, from_spool, to_spool, trace_row
from llmtel.instrumentation import llm_context
from llmtel.instrumentation.provider_trace import build
from llmtel.instrumentation.records import LLMCall
from tests.conftest import WriterFactory


def test_migrations_are_versioned_and_idempotent(store_url: str) -> None:
    location = parse_location(store_url)
    client = connect(location, database=False)
    layout = schema.Layout(location.database, ttl_days=30)
    try:
        assert schema.migrate(client, layout) == [m.version for m in MIGRATIONS_LIST]
        assert schema.migrate(client, layout) == []
        assert sorted(schema.applied_versions(client, layout)) == [m.version for m in MIGRATIONS_LIST]
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
            assert client.command(f"EXPLAIN AST {statement}")
            assert "ON CLUSTER `prod`" in statement
    finally:
        client.close()
    text = "\n".join(statements)
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/llmtel/llm_traces', '{replica}')" in text
    assert "ENGINE = Distributed(`prod`, `llmtel`, `llm_traces_local`, cityHash64(trace_id))" in text
    assert text.count("toDateTime(created_at) + INTERVAL 14 DAY") == 2


def test_a_store_created_at_version_1_takes_todays_rows(store_url: str, make_writer: WriterFactory) -> None:
    """An existing store is brought forward by ALTER, never by its frozen CREATE: what an older
    llmtel spooled, and what its readers see before any writer migrated, still line up."""
    location = parse_location(store_url)
    with llm_context(run_id="old-store", team="search"):
        old, new = (
            build(LLMCall(provider="openai", operation="chat", trace_id=7, span_id=n, start_ns=10**18, end_ns=10**18))
            for n in (1, 2)
        )
    client = connect(location, database=False)
    try:
        assert schema.migrate(client, schema.Layout(location.database), MIGRATIONS_LIST[:1]) == [1]
        v1_columns = [str(r[0]) for r in client.query(f"DESCRIBE TABLE {location.database}.llm_traces").result_rows]
        row = dict(zip(TRACE_COLUMNS, trace_row(old), strict=True))  # a row as a version-1 llmtel wrote it
        client.insert(f"{location.database}.llm_traces", [[row[c] for c in v1_columns]], column_names=v1_columns)
    finally:
        client.close()
    assert set(TRACE_COLUMNS[: len(v1_columns)]) == set(v1_columns)  # columns added since come last
    assert TRACE_COLUMNS[len(v1_columns) :] == tuple(ADDED_TRACE_COLUMNS)
    with TraceReader(store_url) as reader:  # before any writer migrated: new columns read as defaults
        (stored,) = reader.traces(limit=5).traces
    assert stored.run_id == "old-store" and stored.extra == {}
    old_spooled = to_spool("traces", trace_row(new))[: len(v1_columns)]
    assert from_spool("traces", old_spooled)[len(v1_columns) :] == [{}]  # what an older llmtel spooled lines up

    writer = make_writer(store_url)  # today's writer migrates the store on connect, then inserts
    assert writer.offer(new) and writer.flush(60)
    with TraceReader(store_url) as reader:
        stored_now = {t.span_id: t for t in reader.traces(limit=5).traces}
    assert stored_now[new.span_id].extra == {"team": "search"} and stored_now[old.span_id].extra == {}
    client = connect(location, database=False)
    try:
        assert sorted(schema.applied_versions(client, schema.Layout(location.database))) == [1, 2, 3]
    finally:
        client.close()
