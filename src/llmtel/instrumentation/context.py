"""``llm_context``: who is calling (agent, run, step, org, user, tags), carried in contextvars.

It flows across ``await`` and into ``contextvars.copy_context()`` threads. Every span
started below it carries the values as ``llmtel.*`` attributes from its start, and every
provider trace gets them as columns.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, TypeVar, cast

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


class llm_context:
    """Tag everything below with agent/run/step/org/user ids and tags.

    Use as ``with llm_context(agent_id="a", run_id="r"):`` or as a decorator (sync, async,
    generator and async generator functions). Nested contexts override ids and merge tags.
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
        self._tokens: list[contextvars.Token[LLMContext | None]] = []

    def resolve(self) -> LLMContext:
        """This context merged over the one in force now."""
        return _merge(_current.get(), self._ids, self._tags, self._extra)

    def __enter__(self) -> LLMContext:
        ctx = self.resolve()
        self._tokens.append(_current.set(ctx))
        return ctx

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _current.reset(self._tokens.pop())

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
                token = _current.set(self.resolve())
                try:
                    return await func(*args, **kwargs)
                finally:
                    _current.reset(token)

            return cast(F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = _current.set(self.resolve())
            try:
                return func(*args, **kwargs)
            finally:
                _current.reset(token)

        return cast(F, wrapper)
