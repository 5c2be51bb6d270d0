"""An app exporting over OTLP, run as its own process by tests/exporters/test_otlp.py.

usage: app.py budgeted N   -- N OpenAI calls with 5 MB prompts, llmtel configured from env
       app.py unbudgeted   -- five spans each carrying a whole 5 MB prompt, as an instrumentation
                              without a byte budget exports them, and one small span
"""

from __future__ import annotations

import os
import sys

PROMPT_BYTES = 5 << 20


def prompt(i: int) -> str:
    return f"call {i}: " + ("lorem ipsum dolor sit amet " * (PROMPT_BYTES // 27 + 1))[:PROMPT_BYTES]


def budgeted(count: int) -> None:
    import openai

    from llmtel.instrumentation import configure, llm_context

    handle = configure()
    client = openai.OpenAI(base_url=os.environ["PROVIDER_URL"] + "/v1", api_key=os.environ["SECRET_KEY"])
    with llm_context(agent_id="e2e", run_id="big-prompts"):
        for i in range(count):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt(i)}])
    handle.shutdown()


def unbudgeted() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from llmtel.exporters.otlp import span_exporters

    provider = TracerProvider()
    for exporter in span_exporters():
        provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("no-budget")
    for i in range(5):
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes={"gen_ai.input.messages": prompt(i)}):
            pass
    with tracer.start_as_current_span("small span in the same batch"):
        pass
    provider.shutdown()


if __name__ == "__main__":
    if sys.argv[1] == "budgeted":
        budgeted(int(sys.argv[2]))
    else:
        unbudgeted()
