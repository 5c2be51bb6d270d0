"""AnthropicInstrumentor: traces every Anthropic SDK Messages call (sync, async, ``stream=True``,
``messages.stream()``, beta, raw responses) as GenAI spans plus provider traces.

The Anthropic SDK has OpenTelemetry tracing of its own, on whenever a global
TracerProvider exists. While llmtel instruments the SDK it switches that off (the SDK's
clients get no tracer), so one call has one LLM span; ``uninstrument()`` turns it back on.
To keep the SDK's spans instead, leave anthropic out of ``LLMTEL_INSTRUMENT``: the
ProviderTraceProcessor still makes provider traces from their ``gen_ai.*`` attributes.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from llmtel.instrumentation.anthropic.adapter import AnthropicAdapter
from llmtel.instrumentation.stainless.instrumentor import SdkInstrumentor

__all__ = ["AnthropicInstrumentor"]


class AnthropicInstrumentor(SdkInstrumentor):
    """``AnthropicInstrumentor().instrument()``; ``uninstrument()`` restores the SDK."""

    sdk = "anthropic"
    stream_contexts = (
        (
            "anthropic.lib.streaming._messages",
            ("MessageStream", "AsyncMessageStream", "MessageStreamManager", "AsyncMessageStreamManager"),
        ),
        (
            "anthropic.lib.streaming._beta_messages",
            (
                "BetaMessageStream",
                "BetaAsyncMessageStream",
                "BetaMessageStreamManager",
                "BetaAsyncMessageStreamManager",
            ),
        ),
    )

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("anthropic >= 0.50, < 3",)

    def make_adapter(self) -> Any:
        return AnthropicAdapter()

    def after_instrument(self, base: Any) -> None:
        client = base.BaseClient
        self._sdk_tracer = client.__dict__.get("_tracer")
        if self._sdk_tracer is not None:
            setattr(client, "_tracer", property(lambda self: None))  # noqa: B010 - replacing a property

    def before_uninstrument(self) -> None:
        import anthropic._base_client as base

        if getattr(self, "_sdk_tracer", None) is not None:
            setattr(base.BaseClient, "_tracer", self._sdk_tracer)  # noqa: B010
            self._sdk_tracer = None
