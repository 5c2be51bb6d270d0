"""OpenAI usage (Chat Completions, embeddings, Responses) → Usage."""

from __future__ import annotations

from typing import Any

from llmtel.instrumentation.stainless.fields import fields_of
from llmtel.instrumentation.usage import Usage, count, total


def read_usage(usage: Any) -> Usage | None:
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
    input_tokens, output_tokens, reported = count(input_tokens), count(output_tokens), count(get("total_tokens"))
    return Usage(
        input_tokens,
        output_tokens,
        reported if reported is not None else total(input_tokens, output_tokens),
        None if in_details is None else count(fields_of(in_details).get("cached_tokens")),
        None,  # OpenAI does not report cache writes
        None if out_details is None else count(fields_of(out_details).get("reasoning_tokens")),
    )
