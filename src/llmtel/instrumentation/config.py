"""Settings read from the environment: standard OTel variables first, then ``LLMTEL_*``.

Every value is validated here, so a bad setting fails once at ``configure()`` with a
message naming the variable, instead of later inside a request.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
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


@dataclass(frozen=True)
class _Option:
    """One validated setting: its ``Settings`` field, its variable, its type and accepted range."""

    field: str
    env: str
    kind: type
    low: float = 0
    high: float = 0

    def accepted(self) -> str:
        if self.kind is bool:
            return "true or false"
        if self.kind is int:
            return f"a whole number from {int(self.low):,} to {int(self.high):,}"
        return f"a number from {self.low:g} to {self.high:g}"

    def parse(self, raw: str) -> Any:
        """The value of the variable's text; ConfigError naming the variable if it is not accepted."""
        text = raw.strip().lower()
        try:
            if self.kind is bool:
                if text not in _TRUE | _FALSE:
                    raise ValueError(raw)
                return text in _TRUE
            value = int(text.replace("_", "")) if self.kind is int else float(text)
        except ValueError:
            raise ConfigError(f"{self.env}={raw!r} is not {self.accepted()}") from None
        return self.check(value, f"{self.env}={raw!r}")

    def check(self, value: Any, shown: str) -> Any:
        """``value`` if its type and range are accepted (NaN and infinities never are)."""
        if self.kind is bool:
            ok = isinstance(value, bool)
        elif self.kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and self.low <= value <= self.high
        if not ok:
            raise ConfigError(f"{shown} is not accepted: {self.field} ({self.env}) takes {self.accepted()}")
        return float(value) if self.kind is float else value


_HOUR = 3600.0
_OPTIONS = {
    o.field: o
    for o in (
        _Option("sdk_disabled", "OTEL_SDK_DISABLED", bool),
        _Option("store_content", "LLMTEL_STORE_CONTENT", bool),
        _Option("record_unsampled", "LLMTEL_RECORD_UNSAMPLED", bool),
        _Option("store_spans", "LLMTEL_STORE_SPANS", bool),
        _Option("console", "LLMTEL_CONSOLE", bool),
        _Option("max_attribute_bytes", "LLMTEL_MAX_ATTRIBUTE_BYTES", int, 256, 64 << 20),
        _Option("max_span_bytes", "LLMTEL_MAX_SPAN_BYTES", int, 1024, 256 << 20),
        _Option("spool_max_bytes", "LLMTEL_SPOOL_MAX_BYTES", int, 0, 1 << 50),
        _Option("queue_max_bytes", "LLMTEL_QUEUE_MAX_BYTES", int, 1 << 16, 1 << 40),
        _Option("batch_max_rows", "LLMTEL_BATCH_MAX_ROWS", int, 1, 1_000_000),
        _Option("batch_max_bytes", "LLMTEL_BATCH_MAX_BYTES", int, 1 << 10, 1 << 31),
        _Option("ttl_days", "LLMTEL_TTL_DAYS", int, 0, 36_500),
        _Option("flush_interval_s", "LLMTEL_FLUSH_INTERVAL", float, 0.01, _HOUR),
        _Option("shutdown_timeout_s", "LLMTEL_SHUTDOWN_TIMEOUT", float, 0.0, _HOUR),
    )
}
_TEXT = {  # settings taken as text: field → variable
    "service_name": "OTEL_SERVICE_NAME",
    "store_url": "LLMTEL_CLICKHOUSE_URL",
    "spool_dir": "LLMTEL_SPOOL_DIR",
    "prices_file": "LLMTEL_PRICES_FILE",
}
# Every LLMTEL_* variable llmtel reads (an unknown one is warned about once, with the closest of these).
KNOWN_VARIABLES = frozenset(
    {o.env for o in _OPTIONS.values()} | set(_TEXT.values()) | {"LLMTEL_INSTRUMENT", "LLMTEL_STORE_IDLE_S"}
)


def _read(env: Mapping[str, str], field_name: str, default: Any) -> Any:
    option = _OPTIONS[field_name]
    raw = env.get(option.env)
    return default if raw is None or not raw.strip() else option.parse(raw)


def redacted_url(url: str) -> str:
    """``url`` with its password (``user:password@``, ``?password=``) replaced by ``***``: what
    messages, logs and reprs show."""
    return _URL_PASSWORD.sub(r"\1***\2", _QUERY_PASSWORD.sub(r"\1***", url))


_URL_PASSWORD = re.compile(r"(://[^/@:]*:)[^/@]*(@)")
_QUERY_PASSWORD = re.compile(r"([?&](?:password|pass|pwd|token|key)=)[^&#]*", re.IGNORECASE)


def unknown_variables(env: Mapping[str, str]) -> list[str]:
    """One warning line per ``LLMTEL_*`` variable llmtel does not read, with the closest known name."""
    lines = []
    for name in sorted(k for k in env if k.startswith("LLMTEL_") and k not in KNOWN_VARIABLES):
        close = difflib.get_close_matches(name, KNOWN_VARIABLES, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        lines.append(f"llmtel: {name} is not a setting llmtel reads{hint}")
    return lines


CONTENT_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
EVENTS_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"


def capture_content_from(raw: str | None) -> bool:
    """OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: true, or a span-carrying mode, turns it on."""
    if raw is None:
        return False
    value = raw.strip().lower()
    return value in _TRUE or value in {"span_only", "span_and_event"}


def event_content_from(raw: str | None) -> bool:
    """The content mode puts content on the GenAI events (``event_only``, ``span_and_event``)."""
    return raw is not None and raw.strip().lower() in {"event_only", "span_and_event"}


def emit_events_from(raw_emit: str | None, raw_content: str | None) -> bool:
    """OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT when it is true or false, else whether the content
    mode names events (the official util-genai's rule)."""
    value = (raw_emit or "").strip().lower()
    if value in {"true", "false"}:
        return value == "true"
    return event_content_from(raw_content)


_CONTENT = ("capture_content", "event_content", "emit_events")  # content_settings' keys, configure() keywords


def content_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The three content settings (span content, event content, events) from the environment."""
    raw = env.get(CONTENT_VARIABLE)
    return {
        "capture_content": capture_content_from(raw),
        "event_content": event_content_from(raw),
        "emit_events": emit_events_from(env.get(EVENTS_VARIABLE), raw),
    }


def store_scheme(url: str) -> str:
    """The kind of store a URL names (``chdb``, ``http``, ``jsonl``, ...): the one place it is read."""
    return url.split("://", 1)[0].lower() if "://" in url else url.lower()


def check_store_url(url: str) -> str:
    """Validate a store DSN early so a typo is a config error, not a failure on the writer thread."""
    scheme = store_scheme(url)
    if scheme not in STORE_SCHEMES:
        raise ConfigError(
            f"LLMTEL_CLICKHOUSE_URL={redacted_url(url)!r}: unknown scheme {scheme!r} "
            f"(use chdb:///path, http(s)://user:pass@host:port/db, jsonl:///dir, memory:// or none)"
        )
    return url


@dataclass(frozen=True)
class Settings:
    """Everything llmtel reads from its environment, validated."""

    service_name: str | None = None
    sdk_disabled: bool = False
    capture_content: bool = False  # message content on spans
    event_content: bool = False  # message content on the GenAI events
    emit_events: bool = False  # a gen_ai.client.inference.operation.details log event per call
    store_content: bool = True
    store_spans: bool | None = None  # every finished span to otel_traces; None: only for the embedded store
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

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={redacted_url(v) if f.name == 'store_url' else v!r}"
            for f in fields(self)
            if (v := getattr(self, f.name)) is not None or f.name == "redact"
        )
        return f"Settings({shown})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read and validate the environment; keyword overrides win over the environment and are
        validated the same way (ConfigError naming the keyword, its variable and what it takes)."""
        e = os.environ if env is None else env
        defaults = cls()
        raw_instrument = e.get("LLMTEL_INSTRUMENT", ",".join(INSTRUMENTORS))
        values: dict[str, Any] = {name: _read(e, name, getattr(defaults, name)) for name in _OPTIONS}
        values.update(
            service_name=e.get("OTEL_SERVICE_NAME") or None,
            **content_settings(e),
            store_url=check_store_url(e.get("LLMTEL_CLICKHOUSE_URL", DEFAULT_STORE_URL).strip()),
            spool_dir=e.get("LLMTEL_SPOOL_DIR", defaults.spool_dir),
            prices_file=e.get("LLMTEL_PRICES_FILE") or None,
            instrument=_instrument(raw_instrument, f"LLMTEL_INSTRUMENT={raw_instrument!r}"),
        )
        for name, value in overrides.items():
            if value is not None:
                values[name] = _override(name, value)
        settings = cls(**values)
        if settings.max_attribute_bytes > settings.max_span_bytes:
            raise ConfigError(
                f"LLMTEL_MAX_ATTRIBUTE_BYTES={settings.max_attribute_bytes} exceeds "
                f"LLMTEL_MAX_SPAN_BYTES={settings.max_span_bytes}"
            )
        return settings


def _instrument(raw: str, shown: str) -> tuple[str, ...]:
    """Provider names from a comma-separated list (``none`` for none)."""
    names = tuple(p.strip().lower() for p in raw.split(",") if p.strip())
    unknown = set(names) - {*INSTRUMENTORS, "none"}
    if unknown:
        raise ConfigError(f"{shown}: unknown {sorted(unknown)} (known: {', '.join(INSTRUMENTORS)}, none)")
    return tuple(p for p in names if p != "none")


def _override(name: str, value: Any) -> Any:
    """A ``configure()`` keyword's value, validated as strictly as its variable."""
    shown = f"configure({name}={value!r})"
    if name in _OPTIONS:
        return _OPTIONS[name].check(value, shown)
    if name == "instrument":
        if isinstance(value, str):
            return _instrument(value, shown)
        if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
            return _instrument(",".join(value) or "none", shown)
        raise ConfigError(f"{shown} is not accepted: instrument takes provider names, e.g. ('openai',)")
    if name == "redact":
        if not callable(value):
            raise ConfigError(f"configure(redact=...) takes a callable redact(kind, value) -> value, not {type(value)}")
        return value
    if name in _CONTENT:
        if not isinstance(value, bool):
            raise ConfigError(f"{shown} is not accepted: {name} takes true or false")
        return value
    if name in _TEXT:
        if not isinstance(value, (str, os.PathLike)):
            raise ConfigError(f"configure({name}=...) takes text ({_TEXT[name]}), not {type(value).__name__}")
        text = os.fspath(value)
        return check_store_url(text.strip()) if name == "store_url" else text
    known = sorted([*_OPTIONS, *_TEXT, *_CONTENT, "instrument", "redact"])
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise ConfigError(f"configure() has no setting {name!r}: {hint}(known: {', '.join(known)})")
