"""One provider call's span, from start to its single end, shared by every SDK surface.

``start`` opens the CLIENT span with the GenAI request attributes (so samplers see
them). ``finish`` is idempotent: whichever exit path comes first (response parsed,
stream exhausted, closed, errored, cancelled, garbage-collected) sets the response
attributes, records metrics, submits the call to the ProviderTraceProcessors (its row,
sampled span or not) and ends the span; later calls do nothing.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanContext, SpanKind, Tracer
from opentelemetry.util.types import AttributeValue

from llmtel.instrumentation import active, context, processor, semconv, usage
from llmtel.instrumentation.adapter import Adapter
from llmtel.instrumentation.budget import SpanBudget, fit_tree, mark_dropped, new_budget, redact
from llmtel.instrumentation.records import LLMCall
from llmtel.instrumentation.selftelemetry import report_error
from llmtel.instrumentation.spans import end_span, record_error
from llmtel.instrumentation.stainless.endpoint import Endpoint

_service_names: dict[int, str | None] = {}  # id(resource) → its service.name (resources are few and long-lived)


def _service_name(span: Span, tracer: Tracer) -> str | None:
    """The service of the call: its span's resource, or, for an unsampled span (which has
    none), the resource of the tracer's provider."""
    resource = getattr(span, "resource", None)
    if resource is None:
        real = getattr(tracer, "_tracer", tracer)  # the API's ProxyTracer delegates to the SDK's
        resource = getattr(real, "resource", None)
    if resource is None:
        return active.setup.settings.service_name
    key = id(resource)
    if key not in _service_names:
        if len(_service_names) > 64:
            _service_names.clear()
        name = resource.attributes.get("service.name")
        _service_names[key] = None if name is None else str(name)
    return _service_names[key]


def _fit_content(out: dict[str, Any], content: Mapping[str, Any], budget: SpanBudget, structured: bool = False) -> None:
    """Content attributes into ``out``, within ``budget`` (oversized values are offloaded);
    ``structured``: as maps and lists (an event's), not JSON text (a span's)."""
    for key, value in content.items():
        fit_tree(out, key, redact(key, value), budget, structured)


def _size(attributes: Mapping[str, AttributeValue]) -> int:
    """What the start attributes count against the span budget: keys and text as they are,
    sequences as their repr, 24 bytes for a number (at least its longest text). Half the cost
    of ``len(repr(attributes))`` (0.45 against 1.1 µs for seven, `timeit`): a float's repr is dear."""
    size = 0
    for key, value in attributes.items():
        size += len(key) + (len(value) if type(value) is str else len(repr(value)) if type(value) is tuple else 24)
    return size


def _wants_row(span: Span, recording: bool) -> bool:
    """Every call is a row, sampled or not, unless LLMTEL_RECORD_UNSAMPLED=false."""
    return recording or span.get_span_context().trace_flags.sampled or active.setup.settings.record_unsampled


def _identify(call: LLMCall, span: Span, tracer: Tracer) -> None:
    """The call's ids and service, read from its span (sampled or not) and the context it
    started in; without an SDK (no valid ids) the row gets ids of its own. A llmtel call also
    tells the processors which foreign spans it runs under (see processor.note_call_under)."""
    span_context = span.get_span_context()
    parent = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        call.trace_id, call.span_id = span_context.trace_id, span_context.span_id
    else:
        call.trace_id = parent.trace_id if parent.is_valid else random.getrandbits(128)
        call.span_id = random.getrandbits(64) or 1
    if parent.is_valid:
        call.parent_span_id = parent.span_id
        processor.note_call_under(parent.span_id)
    call.service_name = _service_name(span, tracer)


class ProviderCall:
    """The span and the call record of one logical call (retries included)."""

    __slots__ = (
        "_lock",
        "adapter",
        "attempts",
        "budget",
        "call",
        "capture",
        "content",
        "details",
        "details_budget",
        "ended",
        "endpoint",
        "http_response",
        "metric_request",
        "recorded",
        "span",
        "start_ns",
    )

    def __init__(
        self, adapter: Adapter, span: Span, call: LLMCall, endpoint: Endpoint, capture: bool, recorded: bool
    ) -> None:
        self.adapter = adapter
        self.span = span
        self.call = call
        self.endpoint = endpoint
        self.capture = capture
        self.recorded = recorded  # the call becomes a provider trace
        self.start_ns = call.start_ns
        self.ended = False
        self.attempts = 0
        self.http_response: Any = None
        self.budget: SpanBudget | None = None
        self.content: dict[str, AttributeValue] = {}  # input content, set with the response attributes
        # The GenAI event's attributes (genai_events), None when the call has no event; its
        # budget when the event carries content.
        self.details: dict[str, Any] | None = None
        self.details_budget: SpanBudget | None = None
        # Request attributes the metrics carry too (an embeddings call's dimension count, as the
        # official instrumentation gives it); a pair each, part of the metric set's key.
        self.metric_request: tuple[tuple[str, AttributeValue], ...] = ()
        self._lock = threading.Lock()

    @classmethod
    def start(
        cls,
        tracer: Tracer,
        adapter: Adapter,
        operation: str,
        body: Mapping[str, Any],
        stream: bool,
        endpoint: Endpoint,
    ) -> ProviderCall:
        """Open the span for one call with everything known before it is sent."""
        model = body.get("model")
        attributes: dict[str, AttributeValue] = {
            semconv.GEN_AI_OPERATION_NAME: operation,
            semconv.GEN_AI_PROVIDER_NAME: adapter.provider,
            **endpoint.attributes,
            **adapter.request_attributes(operation, body),
        }
        if stream:
            attributes[semconv.GEN_AI_REQUEST_STREAM] = True
        ctx = context.current()
        if ctx is not None:
            attributes.update(ctx.attributes)
        name = f"{operation} {model}" if model else operation
        start_ns = time.time_ns()
        span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes, start_time=start_ns)
        recording = span.is_recording()
        call = LLMCall(
            provider=adapter.provider,
            operation=operation,
            request_model=model if model else None,
            is_stream=stream,
            context=ctx,
            start_ns=start_ns,
        )
        recorded = processor.wanted() and _wants_row(span, recording)
        if recorded:
            _identify(call, span, tracer)
            call.request_params, call.params_of = dict(body), adapter.request_params  # picked on the writer thread
        settings = active.setup.settings
        capture = recording and settings.capture_content
        pc = cls(adapter, span, call, endpoint, capture, recorded)
        dimensions = attributes.get(semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT)
        if dimensions is not None:
            pc.metric_request = ((semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, dimensions),)
        if settings.emit_events and endpoint.events.ready():
            pc.details = dict(attributes)
        event_content = pc.details is not None and settings.event_content
        if capture or event_content:  # converted now (the app may change its messages later), set at the end
            try:
                content = adapter.input_content(operation, body)
                used = _size(attributes)
                if capture:
                    pc.budget = new_budget(used)
                    _fit_content(pc.content, content, pc.budget)
                if pc.details is not None and event_content:
                    pc.details_budget = new_budget(used)
                    _fit_content(pc.details, content, pc.details_budget, structured=True)
            except Exception as exc:
                report_error("content.input", exc)
        return pc

    def first_chunk(self) -> None:
        if self.call.first_chunk_ns is None:
            self.call.first_chunk_ns = time.time_ns()

    def capture_http_response(self) -> None:
        """Keep the raw response bytes (already read by the SDK) as the stored response."""
        response = self.http_response
        content = getattr(response, "_content", None) if response is not None else None
        if isinstance(content, bytes):
            self.call.response = content

    def finish(self, data: Any = None, error: BaseException | None = None, incomplete: bool = False) -> None:
        """End the call once: response attributes, metrics, its provider trace, span end."""
        with self._lock:
            if self.ended:
                return
            self.ended = True
        call = self.call
        call.end_ns = time.time_ns()
        try:
            self._complete(data, error, incomplete)
        except Exception as exc:
            report_error("call.finish", exc)
        if self.recorded:
            call.is_error = error is not None and not isinstance(error, asyncio.CancelledError)
            processor.submit(call)
        end_span(self.span, call.end_ns)

    def _complete(self, data: Any, error: BaseException | None, incomplete: bool) -> None:
        span, call = self.span, self.call
        if data is not None:
            self.adapter.read_response(call, data)
        end_ns = call.end_ns
        attributes: dict[str, AttributeValue] = {}
        if call.response_id:
            attributes[semconv.GEN_AI_RESPONSE_ID] = call.response_id
        if call.response_model:
            attributes[semconv.GEN_AI_RESPONSE_MODEL] = call.response_model
        if call.response_attributes:
            attributes.update(call.response_attributes)
        if incomplete:
            call.incomplete = True
            attributes[semconv.LLMTEL_STREAM_INCOMPLETE] = True
            if not call.finish_reasons:
                call.finish_reasons = ("incomplete",)
        if call.finish_reasons:
            attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = tuple(call.finish_reasons)  # no copy if one
        if call.usage is not None:
            usage.set_attributes(call.usage, attributes)
        if self.attempts > 1:
            attributes[semconv.LLMTEL_RETRY_COUNT] = self.attempts - 1
        if call.first_chunk_ns is not None:
            attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (call.first_chunk_ns - self.start_ns) / 1e9
        details = self.details
        if details is not None:
            details.update(attributes)
        if self.content:  # the input content, set in the same call
            self.content.update(attributes)
            attributes = self.content
        span_budget = self.budget
        if error is None and (span_budget is not None or self.details_budget is not None):
            try:
                messages = self.adapter.output_messages(call, data if data is not None else call.response)
                output = {semconv.GEN_AI_OUTPUT_MESSAGES: messages}
                if messages and span_budget is not None:
                    _fit_content(attributes, output, span_budget)
                if messages and details is not None and self.details_budget is not None:
                    _fit_content(details, output, self.details_budget, structured=True)
            except Exception as exc:
                report_error("content.output", exc)
        span.set_attributes(attributes)  # one call: each one costs the SDK a lock and a pass
        if self.budget is not None:
            mark_dropped(span, self.budget)
        if error is not None:
            self._record_failure(error)
        self._record_metrics(end_ns, error, span.get_span_context())
        if details is not None:
            if call.error_type:
                details[semconv.ERROR_TYPE] = call.error_type
            if self.details_budget is not None and self.details_budget.dropped:
                details[semconv.LLMTEL_DROPPED_ATTRIBUTES] = self.details_budget.dropped
            self.endpoint.events.emit(span, end_ns, details)

    def _record_failure(self, error: BaseException) -> None:
        record_error(self.span, error)
        self.call.error_type = None if isinstance(error, asyncio.CancelledError) else type(error).__qualname__
        if self.call.response is None:  # a stream keeps what arrived before the error
            body = getattr(error, "body", None)
            response = getattr(error, "response", None)
            content = getattr(response, "_content", None) if response is not None else None
            if isinstance(content, bytes):
                self.call.response = content
            elif body is not None:
                self.call.response = body
        try:
            message = str(error)
        except Exception:
            message = type(error).__name__
        self.call.error_message = message[:4096]

    def _record_metrics(self, end_ns: int, error: BaseException | None, span_context: SpanContext) -> None:
        call, counts = self.call, self.call.usage
        attrs = self.endpoint.metric_attributes(
            call.operation,
            call.request_model,
            call.response_model,
            None if error is None else type(error).__qualname__,
            call.response_attributes + self.metric_request if self.metric_request else call.response_attributes,
        )
        start = self.start_ns
        self.endpoint.metrics.record_call(
            (
                (end_ns - start) / 1e9,
                None if call.first_chunk_ns is None else (call.first_chunk_ns - start) / 1e9,
                None if counts is None else counts.input_tokens,
                None if counts is None else counts.output_tokens,
                attrs,
                span_context.trace_id,
                span_context.span_id,
                int(span_context.trace_flags),
            )
        )
