"""The ClickHouse schema: DDL for ``llm_traces`` and ``llm_payloads``, versioned migrations,
and the ``ON CLUSTER`` variant for users who outgrow one server.

Migrations are recorded in ``llmtel_migrations``; applying them again does nothing. The
TTL is a setting, not a migration: ``migrate`` brings the tables' TTL in line with
``LLMTEL_TTL_DAYS`` every time.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TRACES = "llm_traces"
PAYLOADS = "llm_payloads"
MIGRATIONS = "llmtel_migrations"

# ORDER BY (org_id, created_at, id): every reader query is scoped to one org and nearly all
# of them ask for a time range newest-first (recent traces, tail, usage per day), so the
# primary index prunes by org and time. Point lookups (id, trace_id, run_id, step_id,
# agent_id) use bloom-filter skip indexes; the ids of one run arrive close together in time,
# so few granules match. Partitions are monthly so a TTL drops whole parts.
# ReplacingMergeTree: a batch retried after a lost reply (async inserts on a server do not
# honour deduplication tokens on non-replicated tables) folds into one row per id; the
# reader queries with FINAL, so nobody sees the copy before the merge.
_TRACES_COLUMNS = """
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
_PAYLOADS_COLUMNS = """
    org_id String DEFAULT '',
    sha256 FixedString(64),
    size UInt64,
    data String CODEC(ZSTD(1)),
    created_at DateTime64(6, 'UTC')"""

_MIGRATIONS_COLUMNS = """
    version UInt32,
    name String,
    applied_at DateTime64(6, 'UTC')"""

# Retried and replayed batches carry an insert_deduplication_token; this window makes a
# plain (non-replicated) MergeTree honour it, so a batch is stored once however often it is sent.
_DEDUP = "non_replicated_deduplication_window = 1000"
# A batch of 10 KB requests is a 16 MiB part; ClickHouse's default (10 MB) would make it a
# wide part, one file per column, which makes each insert and the merges after it cost a
# fifth more. Parts stay compact (one file) until merges grow them past 256 MiB.
_COMPACT = "min_bytes_for_wide_part = 268435456"


@dataclass(frozen=True)
class Layout:
    """How the tables are laid out: one server, or a cluster with replicated shards."""

    database: str
    ttl_days: int = 0
    cluster: str | None = None

    def on_cluster(self) -> str:
        return f" ON CLUSTER {quote(self.cluster)}" if self.cluster else ""

    def local(self, table: str) -> str:
        """The table that holds the data: ``<table>_local`` on a cluster."""
        return f"{table}_local" if self.cluster else table

    def engine(self, table: str, base: str, args: str = "") -> str:
        if not self.cluster:
            return f"{base}({args})"
        path = f"'/clickhouse/tables/{{shard}}/{self.database}/{table}', '{{replica}}'"
        return f"Replicated{base}({path}{', ' + args if args else ''})"


def quote(identifier: str | None) -> str:
    """Backquote an identifier for DDL."""
    return "`" + str(identifier).replace("`", "``") + "`"


def ttl_clause(ttl_days: int, column: str = "created_at") -> str:
    return f"toDateTime({column}) + INTERVAL {int(ttl_days)} DAY" if ttl_days > 0 else ""


def _create(layout: Layout, table: str, columns: str, engine: str, tail: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {quote(layout.database)}.{quote(layout.local(table))}{layout.on_cluster()}"
        f"\n({columns}\n)\nENGINE = {engine}\n{tail}"
    )


def _distributed(layout: Layout, table: str, shard_key: str) -> list[str]:
    if not layout.cluster:
        return []
    db = quote(layout.database)
    return [
        f"CREATE TABLE IF NOT EXISTS {db}.{quote(table)}{layout.on_cluster()} AS {db}.{quote(layout.local(table))}\n"
        f"ENGINE = Distributed({quote(layout.cluster)}, {db}, {quote(layout.local(table))}, {shard_key})"
    ]


def _v1_tables(layout: Layout) -> list[str]:
    ttl = ttl_clause(layout.ttl_days)
    ttl_line = f"\nTTL {ttl}" if ttl else ""
    settings = f"\nSETTINGS {_COMPACT}" if layout.cluster else f"\nSETTINGS {_DEDUP}, {_COMPACT}"
    return [
        _create(
            layout,
            TRACES,
            _TRACES_COLUMNS,
            layout.engine(TRACES, "ReplacingMergeTree"),
            f"PARTITION BY toYYYYMM(created_at)\nORDER BY (org_id, created_at, id){ttl_line}{settings}",
        ),
        *_distributed(layout, TRACES, "cityHash64(trace_id)"),
        _create(
            layout,
            PAYLOADS,
            _PAYLOADS_COLUMNS,
            layout.engine(PAYLOADS, "ReplacingMergeTree"),
            f"PARTITION BY toYYYYMM(created_at)\nORDER BY (org_id, sha256){ttl_line}\nSETTINGS {_COMPACT}",
        ),
        *_distributed(layout, PAYLOADS, "cityHash64(sha256)"),
    ]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: Callable[[Layout], list[str]]


MIGRATIONS_LIST: tuple[Migration, ...] = (Migration(1, "llm_traces and llm_payloads", _v1_tables),)


def bootstrap_statements(layout: Layout) -> list[str]:
    """The database and the table that records which migrations ran."""
    return [
        f"CREATE DATABASE IF NOT EXISTS {quote(layout.database)}{layout.on_cluster()}",
        _create(
            layout,
            MIGRATIONS,
            _MIGRATIONS_COLUMNS,
            layout.engine(MIGRATIONS, "MergeTree"),
            "ORDER BY version",
        ),
        *_distributed(layout, MIGRATIONS, "version"),
    ]


def cluster_ddl(database: str, cluster: str, ttl_days: int = 0) -> list[str]:
    """Every statement, in order, for a cluster: ``llmtel db ddl --cluster NAME`` prints them
    for an operator to review and run (replication paths use the ``{shard}``/``{replica}`` macros)."""
    layout = Layout(database, ttl_days, cluster)
    return bootstrap_statements(layout) + [s for m in MIGRATIONS_LIST for s in m.statements(layout)]


def applied_versions(client: Any, layout: Layout) -> dict[int, datetime.datetime]:
    rows = client.query(
        f"SELECT version, max(applied_at) FROM {quote(layout.database)}.{quote(MIGRATIONS)} GROUP BY version"
    ).result_rows
    return {int(version): applied for version, applied in rows}


def migrate(client: Any, layout: Layout) -> list[int]:
    """Create what is missing, run the migrations not yet recorded, align the TTL.

    Returns the versions applied now (empty when the schema was already current).
    """
    for statement in bootstrap_statements(layout):
        client.command(statement)
    done = applied_versions(client, layout)
    applied = []
    for migration in MIGRATIONS_LIST:
        if migration.version in done:
            continue
        for statement in migration.statements(layout):
            client.command(statement)
        client.insert(
            f"{quote(layout.database)}.{quote(MIGRATIONS)}",
            [[migration.version, migration.name, datetime.datetime.now(datetime.timezone.utc)]],
            column_names=["version", "name", "applied_at"],
        )
        applied.append(migration.version)
    _align_ttl(client, layout)
    return applied


def _align_ttl(client: Any, layout: Layout) -> None:
    """Make each table's TTL match ``ttl_days`` (0 = keep forever)."""
    for table in (TRACES, PAYLOADS):
        name = f"{quote(layout.database)}.{quote(layout.local(table))}"
        ddl = str(client.command(f"SHOW CREATE TABLE {name}")).replace("\\n", "\n")
        has_ttl = "\nTTL " in ddl
        wanted = ttl_clause(layout.ttl_days)
        if wanted and f"toIntervalDay({int(layout.ttl_days)})" not in ddl:
            client.command(f"ALTER TABLE {name}{layout.on_cluster()} MODIFY TTL {wanted}")
        elif not wanted and has_ttl:
            client.command(f"ALTER TABLE {name}{layout.on_cluster()} REMOVE TTL")


LATEST_VERSION = MIGRATIONS_LIST[-1].version
