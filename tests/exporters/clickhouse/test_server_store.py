"""The server path (HTTP) of the writer, against the stand-in for a ClickHouse server
(tests/support/clickhouse_standin.py: ClickHouse's HTTP interface, executing on real chdb), with faults."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from llmtel.exporters.clickhouse.location import parse_location
from llmtel.exporters.clickhouse.reader import TraceReader
from llmtel.exporters.clickhouse.writer import ClickHouseWriter
from llmtel.instrumentation import Settings, active
from llmtel.loopback import ProviderServer
from llmtel.loopback import openai_replies as ofx
from tests.support.clickhouse_standin import ClickHouseStandIn
from tests.support.telemetry import Telemetry
from tests.support.trace_records import full_trace


@pytest.fixture
def writer(server_url: str, tmp_path: Path) -> Iterator[ClickHouseWriter]:
    w = ClickHouseWriter(
        parse_location(server_url),
        spool_dir=str(tmp_path / "spool"),
        flush_interval=0.05,
        retry_initial_s=0.01,
        retry_max_s=0.05,
    )
    yield w
    w.shutdown(10)


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def stored_ids(url: str) -> list[str]:
    with TraceReader(url) as reader:
        return [t.id for t in reader.traces(limit=10_000).traces]


def test_inserts_ask_the_server_to_confirm_async_inserts(
    writer: ClickHouseWriter, server_url: str, standin: ClickHouseStandIn
) -> None:
    trace = full_trace()
    assert writer.offer(trace) and writer.flush(30)
    [insert] = standin.inserts("llm_traces")
    assert insert.settings["async_insert"] == "1" and insert.settings["wait_for_async_insert"] == "1"
    assert len(insert.settings["insert_deduplication_token"]) == 64
    assert stored_ids(server_url) == [trace.id]


def test_transient_errors_are_retried(
    writer: ClickHouseWriter, server_url: str, standin: ClickHouseStandIn, tel: Telemetry
) -> None:
    writer.offer(full_trace())  # connects and creates the schema first
    assert writer.flush(30)
    before = tel.counter("llmtel.exporter.retried")
    standin.faults.fail_next = 2
    trace = full_trace()
    assert writer.offer(trace) and writer.flush(30)
    assert trace.id in stored_ids(server_url)
    assert tel.counter("llmtel.exporter.retried") - before == 2
    assert writer.spool.pending() == []


def test_outage_spools_then_replays_every_trace_once(
    writer: ClickHouseWriter, server_url: str, standin: ClickHouseStandIn, tel: Telemetry
) -> None:
    first = full_trace()
    assert writer.offer(first) and writer.flush(30)
    spooled_before = tel.counter("llmtel.exporter.spooled")
    standin.faults.down = True
    during = [full_trace() for _ in range(30)]
    for i, trace in enumerate(during):
        assert writer.offer(trace)
        if i % 10 == 9:
            assert writer.flush(30)  # three batches, all spooled
    assert len(writer.spool.pending()) >= 3
    assert tel.counter("llmtel.exporter.spooled") - spooled_before == 30
    standin.faults.down = False
    after = full_trace()
    assert writer.offer(after) and writer.flush(30)  # the first insert that works replays the spool
    wait_for(lambda: not glob.glob(writer.spool.directory + "/*"))  # claimed files count too
    ids = stored_ids(server_url)
    assert sorted(ids) == sorted(t.id for t in [first, *during, after])  # each exactly once
    assert tel.counter("llmtel.exporter.replayed") >= 30


def test_a_lost_reply_does_not_duplicate(writer: ClickHouseWriter, server_url: str, standin: ClickHouseStandIn) -> None:
    writer.offer(full_trace())
    assert writer.flush(30)
    standin.faults.drop_after_insert = 1  # the rows are stored but the client sees a dropped connection
    trace = full_trace()
    assert writer.offer(trace) and writer.flush(30)
    assert stored_ids(server_url).count(trace.id) == 1
    assert len([s for s in standin.inserts("llm_traces")]) == 3  # the retry did reach the server


def test_only_past_the_spool_budget_is_anything_dropped(
    server_url: str, standin: ClickHouseStandIn, tmp_path: Path, tel: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    writer = ClickHouseWriter(
        parse_location(server_url), spool_dir=str(tmp_path / "spool"), spool_max_bytes=6000, flush_interval=0.05
    )
    try:
        standin.faults.down = True
        dropped_before = tel.counter("llmtel.exporter.dropped", reason="spool_full")
        for _ in range(3):
            assert writer.offer(full_trace(request_json='{"pad":"' + "x" * 2500 + '"}'))
            assert writer.flush(30)
        size = sum(os.path.getsize(p) for p in writer.spool.pending())
        assert 0 < size <= 6000
        assert tel.counter("llmtel.exporter.dropped", reason="spool_full") - dropped_before >= 1
        assert sum("spool" in r.getMessage() and "is full" in r.getMessage() for r in caplog.records) == 1
    finally:
        standin.faults.down = False
        writer.shutdown(10)


def test_unwritable_spool_is_counted_and_logged_once(
    server_url: str, standin: ClickHouseStandIn, tmp_path: Path, tel: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the spool directory should be")
    writer = ClickHouseWriter(parse_location(server_url), spool_dir=str(blocker / "spool"), flush_interval=0.05)
    try:
        standin.faults.down = True
        before = tel.counter("llmtel.exporter.dropped", reason="spool_error")
        for _ in range(3):
            assert writer.offer(full_trace())  # the app's side never notices
            assert writer.flush(30)
        assert tel.counter("llmtel.exporter.dropped", reason="spool_error") - before == 3
        assert sum("cannot write to the spool" in r.getMessage() for r in caplog.records) == 1
    finally:
        standin.faults.down = False
        writer.shutdown(10)


@pytest.mark.parametrize("fault", ["slow", "partial response", "5xx then reset"])
def test_faulty_server_retries_without_duplicates(
    fault: str, writer: ClickHouseWriter, server_url: str, standin: ClickHouseStandIn
) -> None:
    writer.offer(full_trace())
    assert writer.flush(30)
    if fault == "slow":
        standin.faults.delay_s = 0.5
    elif fault == "partial response":
        standin.faults.partial_next = 1
    else:
        standin.faults.fail_next = 1
        standin.faults.drop_after_insert = 1
    traces = [full_trace() for _ in range(5)]
    for trace in traces:
        assert writer.offer(trace)
    assert writer.flush(60)
    standin.faults.delay_s = 0
    wait_for(lambda: not glob.glob(writer.spool.directory + "/*"))  # claimed files count too
    ids = stored_ids(server_url)
    assert all(ids.count(t.id) == 1 for t in traces)


def test_hung_server_never_slows_offer_and_shutdown_keeps_its_deadline(
    server_url: str, standin: ClickHouseStandIn, tmp_path: Path
) -> None:
    writer = ClickHouseWriter(parse_location(server_url), spool_dir=str(tmp_path / "spool"), flush_interval=0.05)
    writer.offer(full_trace())
    assert writer.flush(30)
    standin.faults.delay_s = 30  # accepts, never answers in time
    try:
        timings = []
        for _ in range(2000):
            trace = full_trace()
            start = time.perf_counter()
            assert writer.offer(trace)
            timings.append(time.perf_counter() - start)
        timings.sort()
        assert timings[int(len(timings) * 0.99)] < 0.005  # the request path never waits on the store
        start = time.perf_counter()
        writer.shutdown(timeout=2)
        assert time.perf_counter() - start < 4
        spooled_rows = sum(len(Path(p).read_text().splitlines()) - 1 for p in writer.spool.pending())
        assert spooled_rows == 2000  # queued and hanging alike are on disk, not lost
    finally:
        standin.faults.delay_s = 0


def test_a_store_slower_than_the_calls_spools_the_backlog_and_drops_nothing(
    server_url: str, standin: ClickHouseStandIn, tmp_path: Path, server: ProviderServer, tel: Telemetry
) -> None:
    """Real OpenAI calls with 100 KB prompts while each insert takes 3 s, against a 4 MB queue:
    five times what the queue holds arrives, the oldest wait in the spool, and once the store
    keeps up every call is a whole row, exactly once."""
    writer = ClickHouseWriter(
        parse_location(server_url), spool_dir=str(tmp_path / "spool"), flush_interval=0.05, max_queue_bytes=4 << 20
    )
    active.install(active.Setup(Settings(), payload_sink=writer, trace_sink=writer))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0)
    server.keep_requests = False
    server.always("/v1/chat/completions", ofx.chat("ok"))
    prompt = "p" * 100_000
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "warm"}])
        assert writer.flush(30)
        dropped_before = tel.counter("llmtel.exporter.dropped")
        spooled_before = tel.counter("llmtel.exporter.spooled")
        cut_before = tel.counter("llmtel.provider_traces.bodies_cut")  # the counters are the session's
        standin.faults.delay_s = 3
        for i in range(200):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"{i} {prompt}"}])
            assert writer.queued_bytes <= 4 << 20
        standin.faults.delay_s = 0
        assert writer.flush(60)
        wait_for(lambda: not glob.glob(writer.spool.directory + "/*"), timeout=60)
    finally:
        standin.faults.delay_s = 0
        server.keep_requests = True
        writer.shutdown(10)
    with TraceReader(server_url) as reader:
        rows = reader.traces(limit=1000).traces
    bodies = [json.loads(row.request_json) for row in rows if len(row.request_json) > 1000]
    prompts = sorted(body["messages"][0]["content"] for body in bodies)
    assert prompts == sorted(f"{i} {prompt}" for i in range(200))  # each call once, its body whole
    assert tel.counter("llmtel.exporter.spooled") - spooled_before > 0
    assert tel.counter("llmtel.exporter.dropped") - dropped_before == 0
    assert tel.counter("llmtel.provider_traces.bodies_cut") - cut_before == 0


def test_hung_store_leaves_the_instrumented_call_latency_alone(
    server_url: str, standin: ClickHouseStandIn, tmp_path: Path, server: ProviderServer, tel: Telemetry
) -> None:
    """p99 of real instrumented OpenAI calls, store healthy vs store hung: the same within noise."""
    writer = ClickHouseWriter(parse_location(server_url), spool_dir=str(tmp_path / "spool"), flush_interval=0.05)
    active.install(active.Setup(Settings(), payload_sink=writer, trace_sink=writer))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0)
    server.keep_requests = False
    server.always("/v1/chat/completions", ofx.chat("ok"))

    def p99() -> float:
        timings = []
        for _ in range(400):
            start = time.perf_counter()
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            timings.append(time.perf_counter() - start)
        return sorted(timings)[int(len(timings) * 0.99)]

    try:
        p99()  # warm up
        healthy = p99()
        assert writer.flush(30)
        standin.faults.delay_s = 30
        hung = p99()
        assert hung < healthy * 2 + 0.002, (healthy, hung)
        start = time.perf_counter()
        writer.shutdown(timeout=2)
        assert time.perf_counter() - start < 4
    finally:
        standin.faults.delay_s = 0
        server.keep_requests = True


def test_a_batch_claimed_by_a_dead_process_is_replayed_by_the_next_insert(
    writer: ClickHouseWriter, server_url: str, standin: ClickHouseStandIn, tmp_path: Path
) -> None:
    """A process killed while replaying leaves its batch renamed ``.<pid>.claimed``; the next
    process's first replay must take it, not only release it for some later scan."""
    writer.offer(full_trace())  # connect and create the schema
    assert writer.flush(30)
    orphan = full_trace()
    standin.faults.down = True
    try:
        assert writer.offer(orphan) and writer.flush(30)  # store down: spooled
    finally:
        standin.faults.down = False
    writer.shutdown(10)
    restarted = ClickHouseWriter(parse_location(server_url), spool_dir=writer.spool.directory, flush_interval=60)
    (batch,) = restarted.spool.pending()
    gone = subprocess.Popen(["true"])
    gone.wait()
    os.replace(batch, f"{batch}.{gone.pid}.claimed")  # claimed by a process that died while this one runs
    after = full_trace()
    try:
        assert restarted.offer(after) and restarted.flush(30)  # its first insert replays the spool
        wait_for(lambda: not glob.glob(writer.spool.directory + "/*"))
    finally:
        restarted.shutdown(10)
    assert {orphan.id, after.id} <= set(stored_ids(server_url))
