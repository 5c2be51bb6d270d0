"""Full request, assembled response and usage of an LLM call, carried beside its span.

Instrumentations fill an :class:`LLMCall` while the call runs and :func:`hand_over` it just
before ending the span; :class:`~llmtel.instrumentation.processor.ProviderTraceProcessor`
takes it in ``on_end``. Nothing here becomes a span attribute, so payload size never
reaches the OTLP exporter.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .context import LLMContext, current
from .selftelemetry import traces_dropped
from .usage import Usage

MAX_PENDING: Final = 100_000


@dataclass(slots=True)
class LLMCall:
    """What one provider call sent and received. ``request``/``response`` may be raw JSON bytes
    (straight from the SDK's HTTP layer, not re-serialised) or Python values."""

    provider: str
    operation: str
    request_model: str | None = None
    is_stream: bool = False
    request: Any = None
    request_params: Mapping[str, Any] = field(default_factory=dict)
    # When set, ``request_params`` is the body as sent and this picks the parameters from it
    # where the record is built (the writer thread), not on the request path.
    params_of: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    response: Any = None
    usage: Usage | None = None
    response_id: str | None = None
    response_model: str | None = None
    finish_reasons: Sequence[str] = ()  # a tuple: it is also the span attribute, not a copy
    first_chunk_ns: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    incomplete: bool = False
    context: LLMContext | None = field(default_factory=current)  # the llm_context where the call began


class _Pending:
    """span_id → LLMCall, filled only while a ProviderTraceProcessor is installed."""

    def __init__(self) -> None:
        self.calls: dict[int, LLMCall] = {}
        self.consumers = 0
        self.lock = threading.Lock()


_pending = _Pending()


def set_consumer(active: bool) -> None:
    """Called by the processor: hand-overs are kept only while someone will take them."""
    with _pending.lock:
        _pending.consumers += 1 if active else -1
        if _pending.consumers <= 0:
            _pending.consumers = 0
            _pending.calls.clear()


def wanted() -> bool:
    """True when a processor will take the call; instrumentations skip payload work otherwise."""
    return _pending.consumers > 0


def hand_over(span_id: int, call: LLMCall) -> None:
    """Attach ``call`` to the span about to end. Bounded: a span that never ends cannot leak."""
    if not _pending.consumers:
        return
    if len(_pending.calls) < MAX_PENDING:
        _pending.calls[span_id] = call
    else:
        traces_dropped.add(1, {"reason": "side_channel_full"})


def take(span_id: int) -> LLMCall | None:
    """The call handed over for this span, removed from the channel."""
    return _pending.calls.pop(span_id, None)
