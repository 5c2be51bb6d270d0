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


_TABLE: list[tuple[str, int, Callable[[ProviderTrace], str]]] = [
    ("time (UTC)", 19, lambda t: t.created_at.strftime("%Y-%m-%d %H:%M:%S")),
    ("provider", 9, lambda t: t.provider),
    ("model", 26, lambda t: t.response_model or t.request_model or "-"),
    ("agent", 14, lambda t: t.agent_id or "-"),
    ("run", 12, lambda t: t.run_id or "-"),
    ("step", 8, lambda t: t.step_id or "-"),
    ("in", 8, lambda t: num(t.input_tokens)),
    ("out", 7, lambda t: num(t.output_tokens)),
    ("cost $", 9, lambda t: num(t.cost_usd, "{:.6f}")),
    ("ms", 8, lambda t: num(round(t.duration_ms), "{:,}")),
    ("status", 16, lambda t: (t.error_type or "error") if t.is_error else "ok"),
    ("id", 36, lambda t: t.id),
]


def cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(traces: Sequence[ProviderTrace], out: TextIO) -> None:
    out.write("  ".join(f"{name:<{width}}" for name, width, _ in _TABLE).rstrip() + "\n")
    for trace in traces:
        out.write(table_row(trace) + "\n")


def table_row(trace: ProviderTrace) -> str:
    return "  ".join(f"{cell(get(trace), width):<{width}}" for _, width, get in _TABLE).rstrip()


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


def pretty(text: str, fetch: Callable[[str], bytes | None]) -> str:
    if not text:
        return "(none)"
    try:
        return json.dumps(resolve_refs(json.loads(text), fetch), indent=2, ensure_ascii=False)
    except ValueError:
        return text
