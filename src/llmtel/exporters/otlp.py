"""Span, metric and log exporters chosen from the standard ``OTEL_*`` environment.

``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` / ``OTEL_LOGS_EXPORTER`` (``otlp``,
``console``, ``none``) and
``OTEL_EXPORTER_OTLP_PROTOCOL`` (``grpc``, ``http/protobuf``) are honoured; with no
exporter variable set, OTLP is used when an OTLP endpoint is configured.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, MetricExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter

from llmtel.instrumentation.config import ConfigError

try:  # the SDK's names from 1.39 (the older ones warn there)
    from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter as ConsoleLogExporter
    from opentelemetry.sdk._logs.export import LogRecordExporter as LogExporter
except ImportError:  # the declared floor, 1.30
    from opentelemetry.sdk._logs.export import ConsoleLogExporter, LogExporter


def _names(env: Mapping[str, str], signal: str) -> list[str]:
    raw = env.get(f"OTEL_{signal.upper()}_EXPORTER")
    if raw is None:
        endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT")
        return ["otlp"] if endpoint else []
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    unknown = set(names) - {"otlp", "console", "none"}
    if unknown:
        raise ConfigError(f"OTEL_{signal.upper()}_EXPORTER={raw!r}: unsupported {sorted(unknown)}")
    return [n for n in names if n != "none"]


def _protocol(env: Mapping[str, str], signal: str) -> str:
    raw = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    protocol = (raw or "http/protobuf").strip().lower()
    if protocol not in ("grpc", "http/protobuf"):
        raise ConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL={raw!r}: use grpc or http/protobuf")
    return protocol


def _missing(extra: str) -> ConfigError:
    return ConfigError(f"OTLP export needs the exporter packages: pip install 'llmtel[{extra}]'")


# signal -> (its OTLP exporter's module under opentelemetry.exporter.otlp.proto.<protocol>, class)
_OTLP = {
    "traces": ("trace_exporter", "OTLPSpanExporter"),
    "metrics": ("metric_exporter", "OTLPMetricExporter"),
    "logs": ("_log_exporter", "OTLPLogExporter"),
}


def _exporters(env: Mapping[str, str] | None, signal: str, console: Callable[[], Any], also_console: bool) -> list[Any]:
    """One exporter per name the environment gives ``signal`` (``console``, or ``otlp`` in its
    protocol), and the console's when ``also_console`` (LLMTEL_CONSOLE)."""
    e = os.environ if env is None else env
    names = _names(e, signal)
    if also_console and "console" not in names:
        names.append("console")
    out: list[Any] = []
    for name in names:
        if name == "console":
            out.append(console())
            continue
        module, cls = _OTLP[signal]
        kind = "grpc" if _protocol(e, signal) == "grpc" else "http"
        try:
            exporter = getattr(importlib.import_module(f"opentelemetry.exporter.otlp.proto.{kind}.{module}"), cls)
        except ImportError:
            raise _missing("otlp") from None
        out.append(exporter())
    return out


def span_exporters(env: Mapping[str, str] | None = None, console: bool = False) -> list[SpanExporter]:
    """The span exporters the environment asks for (OTLP endpoint, headers etc. are read by them)."""
    return _exporters(env, "traces", ConsoleSpanExporter, console)


def metric_exporters(env: Mapping[str, str] | None = None) -> list[MetricExporter]:
    """The metric exporters the environment asks for."""
    return _exporters(env, "metrics", ConsoleMetricExporter, False)


def log_exporters(env: Mapping[str, str] | None = None, console: bool = False) -> list[LogExporter]:
    """The log exporters the environment asks for (``OTEL_LOGS_EXPORTER``), for the GenAI events."""
    return _exporters(env, "logs", ConsoleLogExporter, console)
