"""What the store did not take, kept on disk: batches it could not take now (the spool) and rows
it refused (the quarantine), counted, and said once a minute when the disk cannot keep them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmtel.exporters.clickhouse.ddl import PAYLOADS, SPANS, TRACES
from llmtel.exporters.clickhouse.outage import ThrottledLog
from llmtel.exporters.clickhouse.rows import batch_token, row_keys
from llmtel.exporters.clickhouse.spool import Spool
from llmtel.exporters.self_metrics import dropped, quarantined, spooled
from llmtel.instrumentation.selftelemetry import report_error

Part = tuple[str, str, Sequence[Sequence[Any]]]  # (table kind, dedup token, rows)
TABLES = {"traces": TRACES, "payloads": PAYLOADS, "spans": SPANS}


class DiskKeeper:
    """Writes to ``spool`` and ``rejected`` (its quarantine) for one writer."""

    def __init__(self, spool: Spool, rejected: Spool, attrs: dict[str, str], log: ThrottledLog) -> None:
        self.spool = spool
        self.rejected = rejected
        self.attrs = attrs
        self.log = log

    def keep(self, parts: list[Part]) -> None:
        """Spool batches the store did not take; past the budget or on a bad disk, count and say so."""
        for kind, token, rows in parts:
            try:
                kept = self.spool.put(kind, token, rows)
            except OSError as exc:  # unwritable or full disk: counted and logged once a minute
                dropped.add(len(rows), {**self.attrs, "reason": "spool_error"})
                self.log.warn(
                    "spool_error",
                    "llmtel: cannot write to the spool %s (%s); provider traces and payloads are being dropped "
                    "and counted in llmtel.exporter.dropped",
                    self.spool.directory,
                    exc,
                )
                continue
            if kept:
                spooled.add(len(rows), self.attrs)
                continue
            dropped.add(len(rows), {**self.attrs, "reason": "spool_full"})
            self.log.warn(
                "spool_full",
                "llmtel: spool %s is full (LLMTEL_SPOOL_MAX_BYTES=%d); provider traces and payloads are "
                "being dropped and counted in llmtel.exporter.dropped",
                self.spool.directory,
                self.spool.max_bytes,
            )

    def quarantine(self, kind: str, bad: list[tuple[Sequence[Any], str]]) -> None:
        """Keep rows the store rejected, grouped by its error; counted and logged (once a minute)."""
        by_reason: dict[str, list[Sequence[Any]]] = {}
        for row, reason in bad:
            by_reason.setdefault(reason, []).append(row)
        for reason, rows in by_reason.items():
            try:
                kept = self.rejected.put(kind, batch_token(kind, row_keys(kind, rows)), rows, reason=reason)
            except OSError as exc:
                kept = False
                report_error("clickhouse.quarantine", exc)
            if not kept:
                dropped.add(len(rows), {**self.attrs, "reason": "quarantine_full"})
                continue
            quarantined.add(len(rows), {**self.attrs, "table": TABLES[kind]})
            self.log.warn(
                f"quarantine.{reason[:80]}",
                "llmtel: the store rejected %d %s row(s): %s. The rest of the batch is stored; these are kept in "
                "%s (`llmtel db status` counts them, `llmtel db replay` retries them)",
                len(rows),
                TABLES[kind],
                reason,
                self.rejected.directory,
            )
