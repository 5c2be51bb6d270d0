"""DDL building blocks for the store: table names, how tables are laid out (one server, or a
cluster with replicated shards), quoting. The statements themselves are in ``migrations``."""

from __future__ import annotations

from dataclasses import dataclass

TRACES = "llm_traces"
PAYLOADS = "llm_payloads"
SPANS = "otel_traces"  # the OpenTelemetry Collector ClickHouse exporter's table and lookup
SPANS_BY_TRACE = "otel_traces_trace_id_ts"
MIGRATIONS = "llmtel_migrations"

# Retried and replayed batches carry an insert_deduplication_token; this window makes a
# plain (non-replicated) MergeTree honour it, so a batch is stored once however often it is sent.
DEDUP = "non_replicated_deduplication_window = 1000"
# A batch of 10 KB requests is a 16 MiB part; ClickHouse's default (10 MB) would make it a
# wide part, one file per column, which makes each insert and the merges after it cost a
# fifth more. Parts stay compact (one file) until merges grow them past 256 MiB.
COMPACT = "min_bytes_for_wide_part = 268435456"


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


def create_table(layout: Layout, table: str, columns: str, engine: str, tail: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {quote(layout.database)}.{quote(layout.local(table))}{layout.on_cluster()}"
        f"\n({columns}\n)\nENGINE = {engine}\n{tail}"
    )


def distributed(layout: Layout, table: str, shard_key: str) -> list[str]:
    if not layout.cluster:
        return []
    db = quote(layout.database)
    return [
        f"CREATE TABLE IF NOT EXISTS {db}.{quote(table)}{layout.on_cluster()} AS {db}.{quote(layout.local(table))}\n"
        f"ENGINE = Distributed({quote(layout.cluster)}, {db}, {quote(layout.local(table))}, {shard_key})"
    ]
