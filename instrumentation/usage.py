"""Token usage as the provider reported it, normalised to one shape per provider.

``None`` means the provider did not report that count; ``0`` means it reported zero.
Nothing here estimates tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .fields import get


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts for one call. ``input_tokens`` includes cached and cache-written tokens."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_write_input_tokens: int | None = None
    reasoning_tokens: int | None = None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _sum(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def openai_usage(usage: Any) -> Usage | None:
    """OpenAI chat and embeddings (prompt/completion_tokens) or Responses (input/output_tokens) usage.

    Only the keys of the shape at hand are read: a missing field on an SDK model costs an
    AttributeError inside pydantic, which is dearer than all the reads here."""
    if usage is None:
        return None
    prompt = get(usage, "prompt_tokens")
    if prompt is not None:
        input_tokens, output_tokens = _int(prompt), _int(get(usage, "completion_tokens"))
        in_details, out_details = get(usage, "prompt_tokens_details"), get(usage, "completion_tokens_details")
    else:
        input_tokens, output_tokens = _int(get(usage, "input_tokens")), _int(get(usage, "output_tokens"))
        in_details, out_details = get(usage, "input_tokens_details"), get(usage, "output_tokens_details")
    total = _int(get(usage, "total_tokens"))
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=total if total is not None else _sum(input_tokens, output_tokens),
        cache_read_input_tokens=_int(get(in_details, "cached_tokens")),
        cache_write_input_tokens=None,  # OpenAI does not report cache writes
        reasoning_tokens=_int(get(out_details, "reasoning_tokens")),
    )


def anthropic_usage(usage: Any) -> Usage | None:
    """Anthropic usage: ``input_tokens`` excludes cache reads and writes, so they are added back
    (the GenAI convention counts every input token in ``gen_ai.usage.input_tokens``)."""
    if usage is None:
        return None
    uncached = _int(get(usage, "input_tokens"))
    cache_read = _int(get(usage, "cache_read_input_tokens"))
    cache_write = _int(get(usage, "cache_creation_input_tokens"))
    output_tokens = _int(get(usage, "output_tokens"))
    input_tokens = _sum(uncached, cache_read, cache_write) if uncached is not None else None
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=_sum(input_tokens, output_tokens),
        cache_read_input_tokens=cache_read,
        cache_write_input_tokens=cache_write,
        reasoning_tokens=None,  # Anthropic folds thinking into output_tokens and reports no split
    )
