"""The exporters' own metrics: what was written, retried, spooled, replayed, dropped, quarantined,
and what waits in each worker's queue."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from llmtel import __version__
from llmtel.exporters.at_exit import live_workers

_meter = metrics.get_meter("llmtel", __version__)
written = _meter.create_counter("llmtel.exporter.written", unit="{item}", description="Items stored")
retried = _meter.create_counter("llmtel.exporter.retried", unit="{batch}", description="Batch retries")
spooled = _meter.create_counter("llmtel.exporter.spooled", unit="{item}", description="Items spooled to disk")
replayed = _meter.create_counter("llmtel.exporter.replayed", unit="{item}", description="Spooled items stored")
dropped = _meter.create_counter("llmtel.exporter.dropped", unit="{item}", description="Items lost, by reason")
quarantined = _meter.create_counter(
    "llmtel.exporter.quarantined", unit="{item}", description="Rows the store rejected, kept in the quarantine"
)


def _observe_queue_bytes(options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(w.queued_bytes, {"exporter": w.name}) for w in live_workers()]


def _observe_accepted(options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(w.accepted, {"exporter": w.name}) for w in live_workers()]


# Read from the workers' own counts when metrics are collected: a counter ``add`` per item
# would cost the request path more than the enqueue itself.
_meter.create_observable_counter(
    "llmtel.exporter.enqueued", callbacks=[_observe_accepted], unit="{item}", description="Items accepted"
)
_meter.create_observable_gauge(
    "llmtel.exporter.queue_bytes",
    callbacks=[_observe_queue_bytes],
    unit="By",
    description="Bytes waiting in the in-memory queue",
)
