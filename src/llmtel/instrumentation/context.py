"""``llm_context``: who is calling (agent, run, step, org, user, tags), carried in contextvars.

It flows across ``await`` and into ``contextvars.copy_context()`` threads. Every span
started below it carries the values as ``llmtel.*`` attributes from its start, and every
provider trace gets them as columns.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from llmtel.instrumentation import semconv
from llmtel.instrumentation.generators import adrive, drive

MAX_ID_CHARS: Final = 256
MAX_TAGS: Final = 64

F = TypeVar("F", bound=Callable[..., Any])


def _cap(value: str) -> str:
    if len(value) <= MAX_ID_CHARS:
        return value
    return value[:MAX_ID_CHARS] + f"…[llmtel: +{len(value) - MAX_ID_CHARS} chars]"


@dataclass(frozen=True, slots=True)
class LLMContext:
    """The merged context in force. ``attributes`` are precomputed once per ``llm_context``."""

    agent_id: str | None = None
    run_id: str | None = None
    step_id: str | None = None
    call_type: str | None = None
    org_id: str | None = None
    user_id: str | None = None
    tags: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    attribute_bytes: int = 0


ATTRIBUTES: Final = (  # LLMContext field ↔ span attribute, both ways (tags and extra apart)
    ("agent_id", semconv.LLMTEL_AGENT_ID),
    ("run_id", semconv.LLMTEL_RUN_ID),
    ("step_id", semconv.LLMTEL_STEP_ID),
    ("call_type", semconv.LLMTEL_CALL_TYPE),
    ("org_id", semconv.LLMTEL_ORG_ID),
    ("user_id", semconv.LLMTEL_USER_ID),
)

_current: contextvars.ContextVar[LLMContext | None] = contextvars.ContextVar("llmtel_context", default=None)


def current() -> LLMContext | None:
    """The ``llm_context`` in force here, or None."""
    return _current.get()


def from_attributes(attributes: Mapping[str, Any]) -> LLMContext:
    """The llm_context a span carries as ``llmtel.*`` attributes (another instrumentation's span,
    stamped at its start by the processor)."""
    values: dict[str, Any] = {name: None if (v := attributes.get(key)) is None else str(v) for name, key in ATTRIBUTES}
    prefix = semconv.LLMTEL_EXTRA_PREFIX
    extra = {key[len(prefix) :]: str(value) for key, value in attributes.items() if key.startswith(prefix)}
    return LLMContext(tags=tuple(str(t) for t in attributes.get(semconv.LLMTEL_TAGS) or ()), extra=extra, **values)


def _merge(
    parent: LLMContext | None, ids: Mapping[str, str | None], tags: Iterable[str], extra: Mapping[str, Any]
) -> LLMContext:
    base = parent or LLMContext()
    values = {
        name: (_cap(str(ids[name])) if ids.get(name) is not None else getattr(base, name)) for name, _ in ATTRIBUTES
    }
    merged_tags = list(base.tags)
    for tag in tags:
        tag = _cap(str(tag))
        if tag not in merged_tags and len(merged_tags) < MAX_TAGS:
            merged_tags.append(tag)
    merged_extra = {**base.extra, **{k: _cap(str(v)) for k, v in extra.items() if v is not None}}
    attributes: dict[str, AttributeValue] = {}
    for name, key in ATTRIBUTES:
        if values[name] is not None:
            attributes[key] = values[name]
    for name, key in (("run_id", semconv.SESSION_ID), ("user_id", semconv.USER_ID)):  # where viewers look
        if values[name] is not None:
            attributes[key] = values[name]
    if merged_tags:
        attributes[semconv.LLMTEL_TAGS] = tuple(merged_tags)
    for k, v in merged_extra.items():
        attributes[semconv.LLMTEL_EXTRA_PREFIX + k] = v
    size = sum(
        len(k) + (sum(len(t) for t in v) if isinstance(v, tuple) else len(str(v))) for k, v in attributes.items()
    )
    return LLMContext(
        tags=tuple(merged_tags), extra=merged_extra, attributes=attributes, attribute_bytes=size, **values
    )


class _ContextHooks:
    """Sets the context around each resume of a decorated generator."""

    def __init__(self, ctx: LLMContext) -> None:
        self.ctx = ctx

    def enter(self) -> Any:
        return _current.set(self.ctx)

    def exit(self, token: Any) -> None:
        _current.reset(token)

    def finish(self, error: BaseException | None, closed_early: bool) -> None:
        return None


class _RunSpan:
    """The span ``llm_context(open_span=True)`` opens, current while the context is in force, so a
    run is one trace in a viewer rather than a root trace per call."""

    def __init__(self, ctx: LLMContext) -> None:
        from llmtel.instrumentation.decorators import tracer

        name = f"run {ctx.run_id}" if ctx.run_id else f"agent {ctx.agent_id}" if ctx.agent_id else "llm_context"
        self.span = tracer.start_span(name, attributes={**ctx.attributes, semconv.SPAN_KIND: "AGENT"})
        self.token = otel_context.attach(trace.set_span_in_context(self.span))

    def end(self, error: BaseException | None) -> None:
        from llmtel.instrumentation.spans import end_span, record_error

        otel_context.detach(self.token)
        if error is not None:
            record_error(self.span, error)
        end_span(self.span)


class llm_context:
    """Tag everything below with agent/run/step/org/user ids and tags.

    Use as ``with llm_context(agent_id="a", run_id="r"):`` or as a decorator (sync and async
    functions, generator and async generator functions). Nested contexts override ids and merge
    tags. ``open_span=True`` also opens a span for it (not for generators): the run is one trace.
    """

    def __init__(
        self,
        agent_id: str | None = None,
        run_id: str | None = None,
        step_id: str | None = None,
        call_type: str | None = None,
        org_id: str | None = None,
        user_id: str | None = None,
        tags: Iterable[str] = (),
        open_span: bool = False,
        **extra: Any,
    ) -> None:
        self._ids = {
            "agent_id": agent_id,
            "run_id": run_id,
            "step_id": step_id,
            "call_type": call_type,
            "org_id": org_id,
            "user_id": user_id,
        }
        self._tags = tuple(tags)
        self._extra = extra
        self._open_span = open_span
        self._scopes: list[contextlib.AbstractContextManager[LLMContext]] = []  # one per nested `with`

    def resolve(self) -> LLMContext:
        """This context merged over the one in force now."""
        return _merge(_current.get(), self._ids, self._tags, self._extra)

    def __enter__(self) -> LLMContext:
        scope = self._scope()
        ctx = scope.__enter__()
        self._scopes.append(scope)
        return ctx

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._scopes.pop().__exit__(exc_type, exc, tb)

    def _start_span(self, ctx: LLMContext) -> _RunSpan | None:
        if not self._open_span:
            return None
        try:
            return _RunSpan(ctx)
        except Exception as exc:
            from llmtel.instrumentation.selftelemetry import report_error

            report_error("llm_context.span", exc)
            return None

    def __call__(self, func: F) -> F:
        if inspect.isasyncgenfunction(func):

            @functools.wraps(func)
            def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
                return adrive(func(*args, **kwargs), _ContextHooks(self.resolve()))

            return cast(F, agen_wrapper)
        if inspect.isgeneratorfunction(func):

            @functools.wraps(func)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                return drive(func(*args, **kwargs), _ContextHooks(self.resolve()))

            return cast(F, gen_wrapper)
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self._scope():
                    return await func(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._scope():
                return func(*args, **kwargs)

        return cast(F, wrapper)

    @contextlib.contextmanager
    def _scope(self) -> Iterator[LLMContext]:
        """One ``with`` or one call of a decorated function: its own token and span (calls may overlap)."""
        ctx = self.resolve()
        token = _current.set(ctx)
        run_span = self._start_span(ctx)
        error: BaseException | None = None
        try:
            yield ctx
        except BaseException as exc:
            error = exc
            raise
        finally:
            if run_span is not None:
                run_span.end(error)
            _current.reset(token)
