"""TraceReader: provider traces, usage roll-ups and payloads read back from the store.

Every value reaches ClickHouse as a bound parameter, never as SQL text. A reader made with
``org_id`` adds ``org_id = {org}`` to every trace query; no argument can widen it.
Reads use FINAL, so a batch that a server stored twice (a retry after a lost reply) is
seen once.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmtel.exporters.clickhouse import schema
from llmtel.exporters.clickhouse.location import StoreLocation, connect, parse_location
from llmtel.exporters.clickhouse.migrations import ADDED_TRACE_COLUMNS
from llmtel.exporters.clickhouse.rows import TRACE_COLUMNS, trace_from_row
from llmtel.instrumentation.records import ProviderTrace

_UTC = datetime.timezone.utc
_MISSING = {60, 81}  # UNKNOWN_TABLE, UNKNOWN_DATABASE
GROUPINGS = {
    "model": "ifNull(response_model, ifNull(request_model, ''))",
    "agent": "ifNull(agent_id, '')",
    "provider": "provider",
    "day": "toString(toDate(created_at))",
    "run": "ifNull(run_id, '')",
}


class StoreEmpty(LookupError):
    """The store has no llmtel tables yet."""


@dataclass(frozen=True)
class Page:
    """One page of traces, newest first; pass ``next_cursor`` back for the next one."""

    traces: list[ProviderTrace]
    next_cursor: str | None


@dataclass(frozen=True)
class UsageRow:
    key: str
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_write_input_tokens: int
    reasoning_tokens: int
    cost_usd: float | None
    latency_p50_ms: float
    latency_p95_ms: float


@dataclass(frozen=True)
class StoredSpan:
    """One span read back from otel_traces (times in ns since the epoch)."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    service_name: str
    start_ns: int
    duration_ns: int
    status: str
    status_message: str
    attributes: dict[str, str]
    events: list[tuple[int, str, dict[str, str]]]


_SPAN_SELECT = (
    "SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, toUnixTimestamp64Nano(Timestamp),"
    " Duration, StatusCode, StatusMessage, SpanAttributes,"
    " arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp), Events.Name, Events.Attributes"
)


def _sha_of(ref: str) -> str:
    """The sha256 a ``llmtel://llm_payloads/<sha256>`` reference (or a bare sha256) names."""
    sha = ref.rsplit("/", 1)[-1].lower()
    if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha):
        raise ValueError(f"{ref!r} is not a payload reference (llmtel://llm_payloads/<sha256>)")
    return sha


def _utc(value: datetime.datetime) -> datetime.datetime:
    return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)


def _model(conditions: list[str], params: dict[str, Any], model: str | None) -> None:
    """Add "asked for or got ``model``" as a bound parameter."""
    if model:
        conditions.append("response_model = {model:String} OR request_model = {model:String}")
        params["model"] = model


def _time_range(
    conditions: list[str], params: dict[str, Any], since: datetime.datetime | None, until: datetime.datetime | None
) -> None:
    """Add ``since <= created_at < until`` (either end optional) as bound parameters."""
    if since is not None:
        conditions.append("created_at >= {since:DateTime64(6, 'UTC')}")
        params["since"] = _utc(since)
    if until is not None:
        conditions.append("created_at < {until:DateTime64(6, 'UTC')}")
        params["until"] = _utc(until)


class TraceReader:
    """Reads the store at ``url`` (a DSN, as for LLMTEL_CLICKHOUSE_URL)."""

    def __init__(self, url: str | StoreLocation, *, org_id: str | None = None) -> None:
        self.location = parse_location(url) if isinstance(url, str) else url
        self.org_id = org_id
        if self.location.kind == "chdb" and not os.path.isdir(self.location.path):
            raise StoreEmpty(f"{self.location.display} does not exist yet")
        self._client = connect(self.location, database=False)
        self._traces = self._table(schema.TRACES)
        self._select_list: str | None = None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> TraceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries ----------------------------------------------------------------------
    def _query(
        self, sql: str, params: dict[str, Any], formats: dict[str, str] | None = None
    ) -> Sequence[Sequence[Any]]:
        from clickhouse_connect.driver.exceptions import DatabaseError

        try:
            return list(self._client.query(sql, parameters=params, column_formats=formats).result_rows)
        except DatabaseError as exc:
            if getattr(exc, "code", None) in _MISSING or "UNKNOWN_TABLE" in str(exc) or "UNKNOWN_DATABASE" in str(exc):
                raise StoreEmpty(f"{self.location.display} has no llmtel tables yet") from exc
            raise

    def _where(self, conditions: list[str], params: dict[str, Any]) -> str:
        if self.org_id is not None:
            conditions = ["org_id = {org:String}", *conditions]
            params["org"] = self.org_id
        return (" WHERE " + " AND ".join(f"({c})" for c in conditions)) if conditions else ""

    def _columns(self) -> str:
        """The columns to read: a store an older llmtel created (and no writer has migrated
        since) lacks the columns added later, which read as their defaults."""
        if self._select_list is None:
            names = {str(row[0]) for row in self._query(f"DESCRIBE TABLE {self._traces}", {})}
            self._select_list = ", ".join(
                schema.quote(c)
                if c in names
                else f"defaultValueOfTypeName('{ADDED_TRACE_COLUMNS[c].split(' DEFAULT')[0]}')"
                for c in TRACE_COLUMNS
            )
        return self._select_list

    def _select(self, conditions: list[str], params: dict[str, Any], tail: str) -> list[ProviderTrace]:
        columns = self._columns()
        sql = f"SELECT {columns} FROM {self._traces} FINAL{self._where(conditions, params)} {tail}"
        return [trace_from_row(row) for row in self._query(sql, params)]

    def get(self, trace_record_id: str) -> ProviderTrace | None:
        """One provider trace by its id."""
        found = self._select(["id = {id:String}"], {"id": trace_record_id}, "LIMIT 1")
        return found[0] if found else None

    def ids_matching(self, fragment: str, limit: int = 2) -> list[str]:
        """Provider-trace ids that start or end with ``fragment`` (what ``llmtel show`` takes)."""
        params: dict[str, Any] = {"f": fragment.lower(), "limit": limit}
        where = self._where(["startsWith(id, {f:String}) OR endsWith(id, {f:String})"], params)
        return [
            str(r[0])
            for r in self._query(f"SELECT DISTINCT id FROM {self._traces}{where} LIMIT {{limit:UInt32}}", params)
        ]

    def by_trace(self, trace_id: str) -> list[ProviderTrace]:
        """Every provider trace of one OTel trace (32 hex digits), in time order."""
        return self.by_traces([trace_id]).get(trace_id.lower(), [])

    def by_traces(self, trace_ids: Sequence[str]) -> dict[str, list[ProviderTrace]]:
        """``by_trace`` of many traces in one query (a run's, for its tree), by trace id."""
        found: dict[str, list[ProviderTrace]] = {}
        if trace_ids:
            ids = [t.lower() for t in trace_ids]
            for trace in self._select(["trace_id IN {ts:Array(String)}"], {"ts": ids}, "ORDER BY created_at, id"):
                found.setdefault(trace.trace_id, []).append(trace)
        return found

    def traces(
        self,
        *,
        run_id: str | None = None,
        step_id: str | None = None,
        agent_id: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        since: datetime.datetime | None = None,
        until: datetime.datetime | None = None,
        errors_only: bool = False,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """Traces matching every filter given, newest first, ``limit`` per page."""
        conditions: list[str] = []
        params: dict[str, Any] = {"limit": max(1, min(int(limit), 10_000))}
        for column, value in (("run_id", run_id), ("step_id", step_id), ("agent_id", agent_id), ("provider", provider)):
            if value is not None:
                conditions.append(f"{column} = {{{column}:String}}")
                params[column] = value
        _model(conditions, params, model)
        _time_range(conditions, params, since, until)
        if errors_only:
            conditions.append("is_error")
        if cursor:
            stamp, _, last_id = cursor.partition("|")
            conditions.append("(created_at, id) < ({c_at:DateTime64(6, 'UTC')}, {c_id:String})")
            params["c_at"] = datetime.datetime.fromisoformat(stamp)
            params["c_id"] = last_id
        found = self._select(conditions, params, "ORDER BY created_at DESC, id DESC LIMIT {limit:UInt32}")
        full = len(found) == params["limit"]
        next_cursor = f"{found[-1].created_at.isoformat()}|{found[-1].id}" if found and full else None
        return Page(found, next_cursor)

    def newer_than(self, created_at: datetime.datetime, seen_id: str = "", limit: int = 1000) -> list[ProviderTrace]:
        """Traces after (``created_at``, ``seen_id``), oldest first: what ``llmtel tail`` follows."""
        return self._select(
            ["(created_at, id) > ({at:DateTime64(6, 'UTC')}, {id:String})"],
            {"at": _utc(created_at), "id": seen_id, "limit": limit},
            "ORDER BY created_at, id LIMIT {limit:UInt32}",
        )

    def usage(
        self,
        by: str = "model",
        *,
        since: datetime.datetime | None = None,
        until: datetime.datetime | None = None,
    ) -> list[UsageRow]:
        """Calls, tokens, cost and latency per model, agent, provider, day or run."""
        if by not in GROUPINGS:
            raise ValueError(f"usage by {by!r}: choose one of {', '.join(GROUPINGS)}")
        conditions: list[str] = []
        params: dict[str, Any] = {}
        _time_range(conditions, params, since, until)
        sql = (
            f"SELECT {GROUPINGS[by]} AS key, count(), countIf(is_error), sum(ifNull(input_tokens, 0)),"
            " sum(ifNull(output_tokens, 0)), sum(ifNull(cache_read_input_tokens, 0)),"
            " sum(ifNull(cache_write_input_tokens, 0)), sum(ifNull(reasoning_tokens, 0)),"
            " if(countIf(cost_usd IS NOT NULL) = 0, NULL, sum(cost_usd)),"
            " quantile(0.5)(duration_ms), quantile(0.95)(duration_ms)"
            f" FROM {self._traces} FINAL{self._where(conditions, params)}"
            " GROUP BY key ORDER BY key"
        )
        return [
            UsageRow(str(k), int(c), int(e), int(i), int(o), int(cr), int(cw), int(r), cost, float(p50), float(p95))
            for k, c, e, i, o, cr, cw, r, cost, p50, p95 in self._query(sql, params)
        ]

    def payload(self, ref: str) -> bytes | None:
        """The full value behind a ``llmtel://llm_payloads/<sha256>`` reference (or a bare sha256).

        An org-scoped reader finds only values stored under its own org."""
        params: dict[str, Any] = {"sha": _sha_of(ref)}
        where = self._where(["sha256 = {sha:String}"], params)
        sql = f"SELECT data FROM {self._table(schema.PAYLOADS)}{where} LIMIT 1"
        # As bytes: read as text, a value that is not valid UTF-8 (a lone surrogate, kept by
        # ``surrogatepass``) would come back as the hex of its bytes and no longer match its sha256.
        rows = self._query(sql, params, {"data": "bytes"})
        if not rows:
            return None
        return bytes(rows[0][0])

    # -- what the web UI pages through -------------------------------------------------------
    def runs(
        self,
        *,
        agent_id: str | None = None,
        run: str | None = None,
        model: str | None = None,
        since: datetime.datetime | None = None,
        errors_only: bool = False,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Recent runs (a call without a run is its trace's own), newest first, with their totals;
        ``run`` keeps those whose run or trace id contains it."""
        conditions: list[str] = []
        params: dict[str, Any] = {"limit": max(1, min(int(limit), 1000))}
        if run:
            conditions.append("positionCaseInsensitive(ifNull(run_id, trace_id), {run:String}) > 0")
            params["run"] = run
        if agent_id:
            conditions.append("agent_id = {agent:String}")
            params["agent"] = agent_id
        _model(conditions, params, model)
        _time_range(conditions, params, since, None)
        having = " HAVING errors > 0" if errors_only else ""
        sql = (
            "SELECT ifNull(run_id, concat('trace:', trace_id)) AS run, any(agent_id), count() AS calls,"
            " countIf(is_error) AS errors, sum(ifNull(input_tokens, 0)), sum(ifNull(output_tokens, 0)),"
            " sum(ifNull(cost_usd, 0)), min(created_at), max(created_at) AS last, groupUniqArray(5)(ifNull("
            "response_model, ifNull(request_model, '')))"
            f" FROM {self._traces} FINAL{self._where(conditions, params)}"
            f" GROUP BY run{having} ORDER BY last DESC LIMIT {{limit:UInt32}}"
        )
        keys = ("run", "agent", "calls", "errors", "input_tokens", "output_tokens", "cost_usd", "first", "last")
        out = []
        for row in self._query(sql, params):
            item = dict(zip(keys, row[:9], strict=True))
            item["first"], item["last"] = _utc(item["first"]).isoformat(), _utc(item["last"]).isoformat()
            item["models"] = sorted(m for m in row[9] if m)
            out.append(item)
        return out

    def body_page(self, trace_record_id: str, part: str, offset: int, size: int) -> tuple[str, int]:
        """``size`` characters of a call's stored request or response from ``offset``, and its
        length: the store sends the page, never the whole 5 MB body."""
        column = {"request": "request_json", "response": "response_json"}[part]
        return self._page(column, f"{self._traces} FINAL", "id = {id:String}", {"id": trace_record_id}, offset, size)

    def payload_page(self, ref: str, offset: int, size: int) -> tuple[str, int]:
        """A page of the value behind a ``_ref``, as for :meth:`body_page`."""
        table = self._table(schema.PAYLOADS)
        return self._page("toValidUTF8(data)", table, "sha256 = {sha:String}", {"sha": _sha_of(ref)}, offset, size)

    def _page(
        self, value: str, table: str, condition: str, params: dict[str, Any], offset: int, size: int
    ) -> tuple[str, int]:
        """``size`` characters of ``value`` in the row ``condition`` finds, from ``offset``, and its length."""
        params.update(o=offset + 1, n=size)
        sql = (
            f"SELECT substringUTF8({value}, {{o:UInt64}}, {{n:UInt64}}), lengthUTF8({value})"
            f" FROM {table}{self._where([condition], params)} LIMIT 1"
        )
        rows = self._query(sql, params)
        return (str(rows[0][0]), int(rows[0][1])) if rows else ("", 0)

    def usage_over_time(
        self, by: str = "model", *, since: datetime.datetime | None = None, bucket: str = "hour"
    ) -> list[tuple[str, str, float, int]]:
        """(bucket start, key, cost, tokens) per time bucket (``hour`` or ``day``) and key."""
        if by not in GROUPINGS or bucket not in ("hour", "day"):
            raise ValueError(f"usage over time by {by!r} per {bucket!r}")
        conditions: list[str] = []
        params: dict[str, Any] = {}
        _time_range(conditions, params, since, None)
        start = "toStartOfHour(created_at)" if bucket == "hour" else "toStartOfDay(created_at)"
        sql = (
            f"SELECT {start} AS at, {GROUPINGS[by]} AS key, sum(ifNull(cost_usd, 0)),"
            " sum(ifNull(input_tokens, 0) + ifNull(output_tokens, 0))"
            f" FROM {self._traces} FINAL{self._where(conditions, params)} GROUP BY at, key ORDER BY at, key"
        )
        return [(_utc(at).isoformat(), str(k), float(c), int(t)) for at, k, c, t in self._query(sql, params)]

    # -- spans (otel_traces) --------------------------------------------------------------
    def _spans_where(self, condition: str, params: dict[str, Any]) -> str:
        """``condition`` on otel_traces, scoped to the reader's org (the ``llmtel.org_id`` that
        llm_context stamps on its spans)."""
        if self.org_id is not None:
            params["org"] = self.org_id
            return f"({condition}) AND SpanAttributes['llmtel.org_id'] = {{org:String}}"
        return condition

    def _spans_query(self, sql: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        """A query on otel_traces; a store without it (created before spans were stored) has none."""
        try:
            return self._query(sql, params)
        except StoreEmpty:
            return []

    def spans(self, trace_ids: Sequence[str], limit: int = 10_000) -> list[StoredSpan]:
        """The stored spans of these traces, in start order."""
        if not trace_ids:
            return []
        params: dict[str, Any] = {"ids": [t.lower() for t in trace_ids], "limit": limit}
        where = self._spans_where("TraceId IN {ids:Array(String)}", params)
        sql = f"{_SPAN_SELECT} FROM {self._table(schema.SPANS)} WHERE {where} ORDER BY Timestamp LIMIT {{limit:UInt32}}"
        return [
            StoredSpan(
                str(t),
                str(s),
                str(p),
                str(n),
                str(k),
                str(svc),
                int(start),
                int(d),
                str(st),
                str(msg),
                dict(attrs),
                [(int(at), str(name), dict(ea)) for at, name, ea in zip(times, names, eattrs, strict=True)],
            )
            for t, s, p, n, k, svc, start, d, st, msg, attrs, times, names, eattrs in self._spans_query(sql, params)
        ]

    def run_trace_ids(self, run_id: str, limit: int = 100) -> list[str]:
        """The traces of one run: its calls' and those of the spans stamped with it, newest first."""
        params: dict[str, Any] = {"run": run_id, "limit": limit}
        calls = self._where(["run_id = {run:String}"], params)
        found = [
            str(row[0])
            for row in self._query(
                f"SELECT trace_id, max(created_at) AS at FROM {self._traces}{calls} GROUP BY trace_id"
                " ORDER BY at DESC LIMIT {limit:UInt32}",
                params,
            )
        ]
        spans = self._spans_where("SpanAttributes['llmtel.run_id'] = {run:String}", params)
        sql = f"SELECT DISTINCT TraceId FROM {self._table(schema.SPANS)} WHERE {spans} LIMIT {{limit:UInt32}}"
        return found + [str(row[0]) for row in self._spans_query(sql, params) if str(row[0]) not in found]

    def trace_ids_starting(self, prefix: str, limit: int = 2) -> list[str]:
        """Trace ids (of calls or spans) that start with ``prefix``: a unique prefix names one."""
        params: dict[str, Any] = {"prefix": prefix.lower(), "limit": limit}
        calls = self._where(["startsWith(trace_id, {prefix:String})"], params)
        sql = f"SELECT DISTINCT trace_id FROM {self._traces}{calls} LIMIT {{limit:UInt32}}"
        ids = {str(row[0]) for row in self._query(sql, params)}
        spans = self._spans_where("startsWith(TraceId, {prefix:String})", params)
        sql = f"SELECT DISTINCT TraceId FROM {self._table(schema.SPANS)} WHERE {spans} LIMIT {{limit:UInt32}}"
        ids |= {str(row[0]) for row in self._spans_query(sql, params)}
        return sorted(ids)

    def _table(self, name: str) -> str:
        return f"{schema.quote(self.location.database)}.{schema.quote(name)}"

    def count(self) -> int:
        """Provider traces in scope."""
        params: dict[str, Any] = {}
        return int(self._query(f"SELECT count() FROM {self._traces} FINAL{self._where([], params)}", params)[0][0])
