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
import inspect
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import wrapt
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Tracer

from . import runtime, semconv
from .adapters import Adapter
from .calls import Endpoint, ProviderCall
from .selftelemetry import report_error
from .streams import ATTRIBUTE, watch

_current: contextvars.ContextVar[ProviderCall | None] = contextvars.ContextVar("llmtel_call", default=None)

WrapperFn = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


def _endpoint(provider: str, url: Any) -> Endpoint:
    port = url.port or (443 if url.scheme == "https" else 80)
    return Endpoint(provider, {semconv.SERVER_ADDRESS: url.host, semconv.SERVER_PORT: port})


def _body_read(raw: Any) -> bytes | None:
    content = getattr(getattr(raw, "http_response", None), "_content", None)
    return content if isinstance(content, bytes) else None


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None


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
    ) -> None:
        self.adapter = adapter
        self.tracer = tracer
        self.stream_type = stream_type
        self.async_stream_type = async_stream_type
        self.raw_types = raw_types
        self.sse_decoder = sse_decoder  # the SDK's own, for streams the app reads as bytes
        self._endpoint: tuple[Any, Endpoint] = (None, Endpoint(adapter.provider, {}))  # the last base_url's

    def _begin(self, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ProviderCall | None:
        if not is_instrumentation_enabled():
            return None
        try:
            options = args[1] if len(args) > 1 else kwargs["options"]
            operation = self.adapter.operation(str(options.method), options.url)
            if operation is None:
                return None
            body = options.json_data if isinstance(options.json_data, dict) else {}
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
            endpoint = _endpoint(self.adapter.provider, url)
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
                content = _body_read(result)
                if content is None:
                    return RawResponseProxy(result, pc, self)
                pc.call.response = content
                pc.finish(data=_json_or_none(content))
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


class RawResponseProxy(wrapt.ObjectProxy[Any]):
    """A raw response whose body the app reads later. The call ends when ``parse()`` returns
    the response (or hands it to the stream it returned, which then ends it), when the app
    has read the body with ``iter_bytes``/``iter_text``/``iter_lines`` (the row is assembled
    from the bytes it read), or on ``close()`` or garbage collection."""

    def __init__(self, raw: Any, pc: ProviderCall, ci: ClientInstrumentation) -> None:
        super().__init__(raw)
        self._self_pc = pc
        self._self_ci = ci
        self._self_read: list[bytes] = []  # what the app read through iter_*, up to the queue's size
        self._self_read_bytes = 0
        self._self_exhausted = False
        self._self_handed = False

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        try:
            result = self.__wrapped__.parse(*args, **kwargs)
        except BaseException as exc:
            self._self_pc.finish(error=exc)
            raise
        if inspect.isawaitable(result):
            return self._self_parse_async(result)
        return self._self_parsed(result)

    async def _self_parse_async(self, pending: Any) -> Any:
        try:
            result = await pending
        except BaseException as exc:
            self._self_pc.finish(error=exc)
            raise
        return self._self_parsed(result)

    def _self_parsed(self, result: Any) -> Any:
        if isinstance(result, (self._self_ci.stream_type, self._self_ci.async_stream_type)):
            self._self_handed = True  # the stream owns the call now: dropping this object ends nothing
            return self._self_ci.settle(self._self_pc, result)
        self._self_finish()
        return result

    def _self_keep(self, piece: Any) -> Any:
        data = piece.encode("utf-8", "surrogatepass") if isinstance(piece, str) else piece
        if isinstance(data, (bytes, bytearray)) and self._self_read_bytes < runtime.active.settings.queue_max_bytes:
            self._self_read.append(bytes(data))
            self._self_read_bytes += len(data)
        return piece

    def _self_reading(self, method: str, newline: bytes, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        pieces = getattr(self.__wrapped__, method)(*args, **kwargs)
        if hasattr(pieces, "__aiter__"):
            return self._self_watch_async(pieces, newline)
        return self._self_watch(pieces, newline)

    def _self_watch(self, pieces: Iterator[Any], newline: bytes) -> Iterator[Any]:  # twin: _self_watch_async
        for piece in pieces:
            self._self_keep(piece)
            if newline:
                self._self_keep(newline)
            yield piece
        self._self_exhausted = True
        self._self_finish()

    async def _self_watch_async(self, pieces: AsyncIterator[Any], newline: bytes) -> AsyncIterator[Any]:  # twin
        async for piece in pieces:
            self._self_keep(piece)
            if newline:
                self._self_keep(newline)
            yield piece
        self._self_exhausted = True
        self._self_finish()

    def iter_bytes(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_reading("iter_bytes", b"", args, kwargs)

    def iter_text(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_reading("iter_text", b"", args, kwargs)

    def iter_lines(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_reading("iter_lines", b"\n", args, kwargs)

    def _self_finish(self) -> None:
        pc = self._self_pc
        if pc.ended or self._self_handed:
            return
        content = _body_read(self.__wrapped__)
        if content is None and self._self_read:
            content = b"".join(self._self_read)
            self._self_read = []
            if pc.call.is_stream:
                self._self_finish_stream(content)
                return
        if content is None:
            pc.finish(incomplete=True)
        else:
            pc.call.response = content
            pc.finish(data=_json_or_none(content))

    def _self_finish_stream(self, content: bytes) -> None:
        """A stream the app read as bytes: its events, decoded as the SDK decodes them, fold into
        the provider's accumulator as if the app had iterated the SDK's stream."""
        pc = self._self_pc
        acc = self._self_ci.adapter.accumulator(pc.call.operation)
        events = []
        try:
            for sse in self._self_ci.sse_decoder().iter_bytes(iter([content])):
                if sse.data.startswith("[DONE]"):
                    break
                event = _json_or_none(sse.data.encode())
                if isinstance(event, dict):
                    events.append(event)
            if events:
                acc.add_all(events)
            acc.complete(pc.call)
        except Exception as exc:
            report_error("raw_stream.assemble", exc)
        pc.finish(incomplete=not self._self_exhausted)

    def close(self) -> Any:
        result = self.__wrapped__.close()
        if inspect.isawaitable(result):
            return self._self_close_async(result)
        self._self_finish()
        return result

    async def _self_close_async(self, pending: Any) -> None:
        try:
            await pending
        finally:
            self._self_finish()

    def __del__(self) -> None:
        self._self_finish()
