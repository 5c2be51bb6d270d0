"""llmtel: OpenTelemetry-native instrumentation for LLM provider calls.

Public API: :func:`configure`, :func:`trace_method`, :func:`log_event`,
:func:`log_attributes` and :class:`llm_context`. Importing this package imports no
provider SDK.
"""

from .bootstrap import Handle, configure
from .config import ConfigError, Settings
from .context import LLMContext, llm_context
from .decorators import log_attributes, log_event, trace_method
from .processor import ProviderTraceProcessor
from .records import ProviderTrace
from .sinks import InMemorySink, JsonlSink, PayloadSink, TraceSink

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
