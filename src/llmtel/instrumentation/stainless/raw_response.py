"""Raw responses (``with_raw_response``, ``with_streaming_response``): the call ends when the app
has what it asked for, whichever way it reads the body."""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import wrapt

from llmtel.instrumentation import active
from llmtel.instrumentation.selftelemetry import report_error
from llmtel.instrumentation.stainless.provider_call import ProviderCall

if TYPE_CHECKING:  # the client hooks create these proxies
    from llmtel.instrumentation.stainless.client_hooks import ClientInstrumentation

    _Proxy = wrapt.ObjectProxy[Any]
else:  # wrapt's proxy is generic only from 2.2 on, and the floor is 1.16
    _Proxy = wrapt.ObjectProxy


def body_read(raw: Any) -> bytes | None:
    """The body the SDK already read into a raw response, or None while it is unread."""
    content = getattr(getattr(raw, "http_response", None), "_content", None)
    return content if isinstance(content, bytes) else None


def json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None


class RawResponseProxy(_Proxy):
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
        if isinstance(data, (bytes, bytearray)) and self._self_read_bytes < active.setup.settings.queue_max_bytes:
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
        content = body_read(self.__wrapped__)
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
            pc.finish(data=json_or_none(content))

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
                event = json_or_none(sse.data.encode())
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
