"""Ending a span and recording an exception on it, shared by app spans and provider calls."""

from __future__ import annotations

import asyncio
import traceback
from typing import Final

from opentelemetry.trace import Span, Status, StatusCode

from llmtel.instrumentation import semconv
from llmtel.instrumentation.budget import budget_for, redacted_text
from llmtel.instrumentation.encoding import cut_marker
from llmtel.instrumentation.selftelemetry import report_error

MAX_MESSAGE_CHARS: Final = 2048
MAX_STACK_CHARS: Final = 4096


def _cut_text(text: str, limit: int, keep_tail: bool = False) -> str:
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    return cut_marker(cut) + text[-limit:] if keep_tail else text[:limit] + cut_marker(cut)


def error_type_of(exc: BaseException) -> str:
    """``module.Class`` for the exception, without private submodules (``openai.NotFoundError``):
    its ``exception.type``. ``error.type`` on spans, metrics and rows is the class name alone
    (``NotFoundError``), as the official GenAI instrumentations give it, so one filter matches all
    three; the row's provider says whose error it is."""
    module = type(exc).__module__
    if module in ("builtins", "__main__"):
        return type(exc).__qualname__
    public = []
    for part in module.split("."):
        if part.startswith("_"):
            break
        public.append(part)
    return ".".join([*public, type(exc).__qualname__])


def record_error(span: Span, exc: BaseException) -> None:
    """Exception event (within budget), status ERROR and ``error.type``; cancellation is not an error."""
    if isinstance(exc, asyncio.CancelledError):
        span.set_attribute(semconv.LLMTEL_CANCELLED, True)
        return
    error_type = error_type_of(exc)
    try:
        message = str(exc)
    except Exception:
        message = f"<unprintable {type(exc).__qualname__}>"
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    message = redacted_text("error", message) or ""  # a provider's 400 can quote the request back
    stack = redacted_text("error", stack) or ""
    budget = budget_for(span)
    attributes = {
        "exception.type": error_type,
        "exception.message": _cut_text(message, MAX_MESSAGE_CHARS),
        "exception.stacktrace": _cut_text(stack, MAX_STACK_CHARS, keep_tail=True),
    }
    cost = 9 + sum(len(k) + len(v) for k, v in attributes.items())
    if cost > budget.remaining:
        attributes.pop("exception.stacktrace")
        cost = 9 + sum(len(k) + len(v) for k, v in attributes.items())
    if cost <= budget.remaining:
        budget.remaining -= cost
        span.add_event("exception", attributes)
    span.set_status(Status(StatusCode.ERROR, _cut_text(message, 256)))
    span.set_attribute(semconv.ERROR_TYPE, type(exc).__qualname__)  # as on the metrics (see error_type_of)


def end_span(span: Span, end_time: int | None = None) -> None:
    """End ``span``; a failing span processor is counted, not raised into the app."""
    try:
        span.end(end_time)
    except Exception as exc:
        report_error("span.end", exc)
