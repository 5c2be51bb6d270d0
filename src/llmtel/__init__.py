"""llmtel: OpenTelemetry-native instrumentation for LLM provider calls, with a ClickHouse side
store for full payloads. The API lives in ``llmtel.instrumentation`` and ``llmtel.exporters``."""

__version__ = "0.1.0"
