"""A byte-bounded queue drained in batches by background threads (one unless a sink asks for more).

The base of every sink that does I/O: ``enqueue`` is the only thing the request path
calls, and it never blocks on I/O and never raises. Subclasses implement
``write_batch``, and may ``prepare`` items soon after they arrive. Workers flush at exit
and start fresh in a forked child.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import weakref
from collections import deque
from typing import Any

from llmtel.exporters import at_exit
from llmtel.exporters.self_metrics import dropped
from llmtel.instrumentation.selftelemetry import report_error


class BatchWorker:
    """Queue bounded by ``max_queue_bytes``; batches of at most ``batch_max_rows`` items or
    ``batch_max_bytes`` bytes, written at least every ``flush_interval`` seconds by ``threads``
    threads (more than one lets a sink prepare a batch while another is in a GIL-free write).

    A subclass that sets ``prepare_every`` has its items passed through ``prepare`` by the first
    thread each time that many have arrived, well before the next write. That is for items
    that hold many objects (a finished span, a call record): an item waiting a whole flush
    interval outlives two garbage collections and is promoted to the oldest generation, and
    enough such promotions set off a full collection on whichever thread trips it, usually
    the app's. Prepared into plain values, the collector stops tracking them.

    A subclass that sets ``spills`` keeps its queue from filling when writes fall behind (a
    store that is slow or hung): once more than half of ``max_queue_bytes`` waits, a thread of
    its own passes the oldest items to ``spill`` (to disk, say) until a quarter waits, so the
    request path keeps finding room and nothing is refused."""

    prepare_every = 0  # items arrived before the first thread prepares them; 0: never
    spills = False

    def __init__(
        self,
        name: str,
        *,
        max_queue_bytes: int = 64 << 20,
        batch_max_rows: int = 5000,
        batch_max_bytes: int = 16 << 20,
        flush_interval: float = 1.0,
        threads: int = 1,
    ) -> None:
        self.name = name
        self.threads = threads
        self.max_queue_bytes = max_queue_bytes
        self.batch_max_rows = batch_max_rows
        self.batch_max_bytes = batch_max_bytes
        self.flush_interval = flush_interval
        self._attrs = {"exporter": name}
        self._reset()
        at_exit.register(self)
        weak = weakref.ref(self)

        def in_child() -> None:
            worker = weak()
            if worker is not None:
                worker._after_fork()

        os.register_at_fork(after_in_child=in_child)

    def _reset(self) -> None:
        lock = threading.Lock()
        self._cond = threading.Condition(lock)
        self._spill_wake = threading.Condition(lock)  # the spill thread's own: notify() wakes a writer
        self._items: deque[Any] = deque()
        self._sizes: deque[int] = deque()  # beside the items, not paired in a tuple per item
        self._bytes = 0
        self._accepted = 0
        self._taken = 0  # the index of the first item in the queue, counted since the worker started
        self._prepared_to = 0  # items before this index are prepared (or taken)
        self._flush_wanted = False
        self._spilling = False  # past half of the bound, until back under a quarter
        self._stopping = False
        self._closed = False
        self._pool: list[threading.Thread] = []
        self._in_flight: dict[int, tuple[int, list[Any]]] = {}  # thread id -> (first item's index, batch)
        self.shutdown_deadline: float | None = None  # monotonic; set when shutdown begins
        self._pid = os.getpid()

    def _after_fork(self) -> None:
        """In a forked child: own queue and thread; the parent's queued items stay the parent's."""
        self._reset()
        self.after_fork()
        at_exit.flush_at_multiprocessing_exit()

    def after_fork(self) -> None:
        """Subclasses drop connections inherited from the parent here."""

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    @property
    def accepted(self) -> int:
        """Items accepted since the worker started (in this process)."""
        return self._accepted

    @property
    def stopping(self) -> bool:
        """True once shutdown began: ``write_batch`` should stop retrying and keep data safe."""
        return self._stopping

    def enqueue(self, item: Any, size: int, count_drop: bool = True) -> bool:
        """Accept ``item`` (about ``size`` bytes) unless the queue is full or closed. Never blocks.
        A refusal is counted unless ``count_drop`` is False (the caller tries a smaller item)."""
        with self._cond:
            if self._closed:
                reason = "shutdown"
            elif self._bytes + size > self.max_queue_bytes:
                reason = "queue_full"
            else:
                self._items.append(item)
                self._sizes.append(size)
                self._bytes += size
                self._accepted += 1
                if self.spills and not self._spilling and self._bytes > self.max_queue_bytes // 2:
                    self._spilling = True
                    self._spill_wake.notify()
                elif self._batch_due():
                    self._cond.notify()
                elif self._unprepared() == self.prepare_every:
                    self._cond.notify_all()  # the first thread prepares; notify() might wake another
                if not self._pool:
                    self._start()
                reason = ""
        if reason:
            if count_drop:
                dropped.add(1, {**self._attrs, "reason": reason})
            return False
        return True

    def _start(self) -> None:
        for n in range(self.threads):
            thread = threading.Thread(target=self._run, args=(n == 0,), name=f"{self.name}-{n}", daemon=True)
            self._pool.append(thread)
            thread.start()
        if self.spills:
            thread = threading.Thread(target=self._spill_run, name=f"{self.name}-spill", daemon=True)
            self._pool.append(thread)
            thread.start()

    def _written_through(self) -> int:
        """Every item accepted before this index is written (or given up on)."""
        return min((start for start, _ in self._in_flight.values()), default=self._taken)

    def _unprepared(self) -> int:
        return len(self._items) - (self._prepared_to - self._taken)

    def _batch_due(self) -> bool:
        return len(self._items) >= self.batch_max_rows or self._bytes >= self.batch_max_bytes

    def _take_batch(self) -> list[Any]:
        batch: list[Any] = []
        size = 0
        while self._items and len(batch) < self.batch_max_rows:
            item_size = self._sizes[0]
            if batch and size + item_size > self.batch_max_bytes:
                break
            self._sizes.popleft()
            batch.append(self._items.popleft())
            size += item_size
        self._bytes -= size
        return batch

    def _wait(self, deadline: float, first: bool) -> bool:
        """Under the lock, until a write is due (True) or, on the first thread, enough new
        items wait to be prepared (False)."""
        while not (self._stopping or self._flush_wanted or self._batch_due()):
            if first and self.prepare_every and self._unprepared() >= self.prepare_every:
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._cond.wait(remaining)
        return True

    def _prepare_new(self) -> None:
        """Prepare the items that arrived since the last time, outside the lock (the request
        path keeps enqueueing), then put each back where it now stands, unless a write took
        it meanwhile (that write prepared it itself)."""
        with self._cond:
            start = self._prepared_to
            chunk = list(itertools.islice(self._items, start - self._taken, None))
            self._prepared_to = start + len(chunk)
        try:
            prepared = self.prepare(chunk)
        except Exception as exc:  # they stay as they are; the write prepares them again
            report_error(f"{self.name}.prepare", exc)
            return
        with self._cond:  # items leave only from the left (writes) unless shutdown emptied the queue
            first = start - self._taken  # where the chunk's first item is now; below 0: taken
            for index in range(max(0, -first), min(len(prepared), len(self._items) - first)):
                self._items[first + index] = prepared[index]

    def _run(self, first: bool) -> None:
        """One writer thread; only the first prepares items and runs the ``idle`` hook, so
        neither races with itself."""
        me = threading.get_ident()
        deadline: float | None = None  # a fresh interval after each write or idle tick, not after preparing
        while True:
            with self._cond:
                if deadline is None:
                    deadline = time.monotonic() + self.flush_interval
                batch: list[Any] | None = None
                if self._wait(deadline, first):
                    deadline = None
                    batch = self._take_batch()
                    if batch:
                        self._in_flight[me] = (self._taken, batch)
                        self._taken += len(batch)
                        self._prepared_to = max(self._prepared_to, self._taken)
                    else:
                        self._flush_wanted = False
                        self._cond.notify_all()
                        if self._stopping:
                            return
            if batch is None:
                self._prepare_new()
                continue
            if not batch:
                if first:
                    self._guarded("idle", self.idle)
                continue
            if not self._guarded("write_batch", self.write_batch, batch):
                dropped.add(len(batch), {**self._attrs, "reason": "write_error"})
            with self._cond:
                del self._in_flight[me]
                self._cond.notify_all()

    def _spill_run(self) -> None:
        """The spill thread: while ``_spilling``, the oldest items, a batch at a time, go to
        ``spill``. They count as written (``flush`` waits for them), as a write's would."""
        me = threading.get_ident()
        while True:
            with self._cond:
                while not (self._stopping or self._spilling):
                    self._spill_wake.wait()
                if self._stopping:  # the writers drain the rest; shutdown rescues what they cannot
                    return
                batch = self._take_batch()
                self._spilling = bool(batch) and self._bytes > self.max_queue_bytes // 4
                self._in_flight[me] = (self._taken, batch)
                self._taken += len(batch)
                self._prepared_to = max(self._prepared_to, self._taken)
            if batch and not self._guarded("spill", self.spill, batch):
                dropped.add(len(batch), {**self._attrs, "reason": "spill_error"})
            with self._cond:
                del self._in_flight[me]
                self._cond.notify_all()

    def _guarded(self, what: str, fn: Any, *args: Any) -> bool:
        """Run a subclass hook; a bug in it is reported, never kills the thread."""
        try:
            fn(*args)
            return True
        except Exception as exc:
            report_error(f"{self.name}.{what}", exc)
            return False

    def idle(self) -> None:
        """Runs on the worker thread after each ``flush_interval`` with nothing to write."""

    def prepare(self, items: list[Any]) -> list[Any]:
        """The items in the form they wait in, one for each, in order (``prepare_every``)."""
        return items

    def write_batch(self, batch: list[Any]) -> None:
        """Store ``batch`` (prepared items, or some not yet); runs on the worker thread.
        Raising counts the batch as dropped."""
        raise NotImplementedError

    def spill(self, items: list[Any]) -> None:
        """Keep ``items`` (the oldest queued) somewhere other than memory, for a subclass that
        ``spills``; runs on the spill thread. Raising counts them as dropped."""
        raise NotImplementedError

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything enqueued before this call is written; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._accepted
            if not self._pool or self._written_through() >= target:
                return True
            self._flush_wanted = True
            self._cond.notify_all()
            while self._written_through() < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def shutdown(self, timeout: float | None = None) -> None:
        """Write what is queued (within ``timeout``), then stop accepting and stop the thread."""
        if os.getpid() != self._pid:
            self._after_fork()
        deadline = None if timeout is None else time.monotonic() + timeout
        self.shutdown_deadline = deadline
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._stopping = True
            self._cond.notify_all()
            self._spill_wake.notify_all()
            pool = list(self._pool)
        for thread in pool:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        with self._cond:
            left = list(self._items)
            self._items.clear()
            self._sizes.clear()
            self._bytes = 0
            stuck = [batch for _, batch in sorted(self._in_flight.values(), key=lambda flight: flight[0])]
            left = [item for batch in stuck for item in batch] + left  # writes still hanging at the deadline
        if left:
            self.rescue(left)
        self.close()

    def rescue(self, items: list[Any]) -> None:
        """Items not written when the shutdown deadline passed (still queued, or in a write that
        has not returned); subclasses may keep them safe."""
        dropped.add(len(items), {**self._attrs, "reason": "shutdown_timeout"})

    def close(self) -> None:
        """Release resources after the thread stopped (subclasses close clients here)."""
