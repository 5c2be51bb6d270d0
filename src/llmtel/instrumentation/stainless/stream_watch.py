"""Streams: the app keeps the SDK's own stream object; llmtel swaps in an iterator that
watches what it yields, and the call is finished exactly once on every way out.

Only the stream's iterator is replaced (both SDKs' ``Stream``/``AsyncStream`` pull every
event through ``self._iterator``), so the app's object is not a proxy: ``type()`` and
``isinstance`` hold and each event costs one generator step and a list append. Events
are read in batches of ``FOLD`` (and at the end), which bounds what is held per stream.

Ways out: exhausted, ``close()`` (the SDKs' ``close`` is wrapped, see the instrumentor),
context-manager exit (with the app's error when it raised inside ``with``), exception
mid-stream, task cancellation, garbage collection of a stream that was never read (the
state's ``__del__``) or was left half read (generator close), and the end of the task reading
an async stream: a task cancelled while it works between two chunks leaves the generator
suspended, and without that the call would end only when a garbage collection found the
stream. (A stream handed to another task after its first chunk ends with the task that read
that chunk.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Final

from llmtel.instrumentation.adapter import Accumulator
from llmtel.instrumentation.selftelemetry import report_error
from llmtel.instrumentation.stainless.provider_call import ProviderCall

FOLD: Final = 64  # events held before the accumulator reads them
ATTRIBUTE: Final = "_llmtel_stream"  # where a watched stream keeps its StreamCall


class StreamCall:
    """One streamed call: the events not yet read, the accumulator, and the call to finish."""

    __slots__ = ("acc", "events", "pc", "reader")

    def __init__(self, pc: ProviderCall, acc: Accumulator) -> None:
        self.pc = pc
        self.acc = acc
        self.events: list[Any] = []
        self.reader: asyncio.Task[Any] | None = None  # the task reading an async stream

    def follow(self, task: asyncio.Task[Any] | None) -> None:
        """Finish the call when ``task`` (the one reading the stream) ends before the stream does."""
        if task is not None:
            self.reader = task
            task.add_done_callback(self.reader_done)

    def reader_done(self, task: asyncio.Task[Any]) -> None:
        """The reading task ended with the stream unfinished: cancelled, or it stopped reading."""
        self.reader = None
        self.finish(error=asyncio.CancelledError() if task.cancelled() else None)

    def fold(self) -> None:
        """Hand the held events to the accumulator (the list is reused)."""
        try:
            self.acc.add_all(self.events)
        except Exception as exc:
            report_error("stream.accumulate", exc)
        self.events.clear()

    def finish(self, error: BaseException | None = None, exhausted: bool = False) -> None:
        if self.reader is not None:  # a long-lived task must not keep every stream it read
            self.reader.remove_done_callback(self.reader_done)
            self.reader = None
        if self.pc.ended:
            return
        if self.events:
            self.fold()
        try:
            self.acc.complete(self.pc.call)
        except Exception as exc:
            report_error("stream.complete", exc)
        self.pc.finish(error=error, incomplete=not exhausted and error is None)

    def __enter__(self) -> StreamCall:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        """How the watching generator ended: exhausted, closed or collected early, or raised
        (``CancelledError`` included: the task was cancelled mid-stream)."""
        if kind is None:
            self.finish(exhausted=True)
        elif issubclass(kind, GeneratorExit):
            self.finish()
        else:
            self.finish(error=error)

    def __del__(self) -> None:  # the stream was dropped before its iterator ran
        self.finish()


# The watching generators hold each event until the next fold, inline (no call per event);
# the first event, handled alone, stamps the time to first chunk.


def _watched(iterator: Iterator[Any], state: StreamCall) -> Iterator[Any]:
    with state:
        held = state.events
        for event in iterator:
            state.pc.first_chunk()
            held.append(event)
            yield event
            break
        for event in iterator:
            held.append(event)
            if len(held) >= FOLD:
                state.fold()
            yield event


async def _watched_async(iterator: AsyncIterator[Any], state: StreamCall) -> AsyncIterator[Any]:
    with state:
        held = state.events
        async for event in iterator:
            state.pc.first_chunk()
            state.follow(asyncio.current_task())
            held.append(event)
            yield event
            break
        async for event in iterator:
            held.append(event)
            if len(held) >= FOLD:
                state.fold()
            yield event


def watch(stream: Any, pc: ProviderCall, acc: Accumulator, is_async: bool) -> Any:
    """Make ``stream`` (the SDK's own object, returned as is) report to ``pc``."""
    state = StreamCall(pc, acc)
    inner = stream._iterator
    stream._iterator = _watched_async(inner, state) if is_async else _watched(inner, state)
    setattr(stream, ATTRIBUTE, state)
    return stream


def _state_of(stream: Any) -> StreamCall | None:
    """The call behind ``stream``: its own, that of the raw stream an SDK helper reads, or, for a
    helper's context manager, that of the helper stream it made (its private ``__stream``)."""
    state = getattr(stream, ATTRIBUTE, None)
    if state is None:
        state = getattr(getattr(stream, "_raw_stream", None), ATTRIBUTE, None)
    if state is None:
        made = [v for k, v in getattr(stream, "__dict__", {}).items() if k.endswith("__stream")]
        if made and made[0] is not None:
            return _state_of(made[0])
    return state if isinstance(state, StreamCall) else None


def finish_stream(stream: Any, error: BaseException | None = None) -> None:
    """Finish the call behind ``stream`` (a no-op once it is finished)."""
    state = _state_of(stream)
    if state is not None:
        state.finish(error=error)


def closing(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Wrapper for the streams' ``close``: closing a stream before its end finishes the call.
    An async ``close`` finishes it when called, not when awaited: apps that call it without
    ``await`` (the SDK then never closes) still end the call there, and the SDK's own
    coroutine is what they get back."""
    try:
        finish_stream(instance)
    except Exception as exc:
        report_error("stream.close", exc)
    return wrapped(*args, **kwargs)


def exiting(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Wrapper for the streams' and their managers' ``__exit__``/``__aexit__``: the app raising
    inside ``with stream:`` ends the call with that error (``error.type``, an error row) before
    the exit closes the stream, which would end it as merely incomplete. The app's exception
    goes on unchanged; a stream read to its end was finished already and stays a success."""
    error = args[1] if len(args) > 1 else None
    if isinstance(error, BaseException) and not isinstance(error, GeneratorExit):
        try:
            finish_stream(instance, error)
        except Exception as exc:
            report_error("stream.exit", exc)
    return wrapped(*args, **kwargs)
