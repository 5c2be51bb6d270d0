"""The background batch worker through the JSONL sink: batching, bounds, flush, fork."""

from __future__ import annotations

import datetime
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from llmtel.instrumentation import JsonlSink, ProviderTrace
from llmtel.instrumentation.batching import BatchWorker

from .conftest import Telemetry


def record(n: int, payload: str = "") -> ProviderTrace:
    return ProviderTrace(
        id=f"id-{n}",
        trace_id="0" * 32,
        span_id=f"{n:016x}",
        parent_span_id=None,
        created_at=datetime.datetime.now(datetime.timezone.utc),
        duration_ms=1.0,
        provider="openai",
        operation="chat",
        request_json=payload,
    )


def rows(path: Path) -> list[dict[str, Any]]:
    file = path / "traces.jsonl"
    return [json.loads(line) for line in file.read_text().splitlines()] if file.exists() else []


def test_jsonl_sink_writes_in_batches_and_flushes(tmp_path: Path) -> None:
    sink = JsonlSink(str(tmp_path), batch_max_rows=10, flush_interval=60)
    for n in range(25):
        assert sink.offer(record(n))
    assert sink.offer_payload("ab" * 32, b'{"big":true}', "acme")
    assert sink.flush(timeout=10)
    assert [r["id"] for r in rows(tmp_path)] == [f"id-{n}" for n in range(25)]
    payload = json.loads((tmp_path / "payloads.jsonl").read_text())
    assert payload == {"sha256": "ab" * 32, "org_id": "acme", "data": '{"big":true}'}
    sink.shutdown(timeout=5)
    assert not sink.offer(record(99))  # closed: refused and counted


class SlowWorker(BatchWorker):
    def __init__(self, **options: Any) -> None:
        super().__init__("llmtel-slow-test", **options)
        self.release = threading.Event()
        self.written: list[Any] = []

    def write_batch(self, batch: list[Any]) -> None:
        self.release.wait(10)
        self.written.extend(batch)


def test_queue_is_bounded_by_bytes_and_drops_are_counted(tel: Telemetry) -> None:
    worker = SlowWorker(max_queue_bytes=10_000, batch_max_rows=1, flush_interval=0.01)
    before = tel.counter("llmtel.exporter.dropped", exporter="llmtel-slow-test", reason="queue_full")
    accepted = sum(worker.enqueue(n, 1000) for n in range(50))
    assert accepted <= 11  # 10 queued + at most one taken by the writer thread
    dropped = tel.counter("llmtel.exporter.dropped", exporter="llmtel-slow-test", reason="queue_full")
    assert dropped - before == 50 - accepted
    started = time.monotonic()
    worker.enqueue("x", 10**9)  # enqueue never blocks, even when full
    assert time.monotonic() - started < 0.1
    worker.release.set()
    assert worker.flush(timeout=10)
    assert len(worker.written) == accepted
    worker.shutdown(timeout=5)


def test_shutdown_respects_deadline_when_writer_hangs(tel: Telemetry) -> None:
    worker = SlowWorker(flush_interval=0.01)
    for n in range(5):
        worker.enqueue(n, 10)
    started = time.monotonic()
    assert not worker.flush(timeout=0.2)
    worker.shutdown(timeout=0.3)
    assert time.monotonic() - started < 2
    worker.release.set()


def test_forked_child_gets_its_own_queue(tmp_path: Path) -> None:
    sink = JsonlSink(str(tmp_path), flush_interval=60)
    sink.offer(record(1))  # queued in the parent, not yet written
    pid = os.fork()
    if pid == 0:  # child: must write only its own record, with its own thread
        try:
            sink.offer(record(2))
            sink.flush(timeout=10)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert [r["id"] for r in rows(tmp_path)] == ["id-2"]
    sink.flush(timeout=10)
    assert sorted(r["id"] for r in rows(tmp_path)) == ["id-1", "id-2"]
    sink.shutdown(timeout=5)


class GatedWorker(BatchWorker):
    """Two writer threads; the batch holding item 0 waits for ``release``, others write at once."""

    def __init__(self) -> None:
        super().__init__("llmtel-gated-test", batch_max_rows=1, flush_interval=0.01, threads=2)
        self.release = threading.Event()
        self.written: list[Any] = []
        self.rescued: list[Any] = []

    def write_batch(self, batch: list[Any]) -> None:
        if 0 in batch:
            self.release.wait(10)
        self.written.extend(batch)

    def rescue(self, items: list[Any]) -> None:
        self.rescued.extend(items)


def test_flush_with_two_threads_waits_for_an_earlier_batch_still_writing() -> None:
    worker = GatedWorker()
    worker.enqueue(0, 10)
    worker.enqueue(1, 10)
    deadline = time.monotonic() + 5
    while 1 not in worker.written and time.monotonic() < deadline:
        time.sleep(0.005)
    assert worker.written == [1]  # the second thread wrote item 1 while item 0 is held
    assert not worker.flush(timeout=0.2)  # item 0 is not written yet, so flush cannot say done
    worker.release.set()
    assert worker.flush(timeout=5)
    assert sorted(worker.written) == [0, 1]
    worker.shutdown(timeout=5)
    assert worker.rescued == []


def test_shutdown_hands_every_hanging_batch_to_rescue() -> None:
    worker = GatedWorker()
    for n in (0, 1, 2):
        worker.enqueue(n, 10)
    assert not worker.flush(timeout=0.2)
    worker.shutdown(timeout=0.2)
    assert worker.rescued == [0]  # 1 and 2 were written by the other thread; 0 hangs
    worker.release.set()


class PreparingWorker(BatchWorker):
    """Two writer threads; items are prepared each 4 arrivals."""

    prepare_every = 4

    def __init__(self, **options: Any) -> None:
        super().__init__("llmtel-preparing-test", threads=2, **options)
        self.written: list[Any] = []
        self.lock = threading.Lock()

    def prepare(self, items: list[Any]) -> list[Any]:
        return [("prepared", item) for item in items]

    def write_batch(self, batch: list[Any]) -> None:
        with self.lock:
            self.written.extend(batch)


def queued_prepared(worker: PreparingWorker) -> int:
    return sum(isinstance(item, tuple) for item in list(worker._items))


def test_items_wait_in_their_prepared_form() -> None:
    worker = PreparingWorker(flush_interval=60)
    for n in range(40):
        assert worker.enqueue(n, 10)
    least = 40 - (PreparingWorker.prepare_every - 1)  # fewer than prepare_every may wait for the write
    deadline = time.monotonic() + 5
    while queued_prepared(worker) < least and time.monotonic() < deadline:
        time.sleep(0.005)
    assert queued_prepared(worker) >= least
    assert worker.flush(timeout=10)
    prepared = [item for item in worker.written if isinstance(item, tuple)]
    assert prepared == [("prepared", n) for n in range(len(prepared))]  # in order, each prepared once
    assert worker.written[len(prepared) :] == list(range(len(prepared), 40))  # the rest as they came
    worker.shutdown(timeout=5)


def test_items_taken_while_being_prepared_are_each_written_once() -> None:
    worker = PreparingWorker(batch_max_rows=50, flush_interval=0.02)  # writes keep taking items mid-preparation

    def produce(first: int) -> None:
        for n in range(first, first + 500):
            assert worker.enqueue(n, 10)
            if n % 50 == 0:
                time.sleep(0.001)  # let the writer threads run between arrivals, as an app's I/O does

    threads = [threading.Thread(target=produce, args=(k * 500,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert worker.flush(timeout=10)
    unwrapped = [item[1] if isinstance(item, tuple) else item for item in worker.written]
    assert sorted(unwrapped) == list(range(2000))  # nothing lost, nothing twice, prepared or not
    assert any(isinstance(item, tuple) for item in worker.written)  # preparation did run alongside
    worker.shutdown(timeout=5)
