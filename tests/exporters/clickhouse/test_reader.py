"""TraceReader on real chdb: filters, pages, usage rollups, org scope, and stores that are empty or wrong."""

from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from llmtel.exporters.clickhouse.location import parse_location
from llmtel.exporters.clickhouse.reader import StoreEmpty, TraceReader
from llmtel.instrumentation.config import ConfigError
from llmtel.instrumentation.encoding import encode_bytes
from llmtel.instrumentation.records import LateJSON
from llmtel.instrumentation.semconv import PAYLOAD_REF_PREFIX
from tests.conftest import WriterFactory
from tests.exporters.clickhouse.test_spans import query
from tests.support.trace_records import T0, full_trace


@pytest.fixture
def filled(store_url: str, make_writer: WriterFactory) -> list[Any]:
    """Twenty-five traces over three agents, two models, one org apart."""
    writer = make_writer(store_url)
    traces = []
    for i in range(25):
        traces.append(
            full_trace(
                created_at=T0 + datetime.timedelta(minutes=i),
                agent_id=f"agent-{i % 3}",
                run_id=f"run-{i % 5}",
                org_id="acme" if i < 20 else "globex",
                response_model="big" if i % 2 else "small",
                is_error=i % 10 == 0,
                input_tokens=i,
                cost_usd=None if i == 24 else 0.5,
                duration_ms=float(i),
            )
        )
    for trace in traces:
        assert writer.offer(trace)
    assert writer.flush(30)
    return traces


def test_reader_filters_and_pages(store_url: str, filled: list[Any]) -> None:
    with TraceReader(store_url) as reader:
        assert reader.count() == 25
        assert {t.id for t in reader.traces(run_id="run-2", limit=100).traces} == {
            t.id for t in filled if t.run_id == "run-2"
        }
        assert len(reader.traces(agent_id="agent-0", model="small", limit=100).traces) == sum(
            1 for t in filled if t.agent_id == "agent-0" and t.response_model == "small"
        )
        assert [t.id for t in reader.traces(errors_only=True).traces] == [filled[20].id, filled[10].id, filled[0].id]
        since = reader.traces(since=T0 + datetime.timedelta(minutes=22), limit=100).traces
        assert [t.id for t in since] == [filled[24].id, filled[23].id, filled[22].id]
        seen, cursor, pages = [], None, 0
        while True:
            page = reader.traces(limit=7, cursor=cursor)
            seen += [t.id for t in page.traces]
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [t.id for t in reversed(filled)] and pages == 4


def test_usage_rollups(store_url: str, filled: list[Any]) -> None:
    with TraceReader(store_url) as reader:
        by_model = {row.key: row for row in reader.usage("model")}
        assert set(by_model) == {"big", "small"}
        assert by_model["big"].calls == 12 and by_model["big"].input_tokens == sum(range(1, 25, 2))
        assert by_model["small"].errors == 3
        assert by_model["small"].calls == 13  # the unpriced call (i=24) adds a call but no cost
        assert by_model["big"].cost_usd == by_model["small"].cost_usd == pytest.approx(0.5 * 12)
        by_day = reader.usage("day")
        assert [(r.key, r.calls) for r in by_day] == [("2026-03-14", 25)]
        with pytest.raises(ValueError, match="choose one of"):
            reader.usage("colour")


def test_org_scope_cannot_be_escaped(store_url: str, filled: list[Any]) -> None:
    with TraceReader(store_url, org_id="globex") as reader:
        assert reader.count() == 5
        assert {t.org_id for t in reader.traces(limit=100).traces} == {"globex"}
        assert reader.get(filled[0].id) is None  # acme's trace, asked for by id
        assert sum(r.calls for r in reader.usage("agent")) == 5
        assert reader.traces(run_id="x' OR 1=1 OR run_id='y", limit=100).traces == []
    with TraceReader(store_url, org_id="' OR 1=1 --") as reader:
        assert reader.count() == 0


def test_empty_and_bad_stores_say_so(store_url: str, tmp_path: Path) -> None:
    with pytest.raises(StoreEmpty, match="does not exist yet"):
        TraceReader(f"chdb://{tmp_path}/nothing-here")
    with TraceReader(store_url) as reader, pytest.raises(StoreEmpty, match="no llmtel tables yet"):
        reader.count()
    for bad, message in [
        ("http://", "no host"),
        ("http://h:port/db", "port is not a number"),
        ("http://h/db;drop", "must be letters, digits or _"),
        ("ftp://h/db", "not a ClickHouse URL"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_location(bad)


def test_every_payload_round_trips_byte_for_byte(store_url: str, make_writer: WriterFactory) -> None:
    """A value with a lone surrogate (``json.loads('"\\ud800"')`` makes one) is not valid UTF-8;
    its ref still gives back exactly its bytes, whose sha256 is the ref, and a value encoded late
    (LateJSON, on the writer's thread) gives back what ``encode`` makes of it."""
    lone = {"text": json.loads('"caf\\u00e9 \\ud800 end"'), "pad": "p" * 5000}
    data = encode_bytes(lone)
    sha = hashlib.sha256(data).hexdigest()
    late = [lone, "x" * 300_000]
    writer = make_writer(store_url)
    assert writer.offer_payload(sha, data)
    assert writer.offer_payload("f" * 64, LateJSON(late, 300_000))
    assert writer.flush(30)
    reader = TraceReader(parse_location(store_url))
    try:
        stored = reader.payload(PAYLOAD_REF_PREFIX + sha)
        assert stored == data and hashlib.sha256(stored).hexdigest() == sha
        assert json.loads(stored.decode("utf-8", "surrogatepass")) == lone
        assert reader.payload(PAYLOAD_REF_PREFIX + "f" * 64) == encode_bytes(late)
    finally:
        reader.close()


@pytest.mark.parametrize("store", ["store_url", "server_url"])
def test_bindings_longer_than_a_url_are_answered(
    store: str, request: pytest.FixtureRequest, filled: list[Any], make_writer: WriterFactory
) -> None:
    """A run of a few hundred traces binds a few hundred ids: past 4 KiB clickhouse-connect sends
    the query and its bindings as a multipart form, which the embedded store's owner reads too."""
    url = request.getfixturevalue(store)
    if store == "server_url":
        writer = make_writer(url)
        for trace in filled:
            assert writer.offer(trace)
        assert writer.flush(30)
    ids = [t.id for t in filled[:3]] + [f"absent-{i:032x}" for i in range(300)]
    found = query(url, "SELECT id FROM llm_traces FINAL WHERE id IN {ids:Array(String)}", ids=ids)
    assert sorted(row[0] for row in found) == sorted(t.id for t in filled[:3])
    with TraceReader(url) as reader:
        assert reader.spans(ids) == []  # a table with no such spans: an empty answer, not an error
