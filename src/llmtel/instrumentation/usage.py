"""Token usage as the provider reported it, in one shape for every provider (each provider's
``usage.py`` reads its own), and the one table between that shape and the GenAI attributes.

``None`` means the provider did not report that count; ``0`` means it reported zero.
Nothing here estimates tokens.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Final

from llmtel.instrumentation import semconv


@dataclass(slots=True)
class Usage:
    """Token counts for one call. ``input_tokens`` includes cached and cache-written tokens.
    Not frozen: a frozen dataclass is built through ``object.__setattr__``, at twice the cost."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_write_input_tokens: int | None = None
    reasoning_tokens: int | None = None


def count(value: Any) -> int | None:
    """A count as sent; a float only when it is a finite number (NaN and ±inf are not counts).
    Range (negative, past UInt64) is the row's concern, not the span's: see provider_trace."""
    if type(value) is int:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return None


def total(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


ATTRIBUTES: Final = (  # Usage field ↔ span attribute, both ways (total_tokens has no attribute)
    ("input_tokens", semconv.GEN_AI_USAGE_INPUT_TOKENS),
    ("output_tokens", semconv.GEN_AI_USAGE_OUTPUT_TOKENS),
    ("cache_read_input_tokens", semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    ("cache_write_input_tokens", semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
    ("reasoning_tokens", semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
)
_counts: Final = attrgetter(*(name for name, _ in ATTRIBUTES))


def set_attributes(usage: Usage, attributes: dict[str, Any]) -> None:
    """The counts ``usage`` has, as GenAI attributes into ``attributes``."""
    for (_, key), value in zip(ATTRIBUTES, _counts(usage), strict=True):
        if value is not None:
            attributes[key] = value


def from_attributes(attributes: Mapping[str, Any]) -> Usage:
    """The usage a span's GenAI attributes report (another instrumentation's span)."""
    found = {name: value for name, key in ATTRIBUTES if type(value := attributes.get(key)) is int}
    return Usage(**found)
