"""Rows: a ProviderTrace as the queue holds it (plain values the garbage collector stops tracking),
as the client inserts it, as the spool writes it, and back."""

from __future__ import annotations

import gc
import json

from llmtel.exporters.clickhouse.rows import TRACE_COLUMNS, for_insert, from_spool, to_spool, trace_row
from tests.support.trace_records import full_trace


def test_a_row_survives_the_spool_and_inserts_as_the_store_takes_it() -> None:
    trace = full_trace()
    row = trace_row(trace)
    spooled = from_spool("traces", json.loads(json.dumps(to_spool("traces", row))))
    (inserted,) = for_insert("traces", [spooled])
    values = dict(zip(TRACE_COLUMNS, inserted, strict=True))
    assert values["extra"] == trace.extra and values["created_at"] == trace.created_at
    assert list(values["agent_tags"]) == trace.agent_tags and values["id"] == trace.id


def test_queued_rows_hold_only_values_the_collector_stops_tracking() -> None:
    row = trace_row(full_trace())
    gc.collect()
    gc.collect()
    assert not gc.is_tracked(row)
