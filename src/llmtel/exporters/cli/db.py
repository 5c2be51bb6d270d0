"""``llmtel db``: create and migrate the store, its status, replaying the spool, the cluster script."""

from __future__ import annotations

import argparse
import os
from typing import TextIO

from llmtel.exporters.clickhouse.location import StoreLocation
from llmtel.exporters.clickhouse.spool import Spool


def cmd_db(args: argparse.Namespace, out: TextIO) -> int:
    from llmtel.exporters.clickhouse import schema
    from llmtel.exporters.clickhouse.location import connect, parse_location

    location = parse_location(args.url)
    ttl = int(os.environ.get("LLMTEL_TTL_DAYS", "0") or 0)
    if args.action == "ddl":
        for statement in schema.cluster_ddl(location.database, args.cluster, ttl):
            out.write(statement + ";\n\n")
        return 0
    if args.action == "replay":
        stored, left, quarantined = replay_spool(location, args.spool_dir, ttl)
        out.write(f"replayed {stored} rows from {args.spool_dir}; {left} batches left")
        out.write(f"; {quarantined} rows still in quarantine (see llmtel db status)\n" if quarantined else "\n")
        return 0
    if args.action == "status":
        _spool_status(Spool(args.spool_dir, 0), out)
    client = connect(location, database=False)
    try:
        layout = schema.Layout(location.database, ttl)
        if args.action in ("init", "migrate"):
            applied = schema.migrate(client, layout)
            out.write(f"{location.display}: schema version {schema.LATEST_VERSION}")
            out.write(f" (applied {applied})\n" if applied else " (already current)\n")
            return 0
        exists = client.command(f"EXISTS TABLE {schema.quote(location.database)}.{schema.quote(schema.MIGRATIONS)}")
        versions = schema.applied_versions(client, layout) if int(exists) else {}
        current = max(versions, default=0)
        out.write(f"{location.display}: schema version {current} of {schema.LATEST_VERSION}\n")
        if current:
            for table in (schema.TRACES, schema.PAYLOADS, schema.SPANS):
                rows, size, raw = client.query(
                    "SELECT sum(rows), sum(data_compressed_bytes), sum(data_uncompressed_bytes) FROM system.parts"
                    " WHERE database = {db:String} AND table = {t:String} AND active",
                    parameters={"db": location.database, "t": table},
                ).result_rows[0]
                out.write(
                    f"  {table}: {int(rows or 0):,} rows, {int(size or 0):,} bytes on disk ({int(raw or 0):,} raw)\n"
                )
        return 0
    finally:
        client.close()


def _spool_status(spool: Spool, out: TextIO) -> None:
    """Rows not in the tables yet: spooled (waiting for the store) and quarantined (refused by it)."""
    waiting = spool.summary()
    out.write(f"spool {spool.directory}: {waiting.batches:,} batches, {waiting.rows:,} rows waiting for the store\n")
    held = spool.quarantine().summary()
    out.write(f"quarantine: {held.rows:,} rows the store rejected")
    out.write(" (`llmtel db replay` retries them)\n" if held.rows else "\n")
    for reason, rows in sorted(held.reasons.items(), key=lambda item: -item[1]):
        out.write(f"  {rows:,} rows: {reason[:200]}\n")


def replay_spool(location: StoreLocation, spool_dir: str, ttl_days: int = 0) -> tuple[int, int, int]:
    """Write every spooled batch now, then retry the quarantine (``llmtel db replay``); returns
    (rows stored, spool batches left, rows still quarantined)."""
    from llmtel.exporters.clickhouse.writer import ClickHouseWriter

    writer = ClickHouseWriter(location, spool_dir=spool_dir, ttl_days=ttl_days)
    try:
        stored = writer.replay(strict=True, budget_s=None)
        stored += writer.replay_quarantine()
    finally:
        writer.close()
    return stored, len(writer.spool.pending()), writer.quarantine.summary().rows
