"""Putting a record on a writer's queue, cut to size when it does not fit whole."""

from __future__ import annotations

from llmtel.exporters.background import BatchWorker
from llmtel.instrumentation import provider_trace
from llmtel.instrumentation.records import ProviderTrace, Record
from llmtel.instrumentation.selftelemetry import bodies_cut, log_once, report_error, traces_dropped


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
        log_once(
            "dropped.queue_full",
            "llmtel: the writer's queue is full (LLMTEL_QUEUE_MAX_BYTES=%d) and the store is not taking rows; "
            "provider traces are being dropped (counted in llmtel.exporter.dropped{reason=queue_full}; further "
            "ones are not logged)",
            worker.max_queue_bytes,
        )
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
