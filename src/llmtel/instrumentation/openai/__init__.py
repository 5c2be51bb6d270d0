"""OpenAIInstrumentor: traces every OpenAI SDK call (sync, async, streams, raw responses,
Responses API, embeddings) as GenAI spans plus provider traces.

Enable with ``configure()``, ``import llmtel.instrumentation.auto``, or
``opentelemetry-instrument`` (entry point ``llmtel_openai``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from llmtel.instrumentation.openai.adapter import OpenAIAdapter
from llmtel.instrumentation.stainless.instrumentor import SdkInstrumentor

__all__ = ["OpenAIInstrumentor"]


class OpenAIInstrumentor(SdkInstrumentor):
    """``OpenAIInstrumentor().instrument()``; ``uninstrument()`` restores the SDK."""

    sdk = "openai"
    helper_streams = (
        ("openai.lib.streaming.chat._completions", ("ChatCompletionStream", "AsyncChatCompletionStream")),
        ("openai.lib.streaming.responses._responses", ("ResponseStream", "AsyncResponseStream")),
    )
    stream_contexts = (
        ("openai.lib.streaming.chat._completions", ("ChatCompletionStreamManager", "AsyncChatCompletionStreamManager")),
        ("openai.lib.streaming.responses._responses", ("ResponseStreamManager", "AsyncResponseStreamManager")),
    )

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 1.66, < 4",)  # the Responses API

    def make_adapter(self) -> Any:
        return OpenAIAdapter()
