"""Where provider traces and oversized payloads go: the two interfaces and the simple sinks.

Both ``offer`` methods are called on the request path: they must only enqueue, never
block on I/O and never raise. The ClickHouse writer in ``llmtel.exporters`` is the
production implementation; the in-memory and JSONL sinks serve tests and small setups.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from typing import Any, Protocol, runtime_checkable

from . import provider_trace
from .batching import BatchWorker
from .records import LLMCall, Payload, ProviderTrace, Record
from .selftelemetry import bodies_cut, log_once, report_error, traces_dropped


@runtime_checkable
class TraceSink(Protocol):
    """Takes finished LLM calls; each becomes one provider trace (``provider_trace.build``)."""

    def offer(self, record: Record) -> bool:
        """Enqueue ``record``; False when it was dropped (and counted). Called on the request path."""
        ...

    def flush(self, timeout: float | None = None) -> bool: ...

    def shutdown(self, timeout: float | None = None) -> None: ...


@runtime_checkable
class PayloadSink(Protocol):
    """Takes oversized values, content-addressed by the sha256 of their UTF-8 JSON bytes."""

    def offer_payload(self, sha256: str, data: bytes, org_id: str | None = None) -> bool:
        """Enqueue one payload of ``org_id``; False when it was dropped (and counted)."""
        ...


def queue_record(worker: BatchWorker, call: Record) -> bool:
    """Enqueue ``call`` on ``worker``; a call too big for the queue (or one arriving while the
    queue is full) goes in with its bodies cut to a preview, size and sha256, so its row keeps
    the metadata and usage. The cut is counted and logged once."""
    size = call.approx_bytes()
    if isinstance(call, ProviderTrace):
        return worker.enqueue(call, size)
    if worker.enqueue(call, size, count_drop=False):
        return True
    reason = "too_big" if size > worker.max_queue_bytes else "queue_full"
    try:
        small = provider_trace.cut(call, reason)
    except Exception as exc:
        traces_dropped.add(1, {"reason": "cut_error"})
        report_error("sink.cut", exc)
        return False
    if not worker.enqueue(small, 1024 + 2 * provider_trace.PREVIEW_BYTES):
        return False
    bodies_cut.add(len(small.cut or ()), {"reason": reason})
    log_once(
        f"cut.{reason}",
        "llmtel: a %s call of %d bytes did not fit the writer's queue (%s, LLMTEL_QUEUE_MAX_BYTES=%d); its row "
        "keeps metadata, usage, a preview and the size and sha256 of its bodies (counted in "
        "llmtel.provider_traces.bodies_cut; further ones are not logged)",
        call.provider,
        size,
        reason,
        worker.max_queue_bytes,
    )
    return True


class InMemorySink:
    """Keeps traces and payloads in lists/dicts: for tests and notebooks. Bounded by count.
    Builds each row as it is offered (on the caller's thread): not for production."""

    def __init__(self, max_traces: int = 100_000) -> None:
        self.traces: list[ProviderTrace] = []
        self.payloads: OrderedDict[str, bytes] = OrderedDict()
        self._max = max_traces
        self._lock = threading.Lock()

    def offer(self, record: Record) -> bool:
        trace = provider_trace.build(record) if isinstance(record, LLMCall) else record
        with self._lock:
            if len(self.traces) >= self._max:
                traces_dropped.add(1, {"reason": "memory_sink_full"})
                return False
            self.traces.append(trace)
            return True

    def offer_payload(self, sha256: str, data: bytes, org_id: str | None = None) -> bool:
        with self._lock:
            self.payloads[sha256] = data
            while len(self.payloads) > self._max:
                self.payloads.popitem(last=False)
            return True

    def payload(self, ref_or_sha: str) -> bytes | None:
        """The stored bytes for a ``llmtel://llm_payloads/<sha>`` ref or a bare sha256."""
        return self.payloads.get(ref_or_sha.rsplit("/", 1)[-1])

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, timeout: float | None = None) -> None:
        return None


class JsonlSink(BatchWorker):
    """Appends traces to ``traces.jsonl`` and payloads to ``payloads.jsonl`` in ``directory``,
    from a background thread. Useful where no ClickHouse is installed."""

    def __init__(self, directory: str, **worker_options: Any) -> None:
        super().__init__("llmtel-jsonl", **worker_options)
        self.directory = directory
        os.makedirs(directory, exist_ok=True)

    def offer(self, record: Record) -> bool:
        return queue_record(self, record)

    def offer_payload(self, sha256: str, data: bytes, org_id: str | None = None) -> bool:
        return self.enqueue(Payload(sha256, data, org_id), len(data) + 64)

    def write_batch(self, batch: list[Any]) -> None:
        traces: list[ProviderTrace] = []
        payloads: list[Payload] = []
        for item in batch:
            if isinstance(item, Payload):
                payloads.append(item)
            elif isinstance(item, ProviderTrace):
                traces.append(item)
            else:
                try:
                    traces.append(provider_trace.build(item))
                except Exception as exc:
                    traces_dropped.add(1, {"reason": "build_error"})
                    report_error("jsonl.build", exc)
        if traces:
            with open(os.path.join(self.directory, "traces.jsonl"), "a", encoding="utf-8") as f:
                for trace in traces:
                    f.write(json.dumps(trace.to_dict(), default=str, ensure_ascii=False) + "\n")
        if payloads:
            with open(os.path.join(self.directory, "payloads.jsonl"), "a", encoding="utf-8") as f:
                for sha, data, org_id in payloads:
                    row = {"sha256": sha, "org_id": org_id, "data": data.decode("utf-8", "replace")}
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
