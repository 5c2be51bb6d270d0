"""BatchWorker: the byte-bounded queue and writer threads under every sink that does I/O."""

from __future__ import annotations

import threading
import time
from typing import Any

from llmtel.exporters.background import BatchWorker
from tests.support.telemetry import Telemetry


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
