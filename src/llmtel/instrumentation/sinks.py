"""Where provider traces and oversized payloads go: the two interfaces, and the in-memory sink.

Both ``offer`` methods are called on the request path: they must only enqueue, never
block on I/O and never raise. The sinks that do I/O (the ClickHouse writer, the JSONL
sink) live in ``llmtel.exporters``; the in-memory sink serves tests and notebooks.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol, runtime_checkable

from opentelemetry.sdk.trace import ReadableSpan

from llmtel.instrumentation import provider_trace
from llmtel.instrumentation.records import LateJSON, LLMCall, Payload, ProviderTrace, Record
from llmtel.instrumentation.selftelemetry import traces_dropped


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

    def offer_payload(self, sha256: str, data: bytes | LateJSON, org_id: str | None = None) -> bool:
        """Enqueue one payload of ``org_id``; False when it was dropped (and counted). A
        :class:`LateJSON` is encoded on the sink's own thread."""
        ...


@runtime_checkable
class SpanSink(Protocol):
    """Takes finished spans (every one the app's tracer provider samples), stored as the
    OpenTelemetry Collector's ClickHouse exporter stores them (``otel_traces``)."""

    def offer_span(self, span: ReadableSpan) -> bool:
        """Enqueue one finished span; False when it was dropped (and counted). Called on the
        thread that ended the span."""
        ...


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

    def offer_payload(self, sha256: str, data: bytes | LateJSON, org_id: str | None = None) -> bool:
        encoded = Payload(sha256, data, org_id).encoded()
        with self._lock:
            self.payloads[sha256] = encoded
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
