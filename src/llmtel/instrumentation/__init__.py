"""llmtel: OpenTelemetry-native instrumentation for LLM provider calls.

Public API: :func:`configure`, :func:`trace_method`, :func:`log_event`,
:func:`log_attributes` and :class:`llm_context`. Importing this package imports no
provider SDK, and no exporter: ``JsonlSink`` (from ``llmtel.exporters.jsonl``) is loaded
when first named here.
"""

from typing import Any

from llmtel.instrumentation.bootstrap import Handle, configure
from llmtel.instrumentation.config import ConfigError, Settings
from llmtel.instrumentation.context import LLMContext, llm_context
from llmtel.instrumentation.decorators import log_attributes, log_event, trace_method
from llmtel.instrumentation.processor import ProviderTraceProcessor
from llmtel.instrumentation.records import ProviderTrace
from llmtel.instrumentation.sinks import InMemorySink, PayloadSink, TraceSink

__all__ = [
    "ConfigError",
    "Handle",
    "InMemorySink",
    "JsonlSink",
    "LLMContext",
    "PayloadSink",
    "ProviderTrace",
    "ProviderTraceProcessor",
    "Settings",
    "TraceSink",
    "configure",
    "llm_context",
    "log_attributes",
    "log_event",
    "trace_method",
]


def __getattr__(name: str) -> Any:
    if name == "JsonlSink":
        from llmtel.exporters.jsonl import JsonlSink

        return JsonlSink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
