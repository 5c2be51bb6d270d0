"""Provider traces and payloads as ClickHouse rows, and back; each kind's rows (spans too, see
``span_rows``) as the client inserts them, keyed for their batch token, and spooled.

The llm_traces column order is the ProviderTrace field order.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, fields
from typing import Any

from llmtel.exporters.clickhouse.span_rows import span_for_insert, span_key
from llmtel.instrumentation.encoding import EncodedJSON
from llmtel.instrumentation.records import ProviderTrace

TRACE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ProviderTrace))
PAYLOAD_COLUMNS: tuple[str, ...] = ("org_id", "sha256", "size", "data", "created_at")
_ORG = TRACE_COLUMNS.index("org_id")
_CREATED = TRACE_COLUMNS.index("created_at")
_UTC = datetime.timezone.utc


_LISTS = tuple(TRACE_COLUMNS.index(name) for name in ("agent_tags", "finish_reasons"))
_BODIES = tuple(TRACE_COLUMNS.index(name) for name in ("request_json", "response_json"))
_EXTRA = TRACE_COLUMNS.index("extra")
_DEFAULTS = [f.default_factory() if f.default_factory is not MISSING else f.default for f in fields(ProviderTrace)]


def trace_row(trace: ProviderTrace) -> tuple[Any, ...]:
    """One llm_traces row. ``org_id`` is part of the sort key, so "no org" is stored as ''.
    A tuple of plain values (lists as tuples): the garbage collector stops tracking it at its
    first pass, so rows waiting for their insert never bring on a full collection."""
    row = [getattr(trace, name) for name in TRACE_COLUMNS]
    if row[_ORG] is None:
        row[_ORG] = ""
    for index in _LISTS:
        row[index] = tuple(row[index])
    row[_EXTRA] = tuple(itertools.chain.from_iterable(row[_EXTRA].items()))  # flat: a tuple holding a dict
    # is tracked for ever, and each level of nesting is one more collection before the row is not
    return tuple(row)


def for_insert(kind: str, rows: Sequence[Sequence[Any]]) -> Sequence[Sequence[Any]]:
    """Rows as the client takes them: the Map column as a dict (queued rows hold key, value, ...),
    the bodies all bytes (a wire body is; the client takes a column's values all as text or all
    as bytes, and a wire body's bytes go into its insert buffer without an encoded copy)."""
    if kind == "spans":
        return [span_for_insert(row) for row in rows]
    if kind != "traces":
        return rows
    out = []
    for row in rows:
        values = list(row)
        values[_EXTRA] = _as_map(row[_EXTRA])
        for index in _BODIES:
            values[index] = _as_bytes(row[index])
        out.append(values)
    return out


def _as_bytes(body: str | bytes) -> bytes:
    return body if isinstance(body, bytes) else body.encode("utf-8", "replace")


def _as_map(flat: Sequence[Any] | Mapping[str, Any]) -> dict[str, Any]:
    """A row's Map value: flat key, value, ... as queued and spooled, or a dict (a default)."""
    if isinstance(flat, Mapping):
        return dict(flat)
    return dict(zip(flat[::2], flat[1::2], strict=True))


def trace_from_row(row: Sequence[Any]) -> ProviderTrace:
    """A ProviderTrace read back from an llm_traces row (times in UTC)."""
    values = dict(zip(TRACE_COLUMNS, row, strict=True))
    created = values["created_at"]
    values["created_at"] = created.replace(tzinfo=_UTC) if created.tzinfo is None else created
    values["org_id"] = values["org_id"] or None
    values["agent_tags"] = list(values["agent_tags"])
    values["finish_reasons"] = list(values["finish_reasons"])
    values["extra"] = dict(values["extra"])
    return ProviderTrace(**values)


def payload_row(org_id: str | None, sha256: str, data: bytes | EncodedJSON, now: datetime.datetime) -> list[Any]:
    return [org_id or "", sha256, len(data), data, now]


def batch_token(kind: str, keys: Iterable[str]) -> str:
    """The insert_deduplication_token of a batch: the same rows give the same token, so a
    retried or replayed batch is stored once."""
    digest = hashlib.sha256(kind.encode())
    for key in keys:
        digest.update(key.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def row_keys(kind: str, rows: Iterable[Sequence[Any]]) -> Iterable[str]:
    """What identifies each row in a batch token: a trace's id, a payload's org and sha256, a
    span's trace and span ids."""
    if kind == "traces":
        return (str(row[0]) for row in rows)
    if kind == "spans":
        return (span_key(row) for row in rows)
    return (f"{row[0] or ''}/{row[1]}" for row in rows)


def to_spool(kind: str, row: Sequence[Any]) -> list[Any]:
    """A row in JSON-safe form: times as ISO text, payload bytes as text that keeps every byte
    (a span's row is all text and ints already)."""
    out = list(row)
    if kind == "spans":
        return out
    if kind == "traces":
        out[_CREATED] = out[_CREATED].isoformat()
        for index in _BODIES:  # a wire body is ASCII bytes (see provider_trace.build)
            if isinstance(out[index], bytes):
                out[index] = out[index].decode("ascii")
    else:
        out[3] = bytes(out[3]).decode("utf-8", "surrogateescape")
        out[4] = out[4].isoformat()
    return out


def from_spool(kind: str, row: list[Any]) -> list[Any]:
    """A spooled row as the store takes it; one an older llmtel spooled lacks the columns added
    since (appended last, see migrations), which get their defaults."""
    if kind == "spans":
        return row
    if kind == "traces":
        row[_CREATED] = datetime.datetime.fromisoformat(row[_CREATED])
        row.extend(_DEFAULTS[len(row) :])
    else:
        row[3] = row[3].encode("utf-8", "surrogateescape")
        row[4] = datetime.datetime.fromisoformat(row[4])
    return row
