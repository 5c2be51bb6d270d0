"""``trace_method``, ``log_event`` and ``log_attributes``: spans and events for app code.

Arguments are captured as ``parameter.<name>`` JSON attributes within the byte budget,
only when the span is recording. The wrapped function's result and exceptions pass
through untouched; llmtel's own failures are swallowed and counted.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar, overload

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from llmtel import __version__
from llmtel.instrumentation import active, context, semconv
from llmtel.instrumentation.budget import SpanBudget, budget_for, budgeted, fit_value, mark_dropped, new_budget
from llmtel.instrumentation.encoding import utf8_len
from llmtel.instrumentation.generators import adrive, drive
from llmtel.instrumentation.selftelemetry import report_error
from llmtel.instrumentation.spans import end_span, record_error

F = TypeVar("F", bound=Callable[..., Any])

tracer: Final = trace.get_tracer("llmtel", __version__)
_SKIPPED_FIRST: Final = frozenset({"self", "cls"})


class _Spec:
    """What ``trace_method`` needs about one function, computed once at decoration."""

    __slots__ = ("capture", "exclude", "kind", "name", "positional", "record_return", "skip_first", "varargs")

    def __init__(
        self,
        func: Callable[..., Any],
        name: str | None,
        capture: list[str] | None,
        exclude: list[str] | None,
        record_return: bool,
        kind: str = "chain",
    ) -> None:
        self.kind = kind.upper()
        self.name: str = name or str(getattr(func, "__qualname__", None) or getattr(func, "__name__", "call"))
        self.capture = frozenset(capture) if capture is not None else None
        self.exclude = frozenset(exclude or ())
        self.record_return = record_return
        self.positional: list[str] = []
        self.varargs: str | None = None
        try:
            params = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError):
            params = []
        for p in params:
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                self.positional.append(p.name)
            elif p.kind == p.VAR_POSITIONAL:
                self.varargs = p.name
        self.skip_first = bool(self.positional) and self.positional[0] in _SKIPPED_FIRST

    def wanted(self, name: str) -> bool:
        return name not in self.exclude and (self.capture is None or name in self.capture)

    def arguments(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Argument name → value as passed, without self/cls."""
        out: dict[str, Any] = {}
        n = len(self.positional)
        for i, value in enumerate(args[:n]):
            if i == 0 and self.skip_first:
                continue
            out[self.positional[i]] = value
        if len(args) > n:
            out[self.varargs or "args"] = list(args[n:])
        out.update(kwargs)
        if self.capture is None and not self.exclude:
            return out
        return {k: v for k, v in out.items() if self.wanted(k)}


def start_span(
    spec: _Spec, args: tuple[Any, ...], kwargs: Mapping[str, Any], parent: context_api.Context | None = None
) -> Span:
    """Start the function's span with context attributes (visible to samplers) and arguments."""
    ctx = context.current()
    attributes = {**ctx.attributes, semconv.SPAN_KIND: spec.kind} if ctx is not None else {semconv.SPAN_KIND: spec.kind}
    span = tracer.start_span(spec.name, context=parent, kind=SpanKind.INTERNAL, attributes=attributes)
    if span.is_recording():
        try:
            budget = new_budget(ctx.attribute_bytes if ctx is not None else 0)
            out: dict[str, Any] = {}
            fitted = []
            for name, value in spec.arguments(args, kwargs).items():
                key = semconv.PARAMETER_PREFIX + name
                fit_value(out, key, value, budget, "parameter")
                if key in out:
                    fitted.append(json.dumps(name) + ":" + str(out[key]))
            if fitted:  # one JSON object of the values just fitted, where viewers show a span's input
                _viewer_copy(out, semconv.INPUT_VALUE, "{" + ",".join(fitted) + "}", budget)
            span.set_attributes(out)
            mark_dropped(span, budget)
        except Exception as exc:
            report_error("trace_method.arguments", exc)
    return span


def _viewer_copy(out: dict[str, Any], key: str, text: str, budget: SpanBudget) -> None:
    """``input.value`` / ``output.value``: JSON already fitted (a big value is its preview, and
    its ``_ref`` is on the parameter's own attribute), so no second payload; when it fits."""
    size = utf8_len(text)
    cost = len(key) + size + 40
    if size > active.setup.settings.max_attribute_bytes or cost > budget.remaining:
        return  # each part is on its own attribute already
    budget.remaining -= cost
    out[key] = text
    out[key.replace(".value", ".mime_type")] = "application/json"


def _finish(
    span: Span, spec: _Spec, error: BaseException | None, result: Any = None, closed_early: bool = False
) -> None:
    try:
        if error is not None:
            record_error(span, error)
        elif spec.record_return and span.is_recording():
            budget = budget_for(span)
            out: dict[str, Any] = {}
            fit_value(out, semconv.RETURN_VALUE, result, budget, "return")
            if semconv.RETURN_VALUE in out:
                _viewer_copy(out, semconv.OUTPUT_VALUE, str(out[semconv.RETURN_VALUE]), budget)
            span.set_attributes(out)
            mark_dropped(span, budget)
        if closed_early:
            span.set_attribute(semconv.LLMTEL_CLOSED_EARLY, True)
    except Exception as exc:
        report_error("trace_method.finish", exc)
    end_span(span)


class _GeneratorSpan:
    """Hooks that start the span on first resume and end it once when iteration ends."""

    __slots__ = ("args", "kwargs", "parent", "span", "spec")

    def __init__(self, spec: _Spec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.spec = spec
        self.args = args
        self.kwargs = kwargs
        self.parent = context_api.get_current()
        self.span: Span | None = None

    def enter(self) -> Any:
        if self.span is None:
            self.span = start_span(self.spec, self.args, self.kwargs, self.parent)
            self.args, self.kwargs = (), {}
        return context_api.attach(trace.set_span_in_context(self.span, self.parent))

    def exit(self, token: Any) -> None:
        context_api.detach(token)

    def finish(self, error: BaseException | None, closed_early: bool) -> None:
        if self.span is not None:
            _finish(self.span, self.spec, error, closed_early=closed_early)


def _wrap(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
            return adrive(func(*args, **kwargs), _GeneratorSpan(spec, args, kwargs))

        return agen_wrapper
    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            return drive(func(*args, **kwargs), _GeneratorSpan(spec, args, kwargs))

        return gen_wrapper
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                span = start_span(spec, args, kwargs)
                token = context_api.attach(trace.set_span_in_context(span))
            except Exception as exc:
                report_error("trace_method.start", exc)
                return await func(*args, **kwargs)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                context_api.detach(token)
                _finish(span, spec, exc)
                raise
            context_api.detach(token)
            _finish(span, spec, None, result)
            return result

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            span = start_span(spec, args, kwargs)
            token = context_api.attach(trace.set_span_in_context(span))
        except Exception as exc:
            report_error("trace_method.start", exc)
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            context_api.detach(token)
            _finish(span, spec, exc)
            raise
        context_api.detach(token)
        _finish(span, spec, None, result)
        return result

    return wrapper


@overload
def trace_method(func: F, /) -> F: ...


@overload
def trace_method(
    *,
    name: str | None = None,
    capture: list[str] | None = None,
    exclude: list[str] | None = None,
    record_return: bool = False,
    kind: str = "chain",
) -> Callable[[F], F]: ...


def trace_method(
    func: Any = None,
    /,
    *,
    name: str | None = None,
    capture: list[str] | None = None,
    exclude: list[str] | None = None,
    record_return: bool = False,
    kind: str = "chain",
) -> Any:
    """Trace every call of a function, method, classmethod, staticmethod, coroutine,
    generator or async generator in a span named after its ``__qualname__``.

    ``capture``/``exclude`` pick which arguments become ``parameter.<name>`` attributes (and,
    together, the span's ``input.value``); ``record_return`` also records the return value as
    ``return.value`` and ``output.value``. ``kind`` (chain, tool, agent, retriever, ...) is what
    OTLP viewers such as Phoenix show the span as (``openinference.span.kind``).
    """
    if kind.lower() not in semconv.SPAN_KINDS:
        raise ValueError(f"trace_method(kind={kind!r}): use one of {', '.join(sorted(semconv.SPAN_KINDS))}")

    def decorate(target: Any) -> Any:
        if isinstance(target, (classmethod, staticmethod)):
            return type(target)(decorate(target.__func__))
        spec = _Spec(target, name, capture, exclude, record_return, kind)
        return _wrap(target, spec)

    return decorate(func) if func is not None else decorate


def log_event(name: str, attributes: Mapping[str, Any] | None = None) -> None:
    """Add an event to the current span; values are encoded and budgeted like arguments."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    try:
        budget = budget_for(span)
        if len(name) > budget.remaining:
            budget.dropped += 1
            mark_dropped(span, budget)
            return
        budget.remaining -= len(name)
        span.add_event(name, budgeted(attributes or {}, budget, "event"))
        mark_dropped(span, budget)
    except Exception as exc:
        report_error("log_event", exc)


def log_attributes(attributes: Mapping[str, Any]) -> None:
    """Set attributes on the current span, encoded and budgeted like arguments."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    try:
        budget = budget_for(span)
        span.set_attributes(budgeted(attributes, budget, "attribute"))
        mark_dropped(span, budget)
    except Exception as exc:
        report_error("log_attributes", exc)


__all__ = ["log_attributes", "log_event", "trace_method"]
