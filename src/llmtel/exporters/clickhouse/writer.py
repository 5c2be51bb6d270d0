"""ClickHouseWriter: the TraceSink, PayloadSink and SpanSink that store provider traces,
payloads and finished spans.

``offer`` only enqueues (see BatchWorker). The worker thread turns each batch into at most
three inserts (llm_payloads, llm_traces, otel_traces), each with a deduplication token, retries them with
exponential backoff and jitter, and when the store stays down (a server away, an embedded
store's owner that cannot start), spools them to disk. Spooled batches are replayed oldest-first as soon as an
insert succeeds again, or on the next idle tick. A batch the store rejects for its data
(not for being down) is split until the rows it refuses are found: the rest is stored, those
go to the quarantine with the store's error (``llmtel db status``, ``llmtel db replay``).
Rows are lost only past the spool budget, and then they are counted
(``llmtel.exporter.dropped``) and logged once a minute.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from llmtel.exporters.background import BatchWorker
from llmtel.exporters.clickhouse import native, schema
from llmtel.exporters.clickhouse.disk import TABLES, DiskKeeper, Part
from llmtel.exporters.clickhouse.location import StoreLocation, StoreLocked, connect
from llmtel.exporters.clickhouse.outage import Outage
from llmtel.exporters.clickhouse.rejection import isolate, rejects_rows
from llmtel.exporters.clickhouse.rows import (
    PAYLOAD_COLUMNS,
    TRACE_COLUMNS,
    batch_token,
    for_insert,
    payload_row,
    row_keys,
    trace_row,
)
from llmtel.exporters.clickhouse.span_rows import SPAN_COLUMNS, SpanRow, cost, span_row
from llmtel.exporters.clickhouse.spool import Spool, SpooledBatch
from llmtel.exporters.record_queue import queue_record
from llmtel.exporters.self_metrics import replayed, retried, written
from llmtel.instrumentation import active, provider_trace
from llmtel.instrumentation.config import Settings
from llmtel.instrumentation.records import LateJSON, LLMCall, Payload, ProviderTrace, Record
from llmtel.instrumentation.selftelemetry import report_error, spans_dropped, traces_dropped

_COLUMNS = {"traces": TRACE_COLUMNS, "payloads": PAYLOAD_COLUMNS, "spans": SPAN_COLUMNS}
# Columns whose values go into the insert as they are (see native.py): the bodies and payloads.
_BIG = {"traces": frozenset({"request_json", "response_json"}), "payloads": frozenset({"data"}), "spans": frozenset()}
# A server acknowledges an async insert only once it is written, so a retry is never blind.
SERVER_INSERT_SETTINGS = {"async_insert": 1, "wait_for_async_insert": 1, "async_insert_deduplicate": 1}
# Rows in one batch never share an id, so ReplacingMergeTree's merge of each new block is
# pure cost (a copy of every 10 KB payload); duplicates across batches fold in merges and FINAL.
INSERT_SETTINGS = {"optimize_on_insert": 0}
_inherited: list[Any] = []  # clients a forked child got from its parent: never used, never closed


class ClickHouseWriter(BatchWorker):
    """Writes provider traces and payloads to the store at ``location``."""

    prepare_every = 32  # each 32 calls, their traces become rows: plain values the collector stops tracking
    spills = True  # a store slower than the calls: the backlog waits in the spool, not in memory

    def __init__(
        self,
        location: StoreLocation,
        *,
        spool_dir: str,
        spool_max_bytes: int = 1 << 30,
        ttl_days: int = 0,
        attempts: int = 3,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 10.0,
        **worker_options: Any,
    ) -> None:
        # Two threads: while one waits on an insert (chdb and the HTTP client release the
        # GIL), the other turns the next batch into rows and ClickHouse's Native format.
        super().__init__("llmtel-clickhouse", **{"threads": 2, **worker_options})
        self.location = location
        self.layout = schema.Layout(location.database, ttl_days)
        self.spool = Spool(spool_dir, spool_max_bytes)
        self.quarantine = self.spool.quarantine()
        self.attempts = attempts
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.insert_settings: dict[str, Any] = {
            **INSERT_SETTINGS,
            **(SERVER_INSERT_SETTINGS if location.kind == "http" else {}),
        }
        self.outage = Outage(location, self.spool.directory, retry_initial_s, retry_max_s)
        self.disk = DiskKeeper(self.spool, self.quarantine, self._attrs, self.outage.log)
        self._client: Any = None
        self._column_types: dict[str, list[str]] = {}
        self._connecting = threading.Lock()
        self._replaying = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, location: StoreLocation) -> ClickHouseWriter:
        return cls(
            location,
            spool_dir=settings.spool_dir,
            spool_max_bytes=settings.spool_max_bytes,
            ttl_days=settings.ttl_days,
            max_queue_bytes=settings.queue_max_bytes,
            batch_max_rows=settings.batch_max_rows,
            batch_max_bytes=settings.batch_max_bytes,
            flush_interval=settings.flush_interval_s,
        )

    # -- request path -------------------------------------------------------------------
    def offer(self, record: Record) -> bool:
        return queue_record(self, record)

    def offer_payload(self, sha256: str, data: bytes | LateJSON, org_id: str | None = None) -> bool:
        return self.enqueue(Payload(sha256, data, org_id), len(data) + 128)

    def offer_span(self, span: ReadableSpan) -> bool:
        return self.enqueue(span, cost(span))

    # -- worker thread ------------------------------------------------------------------
    def write_batch(self, batch: list[Any]) -> None:
        if self._send(self._parts(batch)):
            self.replay(budget_s=self._replay_budget())

    def idle(self) -> None:
        if not self.outage.waiting() and self.spool.pending():
            self.replay(budget_s=self._replay_budget())

    def _replay_budget(self) -> float | None:
        """A second per turn while live traffic flows; at shutdown, what is left of its deadline."""
        if not self.stopping:
            return 1.0
        deadline = self.shutdown_deadline
        return None if deadline is None else max(0.0, deadline - time.monotonic() - 0.5)

    def rescue(self, items: list[Any]) -> None:
        """Past the shutdown deadline: what is not written goes to the spool, not away. A batch
        whose insert is still hanging is spooled too, with the same deduplication token, so if
        that insert does land after all, the replay is not stored twice."""
        self.disk.keep(self._parts(items))

    def spill(self, items: list[Any]) -> None:
        """More than half the queue waits: the oldest calls go to the spool (with their
        deduplication tokens), replayed after the next inserts that succeed."""
        self.outage.log.warn(
            "backlog",
            "llmtel: the store %s is slower than the calls (over %d MB waiting to be inserted); the oldest go to "
            "the spool %s and are inserted as the store catches up (counted in llmtel.exporter.spooled)",
            self.location.display,
            self.max_queue_bytes >> 21,
            self.spool.directory,
        )
        self.disk.keep(self._parts(items))

    def prepare(self, items: list[Any]) -> list[Any]:
        return [_prepared(item) for item in items]

    @staticmethod
    def _parts(batch: list[Any]) -> list[Part]:
        traces: list[tuple[Any, ...]] = []
        spans: list[tuple[Any, ...]] = []
        offloaded: list[Payload] = []
        for item in batch:
            prepared = _prepared(item)
            if isinstance(prepared, Payload):
                offloaded.append(prepared)
            elif isinstance(prepared, SpanRow):
                spans.append(prepared)
            elif prepared is not None:
                traces.append(prepared)
        now = datetime.datetime.now(datetime.timezone.utc)
        unique = {(p.org_id, p.sha256): p for p in offloaded}
        payloads = [payload_row(org, sha, p.stored(), now) for (org, sha), p in unique.items()]
        parts: list[Part] = []
        if payloads:  # payloads first: a trace never points at a payload that is not stored yet
            parts.append(_part("payloads", payloads))
        if traces:
            parts.append(_part("traces", traces))
        if spans:
            parts.append(_part("spans", spans))
        return parts

    def _connection(self) -> Any:
        with self._connecting:  # the writer threads share one client
            if self._client is None:
                client = connect(self.location, database=False)
                try:
                    schema.migrate(client, self.layout)
                    # Typed once per connection: otherwise clickhouse-connect asks the store for the
                    # table's columns before every insert, which costs as much as a small insert.
                    self._column_types = {kind: _types_of(client, self.location.database, kind) for kind in TABLES}
                except Exception:
                    client.close()
                    raise
                self._client = client
            return self._client

    def _insert(self, part: Part) -> None:
        kind, token, rows = part
        client = self._connection()
        context = client.create_insert_context(
            f"{schema.quote(self.location.database)}.{schema.quote(TABLES[kind])}",
            column_names=list(_COLUMNS[kind]),
            column_type_names=self._column_types[kind],
            settings={"insert_deduplication_token": token, **self.insert_settings},
            data=for_insert(kind, rows),
        )
        compression = client.write_compression if isinstance(client.write_compression, str) else None
        context.compression = compression
        try:
            body = native.chunks(context, _BIG[kind])
            try:
                client.raw_insert(insert_block=body, settings=context.settings, compression=compression)
            finally:
                if context.insert_exception is not None:  # a value it could not serialise, not the store
                    raise context.insert_exception
        finally:
            # clickhouse-connect's InsertContext refers to itself (a bound method), so it and the
            # rows it holds would wait for a garbage collection, which rarely runs when few
            # objects are made: a 5 MB prompt's rows stayed resident for many calls.
            vars(context).clear()

    def _send(self, parts: list[Part]) -> bool:
        """Insert each part, retrying; what cannot be inserted is spooled. True if all went in."""
        failures = 0
        while parts:
            # While the store is known down, batches go straight to the spool until the backoff
            # passes; at shutdown it is tried once more, so a store that came back gets the data.
            down = self.outage.waiting() and not self.stopping
            if down or (self.stopping and failures):
                self.disk.keep(parts)
                return False
            try:
                self._insert(parts[0])
            except StoreLocked as exc:
                self._went_down(exc)
                self.disk.keep(parts)
                return False
            except Exception as exc:
                if rejects_rows(exc):
                    unsent = self._isolate(parts[0], exc)
                    if unsent:  # the store went away while the rejected rows were being found
                        self._went_down(exc)
                        self.disk.keep(unsent + parts[1:])
                        return False
                    parts = parts[1:]
                    continue
                failures += 1
                if failures >= self.attempts:
                    self._went_down(exc)
                    self.disk.keep(parts)
                    return False
                retried.add(1, self._attrs)
                time.sleep(self.outage.jitter(self.retry_initial_s * 2 ** (failures - 1)))
                continue
            written.add(len(parts[0][2]), {**self._attrs, "table": TABLES[parts[0][0]]})
            parts = parts[1:]
            self.outage.came_back()
        return True

    def _isolate(self, part: Part, error: BaseException) -> list[Part]:
        """A part the store rejected for its data: store what it takes, quarantine the rows it
        refuses with its error (see ``rejection.isolate``). Returns the parts not sent because
        the store stopped answering meanwhile (to be spooled)."""
        kind, _, rows = part
        unsent, bad, stored = isolate(lambda chunk: self._insert(_part(kind, chunk)), rows, error)
        if stored:
            written.add(stored, {**self._attrs, "table": TABLES[kind]})
        self.disk.quarantine(kind, bad)
        return [_part(kind, chunk) for chunk in unsent]

    def replay(self, strict: bool = False, budget_s: float | None = 1.0) -> int:
        """Insert spooled batches oldest-first, several per insert, until one fails or
        ``budget_s`` has passed (live traffic waits meanwhile); returns the rows stored.
        ``strict`` re-raises a failure (for the CLI) instead of backing off. If the process
        exits mid-replay, the claimed files are released by the next process that scans the
        spool, and their deduplication token keeps the replay exactly-once."""
        # While live traffic flows, a thread that finds the other replaying goes back to its
        # batches; at shutdown it waits, then replays what is left with the remaining deadline.
        if not self._replaying.acquire(blocking=self.stopping):
            return 0
        try:
            return self._replay(strict, budget_s)
        finally:
            self._replaying.release()

    def _replay(self, strict: bool, budget_s: float | None, spool: Spool | None = None) -> int:
        spool = spool or self.spool
        stored = 0
        started = time.monotonic()
        while budget_s is None or time.monotonic() - started < budget_s:
            group = spool.claim_group(self.batch_max_rows, self.batch_max_bytes)
            if not group:
                break
            kind = group[0].kind
            rows = [row for batch in group for row in batch.rows]
            token = group[0].token if len(group) == 1 else batch_token(kind, (b.token for b in group))
            try:
                self._insert((kind, token, rows))
            except Exception as exc:
                if rejects_rows(exc):  # never retried as it is: split, the rest stored, the refused quarantined
                    unsent = self._isolate((kind, token, rows), exc)
                    self.disk.keep(unsent)
                    _done(group)
                    if unsent:
                        self._went_down(exc)
                        break
                    continue
                for batch in group:
                    spool.unclaim(batch)
                if strict:
                    raise
                self._went_down(exc)
                break
            _done(group)
            stored += len(rows)
            replayed.add(len(rows), {**self._attrs, "table": TABLES[kind]})
            self.outage.came_back()
        return stored

    def replay_quarantine(self) -> int:
        """Try the rejected rows again (after a schema fix, say); those still refused go back."""
        with self._replaying:
            return self._replay(strict=True, budget_s=None, spool=self.quarantine)

    def _went_down(self, exc: BaseException) -> None:
        """The store is away: back off, and reconnect (and re-check the schema) when it is back,
        since an embedded store's next owner answers on another port."""
        self.outage.went_down(exc)
        self._client = None

    def after_fork(self) -> None:
        if self._client is not None:
            _inherited.append(self._client)  # the parent's connection; closing it here could hurt the parent
        self._client = None
        self.outage.down_until = 0.0  # a child tries the store at once
        self._connecting = threading.Lock()  # a lock held by a parent's thread would never be released here
        self._replaying = threading.Lock()

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception as exc:
                report_error("clickhouse.close", exc)
            self._client = None


def _prepared(item: Any) -> Any:
    """A queued item as it waits for its write: a call or a trace as its llm_traces row, a span
    as its otel_traces row (None when it could not be built, which is counted), a row or a
    payload as it is."""
    if isinstance(item, ProviderTrace):
        return trace_row(item)
    if isinstance(item, ReadableSpan):
        settings = active.setup.settings
        try:
            return span_row(item, settings.max_attribute_bytes, settings.max_span_bytes)
        except Exception as exc:
            spans_dropped.add(1, {"reason": "build_error"})
            report_error("clickhouse.span_row", exc)
            return None
    if isinstance(item, LLMCall):
        try:
            return trace_row(provider_trace.build(item, wire=True))
        except Exception as exc:
            traces_dropped.add(1, {"reason": "build_error"})
            report_error("clickhouse.build", exc)
            return None
    return item


def _part(kind: str, rows: Sequence[Sequence[Any]]) -> Part:
    return (kind, batch_token(kind, row_keys(kind, rows)), rows)


def _done(group: list[SpooledBatch]) -> None:
    for batch in group:
        Spool.done(batch)


def _types_of(client: Any, database: str, kind: str) -> list[str]:
    """The store's type of each column ``kind`` inserts, in insert order."""
    described = client.query(f"DESCRIBE TABLE {schema.quote(database)}.{schema.quote(TABLES[kind])}")
    types = {row[0]: row[1] for row in described.result_rows}
    return [types[name] for name in _COLUMNS[kind]]
