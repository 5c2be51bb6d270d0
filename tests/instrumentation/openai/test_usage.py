"""OpenAI usage read as reported, never raising."""

from __future__ import annotations

from llmtel.instrumentation.openai.usage import read_usage as openai_usage
from llmtel.instrumentation.usage import Usage


def test_usage_never_raises_on_numbers_that_are_not_counts() -> None:
    usage = openai_usage({"prompt_tokens": float("nan"), "completion_tokens": float("inf"), "total_tokens": "7"})
    assert usage == Usage(None, None, None, None, None, None)
