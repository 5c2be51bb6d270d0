"""Anthropic usage → Usage, cache reads and writes counted as input."""

from __future__ import annotations

from typing import Any

from llmtel.instrumentation.stainless.fields import fields_of
from llmtel.instrumentation.usage import Usage, count, total


def read_usage(usage: Any) -> Usage | None:
    """Anthropic usage: ``input_tokens`` excludes cache reads and writes, so they are added back
    (the GenAI convention counts every input token in ``gen_ai.usage.input_tokens``)."""
    if usage is None:
        return None
    get = fields_of(usage).get
    uncached, output_tokens = count(get("input_tokens")), count(get("output_tokens"))
    cache_read, cache_write = count(get("cache_read_input_tokens")), count(get("cache_creation_input_tokens"))
    input_tokens = None if uncached is None else uncached + (cache_read or 0) + (cache_write or 0)
    return Usage(
        input_tokens,
        output_tokens,
        total(input_tokens, output_tokens),
        cache_read,
        cache_write,
        None,  # Anthropic folds thinking into output_tokens and reports no split
    )
