"""ProviderTraceProcessor: where LLM calls become provider traces, one per provider call.

llmtel's own instrumentations do not wait for a span to end: a finished call is handed to
:func:`submit`, which offers it to each installed processor's sink (enqueue only), so a
call gets its row whether or not its span was sampled. The processor, a thin front like
the SDK's ``BatchSpanProcessor``, also:

- ``on_start``: stamps ``llm_context`` attributes on spans other code starts, and notes
  each foreign span's parent so a llmtel call can tell which spans it runs under;
- ``on_end``: turns a foreign GenAI model-call span (another instrumentation's, a
  framework's) into a row only when no llmtel call ran beneath it, so a call that both
  llmtel and, say, pydantic-ai or the official instrumentor trace is one row. Agent and
  tool spans (``invoke_agent``, ``execute_tool``, ...) are never rows.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from llmtel.instrumentation import active, context, semconv, usage
from llmtel.instrumentation.records import LLMCall
from llmtel.instrumentation.selftelemetry import report_error, spans_dropped, traces_deduplicated, traces_dropped
from llmtel.instrumentation.sinks import TraceSink

SCOPE_PREFIX: Final = "llmtel.instrumentation."  # the tracers of llmtel's provider instrumentations
MODEL_OPERATIONS: Final = frozenset({"chat", "text_completion", "generate_content", "embeddings", "completion"})
MAX_OPEN: Final = 100_000  # foreign spans followed at once; past it, new ones are not (bounded memory)
MAX_DEPTH: Final = 64

_processors: tuple[ProviderTraceProcessor, ...] = ()  # replaced whole: read without a lock
_registry_lock = threading.Lock()
_open: dict[int, int] = {}  # foreign span id → its parent span id (0: a root), while the span runs


def wanted() -> bool:
    """True when a processor will take calls; instrumentations skip payload work otherwise."""
    return bool(_processors)


def submit(call: LLMCall) -> None:
    """Offer one finished call to every installed processor (on the request path: enqueue only)."""
    for processor in _processors:
        processor.record(call)


def note_call_under(parent_span_id: int) -> None:
    """A llmtel call starts below ``parent_span_id``: the foreign spans up its chain describe
    the same call (a framework's chat span, another instrumentor's) or contain it."""
    span_id, depth = parent_span_id, 0
    while span_id and depth < MAX_DEPTH:
        parent = _open.get(span_id)
        if parent is None:
            return
        for processor in _processors:
            processor.covered.add(span_id)
        span_id, depth = parent, depth + 1


def _str(attrs: Mapping[str, Any], key: str) -> str | None:
    value = attrs.get(key)
    return None if value is None else str(value)


def call_from_span(span: ReadableSpan, operation: str) -> LLMCall:
    """A model call as far as a span from another instrumentation tells it."""
    attrs: Mapping[str, Any] = span.attributes or {}
    assert span.context is not None
    is_error = span.status.status_code is StatusCode.ERROR
    resource = span.resource
    return LLMCall(
        context=context.from_attributes(attrs),
        provider=str(attrs.get(semconv.GEN_AI_PROVIDER_NAME) or attrs.get("gen_ai.system") or "unknown"),
        operation=operation,
        request_model=_str(attrs, semconv.GEN_AI_REQUEST_MODEL),
        is_stream=bool(attrs.get(semconv.GEN_AI_REQUEST_STREAM, False)),
        usage=usage.from_attributes(attrs),
        response_id=_str(attrs, semconv.GEN_AI_RESPONSE_ID),
        response_model=_str(attrs, semconv.GEN_AI_RESPONSE_MODEL),
        finish_reasons=[str(f) for f in attrs.get(semconv.GEN_AI_RESPONSE_FINISH_REASONS) or ()],
        error_type=_str(attrs, semconv.ERROR_TYPE) if is_error else None,
        error_message=span.status.description if is_error else None,
        is_error=is_error,
        trace_id=span.context.trace_id,
        span_id=span.context.span_id,
        parent_span_id=span.parent.span_id if span.parent is not None else None,
        start_ns=span.start_time or 0,
        end_ns=span.end_time or span.start_time or 0,
        service_name=None if resource is None else _str(resource.attributes, "service.name"),
    )


class ProviderTraceProcessor(SpanProcessor):
    """Offers every LLM call to ``sink`` (or, without one, to the sink ``configure()``
    installed). Owns a given sink: ``shutdown`` flushes and closes it."""

    def __init__(self, sink: TraceSink | None = None) -> None:
        global _processors
        self._sink = sink
        self._active = True
        self.covered: set[int] = set()  # foreign spans with a llmtel call beneath them
        with _registry_lock:
            _processors = (*_processors, self)

    @property
    def sink(self) -> TraceSink | None:
        return self._sink if self._sink is not None else active.setup.trace_sink

    def record(self, call: LLMCall) -> None:
        """Enqueue one finished call; never raises."""
        sink = self.sink
        if sink is None:
            traces_dropped.add(1, {"reason": "no_sink"})
            return
        try:
            sink.offer(call)
        except Exception as exc:
            traces_dropped.add(1, {"reason": "sink_error"})
            report_error("processor.offer", exc)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            ctx = context.current()
            if ctx is not None and ctx.attributes and next(iter(ctx.attributes)) not in (span.attributes or {}):
                span.set_attributes(ctx.attributes)
            scope = span.instrumentation_scope
            if (scope is None or not scope.name.startswith(SCOPE_PREFIX)) and len(_open) < MAX_OPEN:
                parent = span.parent
                _open[span.context.span_id] = parent.span_id if parent is not None and not parent.is_remote else 0
        except Exception as exc:
            report_error("processor.on_start", exc)

    def on_end(self, span: ReadableSpan) -> None:
        spans = active.setup.span_sink  # every span (sampled: the SDK ends only those here) to the store
        if spans is not None and (self._sink is None or self._sink is spans):  # type: ignore[comparison-overlap]
            try:
                spans.offer_span(span)
            except Exception as exc:
                spans_dropped.add(1, {"reason": "sink_error"})
                report_error("processor.offer_span", exc)
        scope = span.instrumentation_scope
        if scope is not None and scope.name.startswith(SCOPE_PREFIX):
            return  # llmtel's own call: submitted when it finished
        span_context = span.context
        if span_context is None:
            return
        span_id = span_context.span_id
        _open.pop(span_id, None)
        if span_id in self.covered:
            self.covered.discard(span_id)
            if _is_model_call(span):
                traces_deduplicated.add(1)
            return
        if not _is_model_call(span):
            return
        try:
            call = call_from_span(span, str((span.attributes or {})[semconv.GEN_AI_OPERATION_NAME]))
        except Exception as exc:
            traces_dropped.add(1, {"reason": "build_error"})
            report_error("processor.foreign_span", exc)
            return
        self.record(call)

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop, and shut the sink down within ``timeout`` (default LLMTEL_SHUTDOWN_TIMEOUT)."""
        global _processors
        with _registry_lock:
            if not self._active:
                return
            self._active = False
            _processors = tuple(p for p in _processors if p is not self)
            if not _processors:
                _open.clear()
        self.covered.clear()
        if self._sink is not None:
            try:
                self._sink.shutdown(active.setup.settings.shutdown_timeout_s if timeout is None else timeout)
            except Exception as exc:
                report_error("processor.shutdown", exc)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        sink = self.sink
        if sink is None:
            return True
        try:
            return sink.flush(timeout_millis / 1000)
        except Exception as exc:
            report_error("processor.force_flush", exc)
            return False


def _is_model_call(span: ReadableSpan) -> bool:
    attrs = span.attributes
    return attrs is not None and attrs.get(semconv.GEN_AI_OPERATION_NAME) in MODEL_OPERATIONS
