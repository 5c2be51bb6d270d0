"""Token usage as the provider reported it, normalised to one shape per provider.

``None`` means the provider did not report that count; ``0`` means it reported zero.
Nothing here estimates tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .fields import fields_of


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


def _int(value: Any) -> int | None:
    """A count as sent; a float only when it is a finite number (NaN and ±inf are not counts).
    Range (negative, past UInt64) is the row's concern, not the span's: see provider_trace."""
    if type(value) is int:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return None


def _sum(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def openai_usage(usage: Any) -> Usage | None:
    """OpenAI chat and embeddings (prompt/completion_tokens) or Responses (input/output_tokens) usage.

    Read from the field dict, each key once (a missing field on an SDK model costs pydantic an
    AttributeError), and built positionally: this runs on every call."""
    if usage is None:
        return None
    get = fields_of(usage).get
    input_tokens = get("prompt_tokens")
    if input_tokens is not None:
        output_tokens = get("completion_tokens")
        in_details, out_details = get("prompt_tokens_details"), get("completion_tokens_details")
    else:
        input_tokens, output_tokens = get("input_tokens"), get("output_tokens")
        in_details, out_details = get("input_tokens_details"), get("output_tokens_details")
    input_tokens, output_tokens, total = _int(input_tokens), _int(output_tokens), _int(get("total_tokens"))
    return Usage(
        input_tokens,
        output_tokens,
        total if total is not None else _sum(input_tokens, output_tokens),
        None if in_details is None else _int(fields_of(in_details).get("cached_tokens")),
        None,  # OpenAI does not report cache writes
        None if out_details is None else _int(fields_of(out_details).get("reasoning_tokens")),
    )


def anthropic_usage(usage: Any) -> Usage | None:
    """Anthropic usage: ``input_tokens`` excludes cache reads and writes, so they are added back
    (the GenAI convention counts every input token in ``gen_ai.usage.input_tokens``)."""
    if usage is None:
        return None
    get = fields_of(usage).get
    uncached, output_tokens = _int(get("input_tokens")), _int(get("output_tokens"))
    cache_read, cache_write = _int(get("cache_read_input_tokens")), _int(get("cache_creation_input_tokens"))
    input_tokens = None if uncached is None else uncached + (cache_read or 0) + (cache_write or 0)
    return Usage(
        input_tokens,
        output_tokens,
        _sum(input_tokens, output_tokens),
        cache_read,
        cache_write,
        None,  # Anthropic folds thinking into output_tokens and reports no split
    )
