"""Stream proxies: the app iterates the SDK's own stream object (``isinstance`` holds), and
the call is finished exactly once on every way out.

Ways out: exhausted, ``close()``, context-manager exit, exception mid-stream, task
cancellation, garbage collection of an unconsumed stream. Raw responses whose body is
read later (``with_raw_response`` + stream, ``with_streaming_response``) are proxied too.
"""

from __future__ import annotations

from typing import Any

import wrapt

from .adapters import Accumulator
from .calls import ProviderCall
from .selftelemetry import report_error


class _StreamState:
    """What a stream proxy tracks: the call, its accumulator, and whether the stream ended."""

    __slots__ = ("acc", "done", "pc")

    def __init__(self, pc: ProviderCall, acc: Accumulator) -> None:
        self.pc = pc
        self.acc = acc
        self.done = False

    def item(self, event: Any) -> None:
        try:
            self.pc.first_chunk()
            self.acc.add(event)
        except Exception as exc:
            report_error("stream.accumulate", exc)

    def finish(self, error: BaseException | None = None, exhausted: bool = False) -> None:
        if self.pc.ended:
            return
        try:
            self.acc.complete(self.pc.call)
        except Exception as exc:
            report_error("stream.complete", exc)
        self.pc.finish(error=error, incomplete=not exhausted and error is None)


class SyncStreamProxy(wrapt.ObjectProxy[Any]):
    """Proxy for ``openai.Stream`` / ``anthropic.Stream``."""

    def __init__(self, stream: Any, pc: ProviderCall, acc: Accumulator) -> None:
        super().__init__(stream)
        self._self_state = _StreamState(pc, acc)

    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        state = self._self_state
        try:
            event = self.__wrapped__.__next__()
        except StopIteration:
            state.finish(exhausted=True)
            raise
        except BaseException as exc:
            state.finish(error=exc)
            raise
        state.item(event)
        return event

    def __enter__(self) -> SyncStreamProxy:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_state.finish()

    def __del__(self) -> None:
        self._self_state.finish()


class AsyncStreamProxy(wrapt.ObjectProxy[Any]):
    """Proxy for ``openai.AsyncStream`` / ``anthropic.AsyncStream``."""

    def __init__(self, stream: Any, pc: ProviderCall, acc: Accumulator) -> None:
        super().__init__(stream)
        self._self_state = _StreamState(pc, acc)

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        state = self._self_state
        try:
            event = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            state.finish(exhausted=True)
            raise
        except BaseException as exc:
            state.finish(error=exc)
            raise
        state.item(event)
        return event

    async def __aenter__(self) -> AsyncStreamProxy:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_state.finish()

    def __del__(self) -> None:
        self._self_state.finish()


def finish_stream(stream: Any) -> None:
    """Finish the call behind ``stream`` if it is one of ours (for SDK helpers whose ``close``
    closes the HTTP response directly instead of the stream they iterate)."""
    state = getattr(stream, "_self_state", None)
    if isinstance(state, _StreamState):
        state.finish()
