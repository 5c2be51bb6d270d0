"""Settings read from the environment: standard OTel variables first, then ``LLMTEL_*``.

Every value is validated here, so a bad setting fails once at ``configure()`` with a
message naming the variable, instead of later inside a request.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

Redactor = Callable[[str, Any], Any]
"""``redact(kind, value) -> value``: sees every payload before it is stored or put on a span."""

DEFAULT_STORE_URL = "chdb://./.llmtel/chdb"
STORE_SCHEMES = ("chdb", "http", "https", "jsonl", "memory", "none")
INSTRUMENTORS = {  # LLMTEL_INSTRUMENT name → its instrumentor (also the opentelemetry_instrumentor entry points)
    "openai": "llmtel.instrumentation.openai:OpenAIInstrumentor",
    "anthropic": "llmtel.instrumentation.anthropic:AnthropicInstrumentor",
}


class ConfigError(ValueError):
    """A setting is invalid; the message names it and says what is accepted."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true or false)")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum of {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not value >= minimum:
        raise ConfigError(f"{name}={value} is below the minimum of {minimum}")
    return value


def capture_content_from(raw: str | None) -> bool:
    """OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: true, or a span-carrying mode, turns it on."""
    if raw is None:
        return False
    value = raw.strip().lower()
    return value in _TRUE or value in {"span_only", "span_and_event"}


def store_scheme(url: str) -> str:
    """The kind of store a URL names (``chdb``, ``http``, ``jsonl``, ...): the one place it is read."""
    return url.split("://", 1)[0].lower() if "://" in url else url.lower()


def check_store_url(url: str) -> str:
    """Validate a store DSN early so a typo is a config error, not a failure on the writer thread."""
    scheme = store_scheme(url)
    if scheme not in STORE_SCHEMES:
        raise ConfigError(
            f"LLMTEL_CLICKHOUSE_URL={url!r}: unknown scheme {scheme!r} "
            f"(use chdb:///path, http(s)://user:pass@host:port/db, jsonl:///dir, memory:// or none)"
        )
    return url


@dataclass(frozen=True)
class Settings:
    """Everything llmtel reads from its environment, validated."""

    service_name: str | None = None
    sdk_disabled: bool = False
    capture_content: bool = False
    store_content: bool = True
    record_unsampled: bool = True
    max_attribute_bytes: int = 4096
    max_span_bytes: int = 16384
    store_url: str = DEFAULT_STORE_URL
    spool_dir: str = "./.llmtel/spool"
    spool_max_bytes: int = 1 << 30
    queue_max_bytes: int = 64 << 20
    batch_max_rows: int = 5000
    batch_max_bytes: int = 16 << 20
    flush_interval_s: float = 1.0
    shutdown_timeout_s: float = 10.0
    ttl_days: int = 0
    console: bool = False
    prices_file: str | None = None
    instrument: tuple[str, ...] = tuple(INSTRUMENTORS)
    redact: Redactor | None = field(default=None, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read and validate the environment; keyword overrides win over the environment."""
        e = os.environ if env is None else env
        instrument_raw = e.get("LLMTEL_INSTRUMENT", ",".join(INSTRUMENTORS))
        instrument = tuple(p.strip().lower() for p in instrument_raw.split(",") if p.strip())
        unknown = set(instrument) - {*INSTRUMENTORS, "none"}
        if unknown:
            raise ConfigError(f"LLMTEL_INSTRUMENT={instrument_raw!r}: unknown {sorted(unknown)}")
        settings = cls(
            service_name=e.get("OTEL_SERVICE_NAME") or None,
            sdk_disabled=_bool(e, "OTEL_SDK_DISABLED", False),
            capture_content=capture_content_from(e.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")),
            store_content=_bool(e, "LLMTEL_STORE_CONTENT", True),
            record_unsampled=_bool(e, "LLMTEL_RECORD_UNSAMPLED", True),
            max_attribute_bytes=_int(e, "LLMTEL_MAX_ATTRIBUTE_BYTES", 4096, 256),
            max_span_bytes=_int(e, "LLMTEL_MAX_SPAN_BYTES", 16384, 1024),
            store_url=check_store_url(e.get("LLMTEL_CLICKHOUSE_URL", DEFAULT_STORE_URL).strip()),
            spool_dir=e.get("LLMTEL_SPOOL_DIR", "./.llmtel/spool"),
            spool_max_bytes=_int(e, "LLMTEL_SPOOL_MAX_BYTES", 1 << 30, 0),
            queue_max_bytes=_int(e, "LLMTEL_QUEUE_MAX_BYTES", 64 << 20, 1 << 16),
            batch_max_rows=_int(e, "LLMTEL_BATCH_MAX_ROWS", 5000, 1),
            batch_max_bytes=_int(e, "LLMTEL_BATCH_MAX_BYTES", 16 << 20, 1 << 10),
            flush_interval_s=_float(e, "LLMTEL_FLUSH_INTERVAL", 1.0, 0.01),
            shutdown_timeout_s=_float(e, "LLMTEL_SHUTDOWN_TIMEOUT", 10.0, 0.0),
            ttl_days=_int(e, "LLMTEL_TTL_DAYS", 0, 0),
            console=_bool(e, "LLMTEL_CONSOLE", False),
            prices_file=e.get("LLMTEL_PRICES_FILE") or None,
            instrument=tuple(p for p in instrument if p != "none"),
        )
        if overrides:
            if "store_url" in overrides and overrides["store_url"] is not None:
                check_store_url(overrides["store_url"])
            settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
        if settings.max_attribute_bytes > settings.max_span_bytes:
            raise ConfigError(
                f"LLMTEL_MAX_ATTRIBUTE_BYTES={settings.max_attribute_bytes} exceeds "
                f"LLMTEL_MAX_SPAN_BYTES={settings.max_span_bytes}"
            )
        if settings.redact is not None and not callable(settings.redact):
            raise ConfigError("redact must be a callable redact(kind, value) -> value")
        return settings
