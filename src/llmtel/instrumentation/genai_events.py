"""The GenAI log event of a call, ``gen_ai.client.inference.operation.details``, through the
OTel logs API (the logger provider given to ``instrument()``, else the global one).

It is emitted when the content mode names events (``event_only``, ``span_and_event``) or
``OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT=true``, sampled span or not, as the official
util-genai emits it. It carries the span's GenAI attributes and, with event content, the
messages as maps and lists (a span has them as JSON text), within the byte budget a span's
content has. It needs ``LogRecord.event_name`` (opentelemetry-api 1.35): with an older API
there is no event, and one warning says so.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry._logs import LoggerProvider, LogRecord, get_logger
from opentelemetry.trace import Span, set_span_in_context

from llmtel import __version__
from llmtel.instrumentation.selftelemetry import report_error
from llmtel.instrumentation.semconv import SCHEMA_URL

EVENT_NAME: Final = "gen_ai.client.inference.operation.details"
# The API's LogRecord names its event from opentelemetry-api 1.35; before that it has no name
# to give, and its attributes take no maps (structured messages).
SUPPORTED: Final = "event_name" in inspect.signature(LogRecord.__init__).parameters

logger = logging.getLogger(__name__)


class GenAIEvents:
    """The GenAI events of one instrumentor, on its logger provider."""

    __slots__ = ("_logger", "_warned")

    def __init__(self, scope: str, logger_provider: LoggerProvider | None = None) -> None:
        self._logger = get_logger(scope, __version__, logger_provider, schema_url=SCHEMA_URL)
        self._warned = False

    def ready(self) -> bool:
        """Whether this API can emit the event; warns once when it cannot."""
        if not SUPPORTED and not self._warned:
            self._warned = True
            logger.warning(
                "llmtel: GenAI events need opentelemetry-api >= 1.35 (LogRecord.event_name); none are emitted"
            )
        return SUPPORTED

    def emit(self, span: Span, time_ns: int, attributes: Mapping[str, Any]) -> None:
        """One call's event, in the context of its span (sampled or not), at the call's end."""
        try:
            record = LogRecord(
                timestamp=time_ns,
                context=set_span_in_context(span),
                event_name=EVENT_NAME,
                attributes=attributes,
            )
            self._logger.emit(record)
        except Exception as exc:
            report_error("events.emit", exc)
