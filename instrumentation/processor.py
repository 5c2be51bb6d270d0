"""ProviderTraceProcessor: turns every finished LLM span into a provider trace record.

``on_start`` stamps ``llm_context`` attributes on spans that other code starts; ``on_end``
builds the record from the span and its side channel and only *enqueues* it. Nothing
here does I/O or raises into the SDK.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from . import context, runtime, semconv, sidechannel
from .context import LLMContext
from .encoding import encode, utf8_len
from .payloads import redact
from .records import PendingTrace, ProviderTrace
from .selftelemetry import report_error, traces_dropped
from .sinks import TraceSink
from .usage import Usage

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_NO_CONTEXT = LLMContext()

_MASK64 = (1 << 64) - 1


def trace_record_id(trace_id: int, span_id: int) -> str:
    """Deterministic record id from the span's ids, so a replayed batch deduplicates."""
    return str(uuid.UUID(int=((trace_id & _MASK64) << 64) | span_id))


def _json_text(value: Any, kind: str) -> tuple[str, int]:
    """JSON text and its byte size for a payload that may be raw JSON bytes from the wire."""
    if value is None:
        return "", 0
    hook_set = runtime.active.settings.redact is not None
    if isinstance(value, (bytes, bytearray)):
        size = len(value)
        if not hook_set:
            return bytes(value).decode("utf-8", "replace"), size
        try:
            value = json.loads(value)
        except ValueError:
            value = bytes(value).decode("utf-8", "replace")
    text = encode(redact(kind, value) if hook_set else value)
    return text, utf8_len(text)


def _pending_size(call: sidechannel.LLMCall) -> int:
    """Memory a not-yet-built record holds: its raw request and response, mostly."""
    size = 1024
    for value in (call.request, call.response):
        if isinstance(value, (bytes, bytearray, str)):
            size += len(value)
    return size


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(attrs: Mapping[str, Any], key: str) -> str | None:
    value = attrs.get(key)
    return None if value is None else str(value)


def _context_from_attributes(attrs: Mapping[str, Any]) -> LLMContext:
    """The llm_context a span carries as ``llmtel.*`` attributes (stamped at its start)."""
    return LLMContext(
        agent_id=_str(attrs, semconv.LLMTEL_AGENT_ID),
        run_id=_str(attrs, semconv.LLMTEL_RUN_ID),
        step_id=_str(attrs, semconv.LLMTEL_STEP_ID),
        call_type=_str(attrs, semconv.LLMTEL_CALL_TYPE),
        org_id=_str(attrs, semconv.LLMTEL_ORG_ID),
        user_id=_str(attrs, semconv.LLMTEL_USER_ID),
        tags=tuple(str(t) for t in attrs.get(semconv.LLMTEL_TAGS) or ()),
    )


class ProviderTraceProcessor(SpanProcessor):
    """Builds a :class:`ProviderTrace` for each span with ``gen_ai.operation.name`` and offers
    it to ``sink`` (or, without one, to the sink ``configure()`` installed). Owns a given
    sink: ``shutdown`` flushes and closes it."""

    def __init__(self, sink: TraceSink | None = None) -> None:
        self._sink = sink
        self._active = True
        self._service_names: dict[int, str | None] = {}
        # one bound method for every PendingTrace: a closure per call would be five more objects
        # each call leaves to the garbage collector until the writer takes them
        self._build_pending = self._build_or_count
        sidechannel.set_consumer(True)

    @property
    def sink(self) -> TraceSink | None:
        return self._sink if self._sink is not None else runtime.active.trace_sink

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        ctx = context.current()
        if ctx is None or not ctx.attributes:
            return
        try:
            if next(iter(ctx.attributes)) not in (span.attributes or {}):
                span.set_attributes(ctx.attributes)
        except Exception as exc:
            report_error("processor.on_start", exc)

    def on_end(self, span: ReadableSpan) -> None:
        span_context = span.context
        if span_context is None:
            return
        call = sidechannel.take(span_context.span_id)
        if call is None:  # a span llmtel did not make: read it (attributes are a mapping proxy, made per read)
            attrs: Mapping[str, Any] = span.attributes or {}
            operation = attrs.get(semconv.GEN_AI_OPERATION_NAME)
            if operation is None:
                return
            call = self._call_from_attributes(attrs, str(operation))
        sink = self.sink
        if sink is None:
            traces_dropped.add(1, {"reason": "no_sink"})
            return
        try:
            if getattr(sink, "builds_pending", False):  # build on the sink's thread, not the app's
                sink.offer(PendingTrace(self._build_pending, span, call, _pending_size(call)))  # type: ignore[arg-type]
                return
            record = self._build_or_count(span, call)
            if record is not None:
                sink.offer(record)
        except Exception as exc:
            traces_dropped.add(1, {"reason": "sink_error"})
            report_error("processor.offer", exc)

    def _build_or_count(self, span: ReadableSpan, call: sidechannel.LLMCall) -> ProviderTrace | None:
        try:
            return self.build(span, call)
        except Exception as exc:
            traces_dropped.add(1, {"reason": "build_error"})
            report_error("processor.build", exc)
            return None

    @staticmethod
    def _call_from_attributes(attrs: Mapping[str, Any], operation: str) -> sidechannel.LLMCall:
        """The call as far as a span from another instrumentation (or the SDK's own) tells it."""
        return sidechannel.LLMCall(
            context=_context_from_attributes(attrs),
            provider=str(attrs.get(semconv.GEN_AI_PROVIDER_NAME) or attrs.get("gen_ai.system") or "unknown"),
            operation=operation,
            request_model=_str(attrs, semconv.GEN_AI_REQUEST_MODEL),
            is_stream=bool(attrs.get(semconv.GEN_AI_REQUEST_STREAM, False)),
            usage=Usage(
                input_tokens=_opt_int(attrs.get(semconv.GEN_AI_USAGE_INPUT_TOKENS)),
                output_tokens=_opt_int(attrs.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)),
                cache_read_input_tokens=_opt_int(attrs.get(semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)),
                cache_write_input_tokens=_opt_int(attrs.get(semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)),
                reasoning_tokens=_opt_int(attrs.get(semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)),
            ),
            response_id=_str(attrs, semconv.GEN_AI_RESPONSE_ID),
            response_model=_str(attrs, semconv.GEN_AI_RESPONSE_MODEL),
            finish_reasons=[str(f) for f in attrs.get(semconv.GEN_AI_RESPONSE_FINISH_REASONS) or ()],
            error_type=_str(attrs, semconv.ERROR_TYPE),
        )

    def _service_name(self, span: ReadableSpan) -> str | None:
        resource = span.resource
        if resource is None:
            return None
        key = id(resource)
        if key not in self._service_names:
            self._service_names[key] = _str(resource.attributes, "service.name")
        return self._service_names[key]

    def build(self, span: ReadableSpan, call: sidechannel.LLMCall) -> ProviderTrace:
        """The record for one LLM span: ids and timing from the span, everything else from the call."""
        assert span.context is not None
        start = span.start_time or 0
        end = span.end_time or start
        usage = call.usage or Usage()
        total = usage.total_tokens
        if total is None and usage.input_tokens is not None:
            total = usage.input_tokens + (usage.output_tokens or 0)
        is_error = span.status.status_code is StatusCode.ERROR
        request_json, request_bytes, response_json, response_bytes = "", 0, "", 0
        if runtime.active.settings.store_content:
            request_json, request_bytes = _json_text(call.request, "request")
            response_json, response_bytes = _json_text(call.response, "response")
        attrs: Mapping[str, Any] = span.attributes or {}
        ctx = call.context or _NO_CONTEXT
        if call.response_model is None:  # a hand-made call may have left these on the span only
            call.response_model = _str(attrs, semconv.GEN_AI_RESPONSE_MODEL)
            call.response_id = call.response_id or _str(attrs, semconv.GEN_AI_RESPONSE_ID)
            call.finish_reasons = call.finish_reasons or [
                str(f) for f in attrs.get(semconv.GEN_AI_RESPONSE_FINISH_REASONS) or ()
            ]
        if is_error and call.error_type is None:
            call.error_type = _str(attrs, semconv.ERROR_TYPE)
        ttft = None if call.first_chunk_ns is None else max(0.0, (call.first_chunk_ns - start) / 1e6)
        model = call.response_model or call.request_model
        return ProviderTrace(
            id=trace_record_id(span.context.trace_id, span.context.span_id),
            trace_id=f"{span.context.trace_id:032x}",
            span_id=f"{span.context.span_id:016x}",
            parent_span_id=f"{span.parent.span_id:016x}" if span.parent is not None else None,
            created_at=_EPOCH + datetime.timedelta(microseconds=start // 1000),
            duration_ms=(end - start) / 1e6,
            time_to_first_token_ms=ttft,
            org_id=ctx.org_id,
            user_id=ctx.user_id,
            agent_id=ctx.agent_id,
            agent_tags=list(ctx.tags),
            run_id=ctx.run_id,
            step_id=ctx.step_id,
            call_type=ctx.call_type,
            service_name=self._service_name(span),
            provider=call.provider,
            operation=call.operation,
            request_model=call.request_model,
            response_model=call.response_model,
            response_id=call.response_id,
            finish_reasons=list(call.finish_reasons),
            is_stream=call.is_stream,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            total_tokens=total,
            cache_read_input_tokens=usage.cache_read_input_tokens,
            cache_write_input_tokens=usage.cache_write_input_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_usd=runtime.active.prices.cost(call.provider, model, usage),
            is_error=is_error,
            error_type=call.error_type,
            error_message=call.error_message or (span.status.description if is_error else None),
            request_json=request_json,
            response_json=response_json,
            request_bytes=request_bytes,
            response_bytes=response_bytes,
            request_params_json=encode(
                call.request_params if call.params_of is None else call.params_of(call.request_params)
            ),
        )

    def shutdown(self) -> None:
        if self._active:
            self._active = False
            sidechannel.set_consumer(False)
            if self._sink is not None:
                try:
                    self._sink.shutdown(runtime.active.settings.shutdown_timeout_s)
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
