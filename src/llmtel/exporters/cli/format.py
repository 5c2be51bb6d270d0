"""How the ``llmtel`` command writes traces: times, numbers, tables, JSON with payload refs resolved."""

from __future__ import annotations

import argparse
import datetime
import json
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from llmtel.instrumentation.records import ProviderTrace
from llmtel.instrumentation.semconv import PAYLOAD_REF_PREFIX

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> datetime.datetime:
    """``15m``, ``2h``, ``7d`` ago, or an ISO timestamp (UTC unless it says otherwise)."""
    raw = text.strip()
    try:
        if raw[:-1].isdigit() and raw[-1:] in _UNITS:
            ago = datetime.timedelta(seconds=int(raw[:-1]) * _UNITS[raw[-1]])
            return datetime.datetime.now(datetime.timezone.utc) - ago
        stamp = datetime.datetime.fromisoformat(raw)
    except (ValueError, OverflowError):  # not a time, or before the year 1
        raise argparse.ArgumentTypeError(f"{text!r}: use 15m, 2h, 7d or an ISO time after the year 1") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.timezone.utc)


def bounded(kind: type[int] | type[float], low: float, high: float) -> Callable[[str], Any]:
    """An argparse type: a number of ``kind`` from ``low`` to ``high`` (no NaN, no infinity)."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except (ValueError, OverflowError):
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r}: use a number from {low:g} to {high:g}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def num(value: float | int | None, fmt: str = "{:,}") -> str:
    return "-" if value is None else fmt.format(value)


def cost(value: float | None) -> str:
    """Dollars with the digits a value needs: $1.23, 0.0123, 0.000018 (never a 0.0000 that hides it)."""
    if value is None:
        return "-"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.4f}" if abs(value) >= 0.01 else f"{value:.6f}"


def short_id(trace: ProviderTrace) -> str:
    """An id's last 12 characters (its span part: a run's calls share the start), which
    ``llmtel show`` takes where unique."""
    return trace.id[-12:]


Column = tuple[str, int, Callable[[ProviderTrace], str], bool]  # header, width, value, right-aligned

# What the columns both tables share show (and whether right-aligned); each table sets the widths.
_SHARED: dict[str, tuple[Callable[[ProviderTrace], str], bool]] = {
    "agent": (lambda t: t.agent_id or "-", False),
    "run": (lambda t: t.run_id or "-", False),
    "in": (lambda t: num(t.input_tokens), True),
    "out": (lambda t: num(t.output_tokens), True),
    "cost $": (lambda t: cost(t.cost_usd), True),
    "ms": (lambda t: num(round(t.duration_ms), "{:,}"), True),
}


def _shared(*widths: tuple[str, int]) -> list[Column]:
    return [(header, width, *_SHARED[header]) for header, width in widths]


# Fits 100 columns: day and minute, the model asked for, ok or error (the type in --wide), the id's end
NARROW: list[Column] = [
    ("time (UTC)", 11, lambda t: t.created_at.strftime("%m-%d %H:%M"), False),
    ("model", 17, lambda t: t.request_model or t.response_model or "-", False),
    *_shared(("agent", 10), ("run", 12), ("in", 6), ("out", 5), ("cost $", 8), ("ms", 5)),
    ("state", 5, lambda t: "error" if t.is_error else "ok", False),
    ("id", 12, short_id, False),
]
WIDE: list[Column] = [
    ("time (UTC)", 19, lambda t: t.created_at.strftime("%Y-%m-%d %H:%M:%S"), False),
    ("provider", 9, lambda t: t.provider, False),
    ("model", 26, lambda t: t.response_model or t.request_model or "-", False),
    *_shared(("agent", 14), ("run", 12)),
    ("step", 8, lambda t: t.step_id or "-", False),
    *_shared(("in", 8), ("out", 7), ("cost $", 9), ("ms", 8)),
    ("status", 16, lambda t: (t.error_type or "error") if t.is_error else "ok", False),
    ("id", 36, lambda t: t.id, False),
]


def cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _line(cells: list[tuple[str, int, bool]]) -> str:
    return " ".join(f"{cell(text, w):>{w}}" if right else f"{cell(text, w):<{w}}" for text, w, right in cells).rstrip()


def print_table(traces: Sequence[ProviderTrace], out: TextIO, columns: list[Column] = NARROW) -> None:
    out.write(_line([(name, width, right) for name, width, _, right in columns]) + "\n")
    for trace in traces:
        out.write(table_row(trace, columns) + "\n")


def table_row(trace: ProviderTrace, columns: list[Column] = NARROW) -> str:
    return _line([(get(trace), width, right) for _, width, get, right in columns])


def as_json(trace: ProviderTrace) -> dict[str, Any]:
    data = trace.to_dict()
    data["created_at"] = trace.created_at.isoformat()
    return data


def resolve_refs(value: Any, fetch: Callable[[str], bytes | None]) -> Any:
    """Replace every ``llmtel://llm_payloads/...`` string with the stored value it names."""
    if isinstance(value, dict):
        return {k: resolve_refs(v, fetch) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_refs(v, fetch) for v in value]
    if isinstance(value, str) and value.startswith(PAYLOAD_REF_PREFIX):
        data = fetch(value)
        if data is None:
            return value
        try:
            return json.loads(data)
        except ValueError:
            return data.decode("utf-8", "replace")
    return value


def shortened(value: Any, limit: int) -> Any:
    """``value`` with each string longer than ``limit`` cut, saying how long it was."""
    if isinstance(value, dict):
        return {k: shortened(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [shortened(v, limit) for v in value]
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"…[{len(value):,} chars; --full shows all]"
    return value


def pretty(text: str, fetch: Callable[[str], bytes | None], limit: int | None = None) -> str:
    """A stored body as indented JSON, its refs resolved; strings cut to ``limit`` when given."""
    if not text:
        return "(none)"
    try:
        value = resolve_refs(json.loads(text), fetch)
    except ValueError:
        return text if limit is None else shortened(text, limit)
    return json.dumps(value if limit is None else shortened(value, limit), indent=2, ensure_ascii=False)
