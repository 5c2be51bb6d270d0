"""Token usage as the provider reported it, normalised to one shape per provider.

``None`` means the provider did not report that count; ``0`` means it reported zero.
Nothing here estimates tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

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
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _ints(fields: Mapping[str, Any], keys: tuple[str, ...]) -> list[int | None]:
    return [v if type(v) is int else _int(v) for v in map(fields.get, keys)]


def _sum(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


_CHAT_KEYS: Final = ("prompt_tokens", "completion_tokens", "total_tokens")
_CHAT_DETAILS: Final = ("prompt_tokens_details", "completion_tokens_details")
_RESPONSES_KEYS: Final = ("input_tokens", "output_tokens", "total_tokens")
_RESPONSES_DETAILS: Final = ("input_tokens_details", "output_tokens_details")
_ANTHROPIC_KEYS: Final = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens")


def openai_usage(usage: Any) -> Usage | None:
    """OpenAI chat and embeddings (prompt/completion_tokens) or Responses (input/output_tokens) usage.

    Only the keys of the shape at hand are read: a missing field on an SDK model costs an
    AttributeError inside pydantic, which is dearer than all the reads here."""
    if usage is None:
        return None
    fields = fields_of(usage)
    chat = fields.get("prompt_tokens") is not None
    input_tokens, output_tokens, total = _ints(fields, _CHAT_KEYS if chat else _RESPONSES_KEYS)
    in_details, out_details = (fields.get(k) for k in (_CHAT_DETAILS if chat else _RESPONSES_DETAILS))
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=total if total is not None else _sum(input_tokens, output_tokens),
        cache_read_input_tokens=_int(fields_of(in_details).get("cached_tokens")),
        cache_write_input_tokens=None,  # OpenAI does not report cache writes
        reasoning_tokens=_int(fields_of(out_details).get("reasoning_tokens")),
    )


def anthropic_usage(usage: Any) -> Usage | None:
    """Anthropic usage: ``input_tokens`` excludes cache reads and writes, so they are added back
    (the GenAI convention counts every input token in ``gen_ai.usage.input_tokens``)."""
    if usage is None:
        return None
    uncached, cache_read, cache_write, output_tokens = _ints(fields_of(usage), _ANTHROPIC_KEYS)
    input_tokens = _sum(uncached, cache_read, cache_write) if uncached is not None else None
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=_sum(input_tokens, output_tokens),
        cache_read_input_tokens=cache_read,
        cache_write_input_tokens=cache_write,
        reasoning_tokens=None,  # Anthropic folds thinking into output_tokens and reports no split
    )
