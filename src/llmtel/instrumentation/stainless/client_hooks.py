"""Wrappers on the SDKs' shared HTTP client (both are Stainless-generated), so every call
surface is traced at one choke point: ``create``, ``parse``, ``stream`` helpers, raw and
streaming responses, the Responses API and embeddings all go through ``request``.

- ``request`` opens the call's span and settles the result (plain, stream, raw response);
  retries happen inside it, so a logical call is one span with ``llmtel.retry_count``.
  Only generation calls (the adapter's ``operation``) are traced: listing, retrieving or
  deleting stored completions, models, files and token counts are not LLM calls.
- ``_build_request`` keeps the request body bytes the SDK already serialised.
- ``_process_response`` keeps the HTTP response, whose bytes become the stored response.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Tracer

from llmtel.instrumentation import semconv
from llmtel.instrumentation.adapter import Adapter
from llmtel.instrumentation.genai_events import GenAIEvents
from llmtel.instrumentation.genai_metrics import GenAIMetrics
from llmtel.instrumentation.selftelemetry import report_error
from llmtel.instrumentation.stainless.endpoint import Endpoint
from llmtel.instrumentation.stainless.provider_call import ProviderCall
from llmtel.instrumentation.stainless.raw_response import RawResponseProxy, body_read, json_or_none
from llmtel.instrumentation.stainless.stream_watch import ATTRIBUTE, watch

_current: contextvars.ContextVar[ProviderCall | None] = contextvars.ContextVar("llmtel_call", default=None)

WrapperFn = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


def _endpoint(provider: str, url: Any, metrics: GenAIMetrics, events: GenAIEvents) -> Endpoint:
    port = url.port or (443 if url.scheme == "https" else 80)
    return Endpoint(provider, {semconv.SERVER_ADDRESS: url.host, semconv.SERVER_PORT: port}, metrics, events)


def sent_body(body: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON the SDK sends: ``extra_body`` merged over the named parameters, less the keys
    set to ``Omit`` (the SDK's own merge), so the span and the row's parameters say what went out."""
    merged = {**body, **extra}
    return {k: v for k, v in merged.items() if type(v).__name__ != "Omit"}


class ClientInstrumentation:
    """The wrappers for one SDK, given its adapter and its stream and raw-response classes."""

    def __init__(
        self,
        adapter: Adapter,
        tracer: Tracer,
        stream_type: type,
        async_stream_type: type,
        raw_types: tuple[type, ...],
        sse_decoder: type,
        metrics: GenAIMetrics,
        events: GenAIEvents,
    ) -> None:
        self.adapter = adapter
        self.tracer = tracer
        self.metrics = metrics
        self.events = events
        self.stream_type = stream_type
        self.async_stream_type = async_stream_type
        self.raw_types = raw_types
        self.sse_decoder = sse_decoder  # the SDK's own, for streams the app reads as bytes
        # the last base_url's endpoint
        self._endpoint: tuple[Any, Endpoint] = (None, Endpoint(adapter.provider, {}, metrics, events))

    def _begin(self, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ProviderCall | None:
        if not is_instrumentation_enabled():
            return None
        try:
            options = args[1] if len(args) > 1 else kwargs["options"]
            operation = self.adapter.operation(str(options.method), options.url)
            if operation is None:
                return None
            body = options.json_data if isinstance(options.json_data, dict) else {}
            extra = getattr(options, "extra_json", None)
            if extra and isinstance(extra, Mapping):
                body = sent_body(body, extra)
            stream = bool(kwargs.get("stream", args[2] if len(args) > 2 else False))
            return ProviderCall.start(self.tracer, self.adapter, operation, body, stream, self._endpoint_of(client))
        except Exception as exc:
            report_error(f"{self.adapter.provider}.request.start", exc)
            return None

    def _endpoint_of(self, client: Any) -> Endpoint:
        """The client's endpoint; httpx computes URL parts on every access, so the last is kept.
        The URL is read from the Stainless client's ``_base_url``: openai's ``base_url`` property
        runs an import on every read (1.1 µs against 0.05 µs, `timeit`)."""
        url = getattr(client, "_base_url", None) or client.base_url
        last, endpoint = self._endpoint
        if url is not last:
            endpoint = _endpoint(self.adapter.provider, url, self.metrics, self.events)
            self._endpoint = (url, endpoint)
        return endpoint

    def settle(self, pc: ProviderCall, result: Any) -> Any:
        """What the app gets back: the SDK's own object, proxied when it is read later."""
        try:
            if getattr(result, ATTRIBUTE, None) is not None:  # a raw response parsed twice: watched once
                return result
            if isinstance(result, self.stream_type):
                return watch(result, pc, self.adapter.accumulator(pc.call.operation), is_async=False)
            if isinstance(result, self.async_stream_type):
                return watch(result, pc, self.adapter.accumulator(pc.call.operation), is_async=True)
            if isinstance(result, self.raw_types):
                content = body_read(result)
                if content is None:
                    return RawResponseProxy(result, pc, self)
                pc.call.response = content
                pc.finish(data=json_or_none(content))
                return result
            pc.capture_http_response()
            pc.finish(data=result)
        except Exception as exc:
            report_error(f"{self.adapter.provider}.request.settle", exc)
            pc.finish()
        return result

    def request(self) -> WrapperFn:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            pc = self._begin(instance, args, kwargs)
            if pc is None:
                return wrapped(*args, **kwargs)
            token = _current.set(pc)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                _current.reset(token)
                pc.finish(error=exc)
                raise
            _current.reset(token)
            return self.settle(pc, result)

        return wrapper

    def async_request(self) -> WrapperFn:
        async def wrapper(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            pc = self._begin(instance, args, kwargs)
            if pc is None:
                return await wrapped(*args, **kwargs)
            token = _current.set(pc)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                _current.reset(token)
                pc.finish(error=exc)
                raise
            _current.reset(token)
            return self.settle(pc, result)

        return wrapper


def build_request(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Count attempts and keep the serialised request body of the call in progress."""
    request = wrapped(*args, **kwargs)
    pc = _current.get()
    if pc is not None:
        pc.attempts += 1
        if pc.call.request is None:
            content = getattr(request, "_content", None)
            if isinstance(content, bytes):
                pc.call.request = content
    return request


def process_response(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Keep the HTTP response of the call in progress (sync and async: runs before any await)."""
    pc = _current.get()
    if pc is not None:
        pc.http_response = kwargs.get("response")
    return wrapped(*args, **kwargs)
