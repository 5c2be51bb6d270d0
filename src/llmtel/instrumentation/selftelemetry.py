"""llmtel's own health: every internal failure is logged once, counted, and swallowed.

The instruments come from the global meter (a proxy until a MeterProvider is set), so
counts recorded before ``configure()`` are not lost once a provider exists.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from opentelemetry import metrics

from llmtel import __version__

logger: Final = logging.getLogger("llmtel")

_meter = metrics.get_meter("llmtel", __version__)
internal_errors = _meter.create_counter(
    "llmtel.internal.errors", unit="{error}", description="Failures inside llmtel, swallowed"
)
payloads_offloaded = _meter.create_counter(
    "llmtel.payloads.offloaded", unit="By", description="Bytes of oversized values sent to the payload store"
)
payloads_dropped = _meter.create_counter(
    "llmtel.payloads.dropped", unit="{payload}", description="Oversized values that could not be stored"
)
attributes_dropped = _meter.create_counter(
    "llmtel.attributes.dropped", unit="{attribute}", description="Values left off a span whose budget was spent"
)
traces_dropped = _meter.create_counter(
    "llmtel.provider_traces.dropped", unit="{trace}", description="Provider traces that were not recorded"
)
traces_deduplicated = _meter.create_counter(
    "llmtel.provider_traces.deduplicated",
    unit="{span}",
    description="Other instrumentations' model-call spans not recorded: a llmtel call beneath them was",
)
spans_dropped = _meter.create_counter(
    "llmtel.spans.dropped", unit="{span}", description="Finished spans not stored in otel_traces, by reason"
)
bodies_cut = _meter.create_counter(
    "llmtel.provider_traces.bodies_cut",
    unit="{body}",
    description="Requests or responses too big to queue whole, stored as size, sha256 and a preview",
)
content_redaction_failures = _meter.create_counter(
    "llmtel.redaction.failures", unit="{payload}", description="Payloads dropped because the redaction hook raised"
)

_seen: set[str] = set()
_seen_lock = threading.Lock()


def log_once(key: str, message: str, *args: object, level: int = logging.WARNING) -> None:
    """Log ``message`` the first time ``key`` is seen in this process; later ones are silent."""
    with _seen_lock:
        if key in _seen:
            return
        _seen.add(key)
    logger.log(level, message, *args)


def report_error(where: str, exc: BaseException) -> None:
    """Record a failure inside llmtel: counted always, logged once per place, never raised."""
    try:
        internal_errors.add(1, {"where": where, "error.type": type(exc).__name__})
        with _seen_lock:
            first = where not in _seen
            _seen.add(where)
        if first:
            logger.warning("llmtel: internal error in %s (further ones are counted, not logged)", where, exc_info=exc)
    except Exception:  # pragma: no cover - logging itself failed; nothing more we can do
        pass
