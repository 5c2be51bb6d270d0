"""Every version of the store's schema, frozen: a store created at any version reaches the latest
by running the versions it has not recorded (in ``llmtel_migrations``).

Never edit a released version: stores created with it have exactly its tables. A new column is
a new version whose statements are ``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` (``add_columns``),
with the column appended to ``ProviderTrace`` last, so rows spooled by an older llmtel still line up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from llmtel.exporters.clickhouse.ddl import (
    COMPACT,
    DEDUP,
    PAYLOADS,
    SPANS,
    SPANS_BY_TRACE,
    TRACES,
    Layout,
    create_table,
    distributed,
    quote,
    ttl_clause,
)

# -- version 1 ------------------------------------------------------------------------
# ORDER BY (org_id, created_at, id): every reader query is scoped to one org and nearly all
# of them ask for a time range newest-first (recent traces, tail, usage per day), so the
# primary index prunes by org and time. Point lookups (id, trace_id, run_id, step_id,
# agent_id) use bloom-filter skip indexes; the ids of one run arrive close together in time,
# so few granules match. Partitions are monthly so a TTL drops whole parts.
# ReplacingMergeTree: a batch retried after a lost reply (async inserts on a server do not
# honour deduplication tokens on non-replicated tables) folds into one row per id; the
# reader queries with FINAL, so nobody sees the copy before the merge.
V1_TRACES_COLUMNS: Final = """
    id String,
    trace_id String,
    span_id String,
    parent_span_id Nullable(String),
    created_at DateTime64(6, 'UTC'),
    duration_ms Float64,
    time_to_first_token_ms Nullable(Float64),
    org_id String DEFAULT '',
    user_id Nullable(String),
    agent_id Nullable(String),
    agent_tags Array(LowCardinality(String)),
    run_id Nullable(String),
    step_id Nullable(String),
    call_type LowCardinality(Nullable(String)),
    service_name LowCardinality(Nullable(String)),
    provider LowCardinality(String),
    operation LowCardinality(String),
    request_model LowCardinality(Nullable(String)),
    response_model LowCardinality(Nullable(String)),
    response_id Nullable(String),
    finish_reasons Array(LowCardinality(String)),
    is_stream Bool,
    input_tokens Nullable(UInt64),
    output_tokens Nullable(UInt64),
    total_tokens Nullable(UInt64),
    cache_read_input_tokens Nullable(UInt64),
    cache_write_input_tokens Nullable(UInt64),
    reasoning_tokens Nullable(UInt64),
    cost_usd Nullable(Float64),
    is_error Bool,
    error_type LowCardinality(Nullable(String)),
    error_message Nullable(String) CODEC(ZSTD(1)),
    request_json String CODEC(ZSTD(1)),
    response_json String CODEC(ZSTD(1)),
    request_bytes UInt64,
    response_bytes UInt64,
    request_params_json String CODEC(ZSTD(1)),
    INDEX idx_id id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_run_id run_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_step_id step_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_agent_id agent_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_is_error is_error TYPE minmax GRANULARITY 1,
    INDEX idx_is_stream is_stream TYPE minmax GRANULARITY 1"""

# One row per distinct value and org: the sha256 of the value's bytes is the key, so a system
# prompt or tool schema repeated in every call is stored once (ReplacingMergeTree folds the
# copies that different batches insert; readers take LIMIT 1). Keyed by org first, so an
# org-scoped reader only ever finds its own org's values.
V1_PAYLOADS_COLUMNS: Final = """
    org_id String DEFAULT '',
    sha256 FixedString(64),
    size UInt64,
    data String CODEC(ZSTD(1)),
    created_at DateTime64(6, 'UTC')"""


def _v1_tables(layout: Layout) -> list[str]:
    ttl = ttl_clause(layout.ttl_days)
    ttl_line = f"\nTTL {ttl}" if ttl else ""
    settings = f"\nSETTINGS {COMPACT}" if layout.cluster else f"\nSETTINGS {DEDUP}, {COMPACT}"
    return [
        create_table(
            layout,
            TRACES,
            V1_TRACES_COLUMNS,
            layout.engine(TRACES, "ReplacingMergeTree"),
            f"PARTITION BY toYYYYMM(created_at)\nORDER BY (org_id, created_at, id){ttl_line}{settings}",
        ),
        *distributed(layout, TRACES, "cityHash64(trace_id)"),
        create_table(
            layout,
            PAYLOADS,
            V1_PAYLOADS_COLUMNS,
            layout.engine(PAYLOADS, "ReplacingMergeTree"),
            f"PARTITION BY toYYYYMM(created_at)\nORDER BY (org_id, sha256){ttl_line}\nSETTINGS {COMPACT}",
        ),
        *distributed(layout, PAYLOADS, "cityHash64(sha256)"),
    ]


# -- later versions: columns added ----------------------------------------------------
def add_columns(table: str, columns: tuple[tuple[str, str], ...]) -> Callable[[Layout], list[str]]:
    """A version that adds ``columns`` ((name, type with its default), ...) to ``table``; on a
    cluster, to the local table and then to the distributed one over it."""

    def statements(layout: Layout) -> list[str]:
        tables = [layout.local(table)] + ([table] if layout.cluster else [])
        return [
            f"ALTER TABLE {quote(layout.database)}.{quote(name)}{layout.on_cluster()} "
            + ", ".join(f"ADD COLUMN IF NOT EXISTS {quote(column)} {kind}" for column, kind in columns)
            for name in tables
        ]

    return statements


V2_TRACES_COLUMNS: Final = (("extra", "Map(String, String) DEFAULT map()"),)  # llm_context(extra=...)


# -- version 3: every finished span ----------------------------------------------------
# The columns, codecs, indexes and order of the OpenTelemetry Collector ClickHouse exporter's
# otel_traces (and its trace-id lookup, filled by a materialized view), so Grafana's ClickHouse
# datasource finds the spans where it looks for a collector's. Plain MergeTree as there; a
# retried batch is stored once by its deduplication token (DEDUP) on one server.
V3_SPANS_COLUMNS: Final = """
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1,
    INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8"""
V3_LOOKUP_COLUMNS: Final = """
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))"""


def _v3_spans(layout: Layout) -> list[str]:
    db = quote(layout.database)
    dedup = "" if layout.cluster else f", {DEDUP}"
    ttl = ttl_clause(layout.ttl_days, "Timestamp")
    lookup_ttl = ttl_clause(layout.ttl_days, "Start")
    return [
        create_table(
            layout,
            SPANS,
            V3_SPANS_COLUMNS,
            layout.engine(SPANS, "MergeTree"),
            "PARTITION BY toDate(Timestamp)\nPRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))\n"
            "ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)"
            + (f"\nTTL {ttl}" if ttl else "")
            + f"\nSETTINGS index_granularity = 8192, ttl_only_drop_parts = 1{dedup}",
        ),
        *distributed(layout, SPANS, "cityHash64(TraceId)"),
        create_table(
            layout,
            SPANS_BY_TRACE,
            V3_LOOKUP_COLUMNS,
            layout.engine(SPANS_BY_TRACE, "AggregatingMergeTree"),
            "PARTITION BY toStartOfWeek(Start)\nORDER BY (TraceId)"
            + (f"\nTTL {lookup_ttl}" if lookup_ttl else "")
            + "\nSETTINGS index_granularity = 8192, ttl_only_drop_parts = 1",
        ),
        *distributed(layout, SPANS_BY_TRACE, "cityHash64(TraceId)"),
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{quote(layout.local(SPANS_BY_TRACE) + '_mv')}"
        f"{layout.on_cluster()} TO {db}.{quote(layout.local(SPANS_BY_TRACE))}"
        f"\nAS SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End"
        f"\nFROM {db}.{quote(layout.local(SPANS))} WHERE TraceId != '' GROUP BY TraceId",
    ]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: Callable[[Layout], list[str]]


MIGRATIONS_LIST: Final[tuple[Migration, ...]] = (
    Migration(1, "llm_traces and llm_payloads", _v1_tables),
    Migration(2, "llm_traces.extra", add_columns(TRACES, V2_TRACES_COLUMNS)),
    Migration(3, "otel_traces (the collector exporter's schema) and its trace-id lookup", _v3_spans),
)
ADDED_TRACE_COLUMNS: Final = dict(V2_TRACES_COLUMNS)  # column → type, for readers of older stores
LATEST_VERSION: Final = MIGRATIONS_LIST[-1].version
