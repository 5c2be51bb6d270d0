"""trace_method on every kind of callable, with the real OTel SDK."""

from __future__ import annotations

import asyncio
import gc
import json
import traceback
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.trace import StatusCode

from llmtel.instrumentation import budget, trace_method
from tests.support.telemetry import Telemetry


def arguments(span: Any) -> dict[str, Any]:
    """A span's own argument and return attributes (not the viewer copies or context ones)."""
    return {k: v for k, v in span.attributes.items() if k.startswith(("parameter.", "return."))}


@trace_method
def add(a: int, b: int, c: int = 0) -> int:
    return a + b + c


class Calculator:
    factor = 10

    @trace_method
    def scale(self, x: int) -> int:
        return x * self.factor

    @trace_method
    @classmethod
    def make(cls, name: str) -> str:
        return f"{cls.__name__}:{name}"

    @trace_method
    @staticmethod
    def pure(value: str) -> str:
        return value.upper()

    @classmethod
    @trace_method
    def make_inner(cls, name: str) -> str:
        return name


def test_plain_function_records_arguments_as_json(tel: Telemetry) -> None:
    assert add(1, 2, c=3) == 6
    span = tel.span("add")
    assert span.kind is trace.SpanKind.INTERNAL
    assert span.attributes["parameter.a"] == "1"
    assert span.attributes["parameter.b"] == "2"
    assert span.attributes["parameter.c"] == "3"
    assert span.status.status_code is StatusCode.UNSET


def test_methods_skip_self_and_cls_by_signature(tel: Telemetry) -> None:
    assert Calculator().scale(4) == 40
    assert Calculator.make("x") == "Calculator:x"
    assert Calculator.pure("hi") == "HI"
    assert Calculator.make_inner("y") == "y"
    scale = tel.span("Calculator.scale")
    assert arguments(scale) == {"parameter.x": "4"} and scale.attributes["input.value"] == '{"x":4}'
    assert arguments(tel.span("Calculator.make")) == {"parameter.name": '"x"'}
    assert arguments(tel.span("Calculator.pure")) == {"parameter.value": '"hi"'}
    assert arguments(tel.span("Calculator.make_inner")) == {"parameter.name": '"y"'}


def test_first_parameter_that_is_not_self_is_recorded(tel: Telemetry) -> None:
    @trace_method
    def takes_object(obj: object, n: int) -> int:
        return n

    takes_object(Calculator(), 2)
    span = tel.span("test_first_parameter_that_is_not_self_is_recorded.<locals>.takes_object")
    assert "parameter.obj" in span.attributes
    assert span.attributes["parameter.n"] == "2"


def test_name_capture_exclude_and_return(tel: Telemetry) -> None:
    @trace_method(name="custom", capture=["a", "secret", "b"], exclude=["secret"], record_return=True)
    def f(a: int, b: dict[str, int], secret: str, other: int = 1) -> dict[str, int]:
        return {"sum": a + b["x"]}

    assert f(1, {"x": 2}, "hunter2", other=5) == {"sum": 3}
    span = tel.span("custom")
    assert arguments(span) == {"parameter.a": "1", "parameter.b": '{"x":2}', "return.value": '{"sum":3}'}
    assert (span.attributes["input.value"], span.attributes["output.value"]) == ('{"a":1,"b":{"x":2}}', '{"sum":3}')


def test_varargs_and_kwargs(tel: Telemetry) -> None:
    @trace_method
    def f(a: int, *rest: int, **options: str) -> int:
        return a + sum(rest)

    assert f(1, 2, 3, mode="fast") == 6
    attrs = tel.span("test_varargs_and_kwargs.<locals>.f").attributes
    assert attrs["parameter.a"] == "1"
    assert json.loads(attrs["parameter.rest"]) == [2, 3]
    assert attrs["parameter.mode"] == '"fast"'


def test_nested_spans_parent_child(tel: Telemetry) -> None:
    @trace_method
    def inner() -> int:
        return 1

    @trace_method
    def outer() -> int:
        return inner() + 1

    assert outer() == 2
    outer_span = tel.span("test_nested_spans_parent_child.<locals>.outer")
    inner_span = tel.span("test_nested_spans_parent_child.<locals>.inner")
    assert inner_span.parent is not None and inner_span.parent.span_id == outer_span.context.span_id


async def test_coroutine_function(tel: Telemetry) -> None:
    @trace_method
    async def fetch(url: str) -> str:
        await asyncio.sleep(0)
        assert trace.get_current_span().get_span_context().is_valid
        return url[::-1]

    assert await fetch("abc") == "cba"
    span = tel.span("test_coroutine_function.<locals>.fetch")
    assert span.attributes["parameter.url"] == '"abc"'
    assert span.end_time is not None


class Boom(Exception):
    pass


def test_exception_is_recorded_and_reraised_unchanged(tel: Telemetry) -> None:
    error = Boom("it broke")

    @trace_method
    def fails() -> None:
        raise error

    with pytest.raises(Boom) as info:
        fails()
    assert info.value is error
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "fails"  # the original frame is still the innermost one
    span = tel.span("test_exception_is_recorded_and_reraised_unchanged.<locals>.fails")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "Boom"
    event = span.events[0]
    assert event.name == "exception"
    assert event.attributes["exception.message"] == "it broke"
    assert "raise error" in event.attributes["exception.stacktrace"]


async def test_cancellation_is_not_an_error(tel: Telemetry) -> None:
    started = asyncio.Event()

    @trace_method
    async def waits() -> None:
        started.set()
        await asyncio.sleep(10)

    task = asyncio.create_task(waits())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = tel.span("test_cancellation_is_not_an_error.<locals>.waits")
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["llmtel.cancelled"] is True
    assert "error.type" not in span.attributes


@trace_method
def counter(n: int):  # type: ignore[no-untyped-def]
    for i in range(n):
        assert trace.get_current_span().is_recording()
        yield i
    return "done"


def test_generator_span_covers_iteration_and_ends_once(tel: Telemetry) -> None:
    gen = counter(3)
    assert tel.spans() == []  # nothing runs until the first item is asked for
    assert next(gen) == 0
    assert not trace.get_current_span().is_recording()  # the span does not leak to the caller
    assert list(gen) == [1, 2]
    span = tel.span("counter")
    assert span.attributes["parameter.n"] == "3"
    assert "llmtel.closed_early" not in span.attributes


def test_generator_return_value_and_send_pass_through(tel: Telemetry) -> None:
    @trace_method
    def echo():  # type: ignore[no-untyped-def]
        received = yield "first"
        yield f"got {received}"
        return "finished"

    gen = echo()
    assert next(gen) == "first"
    assert gen.send("x") == "got x"
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "finished"
    assert len(tel.spans()) == 1


def test_generator_closed_early(tel: Telemetry) -> None:
    gen = counter(10)
    for item in gen:
        if item == 2:
            break
    gen.close()
    span = tel.span("counter")
    assert span.attributes["llmtel.closed_early"] is True
    gen.close()
    assert len(tel.spans()) == 1


def test_generator_garbage_collected_unfinished(tel: Telemetry) -> None:
    gen = counter(10)
    next(gen)
    del gen
    gc.collect()
    span = tel.span("counter")
    assert span.attributes["llmtel.closed_early"] is True
    assert span.end_time is not None


def test_generator_never_started_makes_no_span(tel: Telemetry) -> None:
    gen = counter(10)
    del gen
    gc.collect()
    assert tel.spans() == []


def test_generator_raises(tel: Telemetry) -> None:
    @trace_method
    def bad():  # type: ignore[no-untyped-def]
        yield 1
        raise Boom("mid-iteration")

    with pytest.raises(Boom):
        list(bad())
    span = tel.span("test_generator_raises.<locals>.bad")
    assert span.status.status_code is StatusCode.ERROR


def test_generator_throw_is_delivered(tel: Telemetry) -> None:
    @trace_method
    def catcher():  # type: ignore[no-untyped-def]
        try:
            yield 1
        except Boom:
            yield "caught"

    gen = catcher()
    next(gen)
    assert gen.throw(Boom()) == "caught"
    gen.close()
    assert len(tel.spans()) == 1


@trace_method
async def acounter(n: int):  # type: ignore[no-untyped-def]
    for i in range(n):
        await asyncio.sleep(0)
        assert trace.get_current_span().is_recording()
        yield i


async def test_async_generator_full_and_early_close(tel: Telemetry) -> None:
    assert [i async for i in acounter(3)] == [0, 1, 2]
    agen = acounter(10)
    async for i in agen:
        if i == 1:
            break
    await agen.aclose()
    spans = [s for s in tel.spans() if s.name == "acounter"]
    assert len(spans) == 2
    assert "llmtel.closed_early" not in spans[0].attributes
    assert spans[1].attributes["llmtel.closed_early"] is True


async def test_async_generator_cancelled(tel: Telemetry) -> None:
    @trace_method
    async def slow():  # type: ignore[no-untyped-def]
        yield 1
        await asyncio.sleep(10)
        yield 2

    async def consume() -> None:
        async for _ in slow():
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = tel.span("test_async_generator_cancelled.<locals>.slow")
    assert span.attributes["llmtel.cancelled"] is True
    assert span.status.status_code is StatusCode.UNSET


def test_async_generator_garbage_collected_unfinished(tel: Telemetry) -> None:
    async def main() -> None:
        agen = acounter(10)
        await agen.__anext__()
        del agen
        gc.collect()
        await asyncio.sleep(0.01)  # the loop's asyncgen finalizer runs aclose()

    asyncio.run(main())
    span = tel.span("acounter")
    assert span.attributes["llmtel.closed_early"] is True


def test_not_recording_does_no_encoding(tel: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = budget.encode

    def spy(value: object) -> str:
        calls.append(value)
        return real(value)

    monkeypatch.setattr(budget, "encode", spy)
    tel.sampler.inner = ALWAYS_OFF
    assert add(1, 2) == 3
    assert calls == []
    tel.sampler.inner = ALWAYS_ON
    assert add(1, 2) == 3
    assert len(calls) == 2  # the spy is live: with a recording span both arguments are encoded


def test_llmtel_failure_never_reaches_the_app(tel: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("llmtel bug")

    before = tel.counter("llmtel.internal.errors")
    monkeypatch.setattr(budget, "encode", broken)
    assert add(2, 3) == 5
    assert tel.counter("llmtel.internal.errors") > before
    assert tel.span("add").end_time is not None


def test_wrapper_keeps_function_metadata() -> None:
    assert add.__name__ == "add"
    assert add.__wrapped__.__qualname__ == "add"  # type: ignore[attr-defined]
