"""Span and metric exporters chosen from the standard ``OTEL_*`` environment.

``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` (``otlp``, ``console``, ``none``) and
``OTEL_EXPORTER_OTLP_PROTOCOL`` (``grpc``, ``http/protobuf``) are honoured; with no
exporter variable set, OTLP is used when an OTLP endpoint is configured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, MetricExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter

from llmtel.instrumentation.config import ConfigError


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


def span_exporters(env: Mapping[str, str] | None = None, console: bool = False) -> list[SpanExporter]:
    """The span exporters the environment asks for (OTLP endpoint, headers etc. are read by them)."""
    e = os.environ if env is None else env
    names = _names(e, "traces")
    if console and "console" not in names:
        names.append("console")
    out: list[SpanExporter] = []
    for name in names:
        if name == "console":
            out.append(ConsoleSpanExporter())
            continue
        try:
            if _protocol(e, "traces") == "grpc":
                from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
            else:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
                    OTLPSpanExporter,
                )
        except ImportError:
            raise _missing("otlp") from None
        out.append(OTLPSpanExporter())
    return out


def metric_exporters(env: Mapping[str, str] | None = None) -> list[MetricExporter]:
    """The metric exporters the environment asks for."""
    e = os.environ if env is None else env
    out: list[MetricExporter] = []
    for name in _names(e, "metrics"):
        if name == "console":
            out.append(ConsoleMetricExporter())
            continue
        try:
            if _protocol(e, "metrics") == "grpc":
                from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
            else:
                from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
                    OTLPMetricExporter,
                )
        except ImportError:
            raise _missing("otlp") from None
        out.append(OTLPMetricExporter())
    return out
