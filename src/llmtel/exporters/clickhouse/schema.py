"""The ClickHouse schema in force: bootstrapping the migrations table, running the versions a
store has not recorded (``migrations``), the ``ON CLUSTER`` script, and the TTL.

Applying the migrations again does nothing. The TTL is a setting, not a migration: ``migrate``
brings the tables' TTL in line with ``LLMTEL_TTL_DAYS`` every time.
"""

from __future__ import annotations

import datetime
from typing import Any

from llmtel.exporters.clickhouse.ddl import (
    MIGRATIONS,
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
from llmtel.exporters.clickhouse.migrations import LATEST_VERSION, MIGRATIONS_LIST, Migration

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "PAYLOADS",
    "SPANS",
    "TRACES",
    "Layout",
    "applied_versions",
    "cluster_ddl",
    "migrate",
    "quote",
]

_MIGRATIONS_COLUMNS = """
    version UInt32,
    name String,
    applied_at DateTime64(6, 'UTC')"""


def bootstrap_statements(layout: Layout) -> list[str]:
    """The database and the table that records which migrations ran."""
    return [
        f"CREATE DATABASE IF NOT EXISTS {quote(layout.database)}{layout.on_cluster()}",
        create_table(
            layout,
            MIGRATIONS,
            _MIGRATIONS_COLUMNS,
            layout.engine(MIGRATIONS, "MergeTree"),
            "ORDER BY version",
        ),
        *distributed(layout, MIGRATIONS, "version"),
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


def migrate(client: Any, layout: Layout, versions: tuple[Migration, ...] = MIGRATIONS_LIST) -> list[int]:
    """Create what is missing, run the migrations not yet recorded, align the TTL.

    Returns the versions applied now (empty when the schema was already current). ``versions``
    is every version unless a test builds a store as an older llmtel did.
    """
    for statement in bootstrap_statements(layout):
        client.command(statement)
    done = applied_versions(client, layout)
    applied = []
    for migration in versions:
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
    for table, column in (
        (TRACES, "created_at"),
        (PAYLOADS, "created_at"),
        (SPANS, "Timestamp"),
        (SPANS_BY_TRACE, "Start"),
    ):
        name = f"{quote(layout.database)}.{quote(layout.local(table))}"
        if not int(client.command(f"EXISTS TABLE {name}")):  # a store kept at an older version (tests)
            continue
        ddl = str(client.command(f"SHOW CREATE TABLE {name}")).replace("\\n", "\n")
        has_ttl = "\nTTL " in ddl
        wanted = ttl_clause(layout.ttl_days, column)
        if wanted and f"toIntervalDay({int(layout.ttl_days)})" not in ddl:
            client.command(f"ALTER TABLE {name}{layout.on_cluster()} MODIFY TTL {wanted}")
        elif not wanted and has_ttl:
            client.command(f"ALTER TABLE {name}{layout.on_cluster()} REMOVE TTL")
