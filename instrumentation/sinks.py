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

from .batching import BatchWorker
from .records import Payload, PendingTrace, ProviderTrace, split


@runtime_checkable
class TraceSink(Protocol):
    """Takes finished provider traces."""

    def offer(self, trace: ProviderTrace) -> bool:
        """Enqueue ``trace``; False when it was dropped (and counted)."""
        ...

    def flush(self, timeout: float | None = None) -> bool: ...

    def shutdown(self, timeout: float | None = None) -> None: ...


@runtime_checkable
class PayloadSink(Protocol):
    """Takes oversized values, content-addressed by the sha256 of their UTF-8 JSON bytes."""

    def offer_payload(self, sha256: str, data: bytes, org_id: str | None = None) -> bool:
        """Enqueue one payload of ``org_id``; False when it was dropped (and counted)."""
        ...


class InMemorySink:
    """Keeps traces and payloads in lists/dicts: for tests and notebooks. Bounded by count."""

    def __init__(self, max_traces: int = 100_000) -> None:
        self.traces: list[ProviderTrace] = []
        self.payloads: OrderedDict[str, bytes] = OrderedDict()
        self._max = max_traces
        self._lock = threading.Lock()

    def offer(self, trace: ProviderTrace) -> bool:
        with self._lock:
            if len(self.traces) >= self._max:
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

    builds_pending = True  # takes PendingTrace: records are built on the writer thread

    def __init__(self, directory: str, **worker_options: Any) -> None:
        super().__init__("llmtel-jsonl", **worker_options)
        self.directory = directory
        os.makedirs(directory, exist_ok=True)

    def offer(self, trace: ProviderTrace | PendingTrace) -> bool:
        return self.enqueue(trace, trace.approx_bytes())

    def offer_payload(self, sha256: str, data: bytes, org_id: str | None = None) -> bool:
        return self.enqueue(Payload(sha256, data, org_id), len(data) + 64)

    def write_batch(self, batch: list[Any]) -> None:
        traces, payloads = split(batch)
        if traces:
            with open(os.path.join(self.directory, "traces.jsonl"), "a", encoding="utf-8") as f:
                for trace in traces:
                    f.write(json.dumps(trace.to_dict(), default=str, ensure_ascii=False) + "\n")
        if payloads:
            with open(os.path.join(self.directory, "payloads.jsonl"), "a", encoding="utf-8") as f:
                for sha, data, org_id in payloads:
                    row = {"sha256": sha, "org_id": org_id, "data": data.decode("utf-8", "replace")}
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
