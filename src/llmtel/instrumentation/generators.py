"""Drive a generator or async generator step by step with hooks around each resume.

Context (a span, an ``llm_context``) must be current while the generator body runs but
not while the caller holds it between items, or it would leak into the caller and fail
to detach. ``Hooks.finish`` runs exactly once, however iteration ends: exhausted,
raised, ``close()``/``aclose()``, or garbage-collected unfinished.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any, Protocol, TypeVar

Y = TypeVar("Y")
S = TypeVar("S")
R = TypeVar("R")


class Hooks(Protocol):
    def enter(self) -> Any:
        """Before each resume of the generator body; returns a token for ``exit``."""

    def exit(self, token: Any) -> None:
        """After each resume, with ``enter``'s token."""

    def finish(self, error: BaseException | None, closed_early: bool) -> None:
        """Once, after the last resume."""


def drive(gen: Generator[Y, S, R], hooks: Hooks) -> Generator[Y, S, R]:
    """A generator that yields what ``gen`` yields, passing send/throw/close through."""
    to_send: Any = None
    to_throw: BaseException | None = None
    while True:
        token = hooks.enter()
        try:
            if to_throw is not None:
                exc, to_throw = to_throw, None
                item = gen.throw(exc)
            else:
                item = gen.send(to_send)
        except StopIteration as stop:
            hooks.exit(token)
            hooks.finish(None, False)
            return stop.value  # type: ignore[no-any-return]
        except BaseException as exc:
            hooks.exit(token)
            hooks.finish(exc, False)
            raise
        hooks.exit(token)
        try:
            to_send = yield item
        except GeneratorExit:
            token = hooks.enter()
            try:
                gen.close()
            except BaseException as exc:
                hooks.exit(token)
                hooks.finish(exc, True)
                raise
            hooks.exit(token)
            hooks.finish(None, True)
            raise
        except BaseException as exc:
            to_throw = exc


async def adrive(agen: AsyncGenerator[Y, S], hooks: Hooks) -> AsyncGenerator[Y, S]:
    """The async twin of :func:`drive`, for async generators (asend/athrow/aclose)."""
    to_send: Any = None
    to_throw: BaseException | None = None
    while True:
        token = hooks.enter()
        try:
            if to_throw is not None:
                exc, to_throw = to_throw, None
                item = await agen.athrow(exc)
            else:
                item = await agen.asend(to_send)
        except StopAsyncIteration:
            hooks.exit(token)
            hooks.finish(None, False)
            return
        except BaseException as exc:
            hooks.exit(token)
            hooks.finish(exc, False)
            raise
        hooks.exit(token)
        try:
            to_send = yield item
        except GeneratorExit:
            token = hooks.enter()
            try:
                await agen.aclose()
            except BaseException as exc:
                hooks.exit(token)
                hooks.finish(exc, True)
                raise
            hooks.exit(token)
            hooks.finish(None, True)
            raise
        except BaseException as exc:
            to_throw = exc
