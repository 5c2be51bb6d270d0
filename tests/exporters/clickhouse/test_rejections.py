"""No value can block storage: hostile provider numbers and ids are stored faithfully, and rows
the store refuses anyway are quarantined with its error while the rest of their batch is
stored. Real SDK, real embedded ClickHouse (chdb)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import openai
import pytest

from llmtel.exporters.cli import main as cli
from llmtel.exporters.clickhouse import schema
from llmtel.exporters.clickhouse.location import connect, parse_location
from llmtel.exporters.clickhouse.reader import TraceReader
from llmtel.exporters.clickhouse.rows import trace_row
from llmtel.exporters.clickhouse.spool import Spool
from llmtel.exporters.clickhouse.writer import ClickHouseWriter
from llmtel.instrumentation import active
from llmtel.loopback import ProviderServer, Reply
from llmtel.loopback import openai_replies as fx
from tests.support.telemetry import Telemetry
from tests.support.trace_records import bare_trace

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def writer(store_url: str, tmp_path: Path, tel: Telemetry) -> Iterator[ClickHouseWriter]:
    """The embedded store as the sink of every instrumented call in the test."""
    w = ClickHouseWriter(parse_location(store_url), spool_dir=str(tmp_path / "spool"), flush_interval=0.05)
    active.install(active.Setup(active.setup.settings, payload_sink=w, trace_sink=w))
    yield w
    w.shutdown(10)


def hostile(n: int) -> Reply:
    """Replies whose numbers and ids no column is made for (seen from proxies and local models)."""
    body = fx.completion(f"answer {n}", completion_id=f"chatcmpl-{n}")
    kind = n % 5
    if kind == 0:
        body["usage"]["prompt_tokens"] = -1
    elif kind == 1:
        body["usage"]["completion_tokens"] = 1e20
    elif kind == 2:
        body["id"] = 12345678901234567890123
    elif kind == 3:
        body["usage"]["total_tokens"] = 2**64
        body["model"] = {"name": "not a string"}
    return Reply.json(body)


def test_hostile_numbers_and_ids_are_stored_not_lost(
    server: ProviderServer, writer: ClickHouseWriter, store_url: str, tmp_path: Path
) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    for n in range(55):
        server.expect(CHAT, hostile(n))
        result = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert result.choices[0].message.content == f"answer {n}"  # the app sees what the SDK gave it
    assert writer.flush(30)
    with TraceReader(store_url) as reader:
        rows = reader.traces(limit=100).traces
    assert len(rows) == 55
    by_answer = {json.loads(r.response_json)["choices"][0]["message"]["content"]: r for r in rows}
    assert (
        by_answer["answer 0"].input_tokens is None
        and json.loads(by_answer["answer 0"].response_json)["usage"]["prompt_tokens"] == -1
    )
    assert by_answer["answer 1"].output_tokens is None
    assert by_answer["answer 2"].response_id == "12345678901234567890123"
    assert by_answer["answer 3"].total_tokens is not None and by_answer["answer 3"].response_model is None
    assert by_answer["answer 4"].output_tokens == 3
    assert Spool(str(tmp_path / "spool"), 1 << 30).pending() == []
    assert Spool(str(tmp_path / "spool"), 1 << 30).quarantine().summary().rows == 0


def test_rows_the_store_refuses_are_quarantined_and_the_rest_stored(
    store_url: str, tmp_path: Path, tel: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    """An operator's CHECK constraint refuses some rows: the batch is split, the others are
    stored, the refused ones kept with the store's error, counted, logged, shown and replayable."""
    location = parse_location(store_url)
    client = connect(location, database=False)
    schema.migrate(client, schema.Layout(location.database))
    table = f"{schema.quote(location.database)}.{schema.TRACES}"
    client.command(f"ALTER TABLE {table} ADD CONSTRAINT sane CHECK ifNull(input_tokens, 0) < 1000000")
    spool_dir = str(tmp_path / "spool")
    writer = ClickHouseWriter(location, spool_dir=spool_dir, flush_interval=60)
    traces = [bare_trace(input_tokens=10_000_000 if n in (3, 17) else n) for n in range(40)]
    for trace in traces:
        assert writer.offer(trace)
    assert writer.flush(30)
    with TraceReader(store_url) as reader:
        stored = {t.id for t in reader.traces(limit=100).traces}
    assert stored == {t.id for n, t in enumerate(traces) if n not in (3, 17)}
    assert tel.counter("llmtel.exporter.quarantined", table="llm_traces") >= 2
    assert any("VIOLATED_CONSTRAINT" in r.getMessage() for r in caplog.records)
    out = io.StringIO()
    assert cli(["--url", store_url, "db", "status", "--spool-dir", spool_dir], out=out) == 0
    assert "quarantine: 2 rows the store rejected" in out.getvalue() and "469" in out.getvalue()
    writer.shutdown(10)

    client.command(f"ALTER TABLE {table} DROP CONSTRAINT sane")  # the operator fixes the table
    out = io.StringIO()
    assert cli(["--url", store_url, "db", "replay", "--spool-dir", spool_dir], out=out) == 0
    assert "replayed 2 rows" in out.getvalue()
    with TraceReader(store_url) as reader:
        assert {t.id for t in reader.traces(limit=100).traces} == {t.id for t in traces}
    assert Spool(spool_dir, 1 << 30).quarantine().summary().rows == 0
    client.close()


def test_a_spool_file_with_a_bad_row_replays_the_rest_and_is_never_retried(
    store_url: str, tmp_path: Path, tel: Telemetry
) -> None:
    """A batch spooled by an earlier version with a row no column takes (a negative count):
    its good rows are stored on the next replay and the bad one quarantined, not retried for ever."""
    spool = Spool(str(tmp_path / "spool"), 1 << 30)
    good = [bare_trace(input_tokens=n) for n in range(9)]
    bad: list[Any] = list(trace_row(replace(bare_trace(), input_tokens=5)))
    bad[schema_index("input_tokens")] = -1
    assert spool.put(
        "traces", "tok-1", [trace_row(t) for t in good[:5]] + [tuple(bad)] + [trace_row(t) for t in good[5:]]
    )
    writer = ClickHouseWriter(parse_location(store_url), spool_dir=str(tmp_path / "spool"), flush_interval=60)
    writer.replay(budget_s=None)
    writer.shutdown(10)
    with TraceReader(store_url) as reader:
        assert {t.id for t in reader.traces(limit=100).traces} == {t.id for t in good}
    assert spool.pending() == []
    held = spool.quarantine().summary()
    assert held.rows == 1 and any("input_tokens" in reason for reason in held.reasons)


def schema_index(column: str) -> int:
    from llmtel.exporters.clickhouse.rows import TRACE_COLUMNS

    return TRACE_COLUMNS.index(column)
