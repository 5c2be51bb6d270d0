"""Anthropic usage as the GenAI conventions count it."""

from __future__ import annotations

from llmtel.instrumentation.anthropic.usage import read_usage as anthropic_usage
from llmtel.instrumentation.usage import Usage


def test_anthropic_usage_counts_cache_in_input() -> None:
    usage = anthropic_usage(
        {"input_tokens": 10, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 200, "output_tokens": 50}
    )
    assert usage == Usage(
        input_tokens=1210,
        output_tokens=50,
        total_tokens=1260,
        cache_read_input_tokens=1000,
        cache_write_input_tokens=200,
        reasoning_tokens=None,
    )
    assert anthropic_usage(None) is None
