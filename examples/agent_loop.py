"""A small tool-using agent, traced end to end: a planning call that chooses a tool (Anthropic),
the tool itself, an answer call (OpenAI) and a streamed summary (Anthropic ``messages.stream``),
all under one ``llm_context`` run with a step per stage.

    python examples/agent_loop.py

It prints the run's span tree (``llmtel tree``: what Jaeger or Tempo shows, with each LLM call's
model, tokens and cost) and its provider traces from the embedded store; with
OTEL_EXPORTER_OTLP_ENDPOINT set it also exports the spans over OTLP (docs/agent_loop_phoenix.png
is this run in Arize Phoenix). Real APIs when OPENAI_API_KEY and ANTHROPIC_API_KEY are set, else
the loopback server.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import anthropic
import openai
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from llmtel.exporters.cli import main as llmtel_cli
from llmtel.exporters.otlp import span_exporters
from llmtel.instrumentation import configure, llm_context, log_event, trace_method
from llmtel.loopback import ProviderServer, clients
from llmtel.loopback import anthropic_replies as afx
from llmtel.loopback import openai_replies as ofx

TOOLS = [
    {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "input_schema": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["location"],
        },
    }
]


@trace_method(record_return=True, kind="tool")
def get_weather(location: str, unit: str = "c") -> dict[str, Any]:
    """The tool: a traced function like any other in your agent."""
    return {"location": location, "temperature": 18 if unit == "c" else 64, "unit": unit, "sky": "sunny"}


@trace_method(exclude=["oai", "ant"], record_return=True, kind="agent")  # clients: not worth an attribute
def run_agent(question: str, oai: openai.OpenAI, ant: anthropic.Anthropic) -> str:
    with llm_context(step_id="plan", call_type="tool_choice"):
        plan = ant.messages.create(
            model="claude-haiku-4-5", max_tokens=256, tools=TOOLS, messages=[{"role": "user", "content": question}]
        )
    observations = []
    for block in plan.content:
        if block.type == "tool_use" and block.name == "get_weather":
            with llm_context(step_id="tool", call_type="tool"):
                result = get_weather(**block.input)
                log_event("tool.result", {"tool": block.name, "result": result})
            observations.append(result)
    with llm_context(step_id="answer", call_type="answer"):
        answer = oai.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": f"Tool results: {observations}"},
                {"role": "user", "content": question},
            ],
        )
    text = answer.choices[0].message.content or ""
    with (
        llm_context(step_id="summary", call_type="summary"),
        ant.messages.stream(
            model="claude-haiku-4-5", max_tokens=128, messages=[{"role": "user", "content": f"Summarise: {text}"}]
        ) as stream,
    ):
        summary = "".join(stream.text_stream)
    return f"{text}\nsummary: {summary}"


def replies(server: ProviderServer) -> None:
    server.expect("/v1/messages", afx.tool_use(), afx.streaming_text())
    server.expect("/v1/chat/completions", ofx.chat("It is 18°C and sunny in Paris."))


def main() -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "weather-agent"}))
    for exporter in span_exporters():  # OTLP too, when OTEL_EXPORTER_OTLP_ENDPOINT is set
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    handle = configure()  # adds llmtel to the provider set above; the embedded store keeps the spans too
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    with contextlib.ExitStack() as stack:
        oai, ant = clients(stack, replies)
        with llm_context(agent_id="weather-agent", run_id=run_id, tags=["example"]):
            print(run_agent("What's the weather in Paris?", oai, ant))
    handle.shutdown()
    provider.shutdown()
    for command in (["tree", run_id], ["traces", "--run", run_id]):
        print(f"\n$ llmtel {' '.join(command)}")
        llmtel_cli(["--url", handle.settings.store_url, *command])


if __name__ == "__main__":
    main()
