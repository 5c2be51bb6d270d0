"""Demo: instrumented OpenAI and Anthropic calls write provider traces to the embedded
ClickHouse store (./.llmtel/chdb), then `llmtel traces` and `llmtel usage` show them.

The calls go to the bundled loopback provider server unless OPENAI_API_KEY and
ANTHROPIC_API_KEY are both set, in which case they go to the real APIs.

    python examples/demo.py
"""

from __future__ import annotations

import contextlib

import anthropic
import openai

from llmtel.exporters.cli import main as llmtel_cli
from llmtel.instrumentation import configure, llm_context, trace_method
from llmtel.loopback import ProviderServer, clients
from llmtel.loopback import anthropic_replies as afx
from llmtel.loopback import openai_replies as ofx


@trace_method
def agent_step(question: str, oai: openai.OpenAI, ant: anthropic.Anthropic) -> str:
    first = oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    stream = ant.messages.create(
        model="claude-haiku-4-5", max_tokens=100, stream=True, messages=[{"role": "user", "content": question}]
    )
    text = "".join(e.delta.text for e in stream if e.type == "content_block_delta" and e.delta.type == "text_delta")
    return f"{first.choices[0].message.content} / {text}"


def replies(server: ProviderServer) -> None:
    server.expect("/v1/chat/completions", ofx.chat("Hello from OpenAI"))
    server.expect("/v1/messages", afx.streaming_text())


def main() -> None:
    handle = configure(console=False)
    print(f"llmtel: store {handle.settings.store_url}")
    with contextlib.ExitStack() as stack:
        oai, ant = clients(stack, replies)
        with llm_context(agent_id="demo-agent", run_id="run-1", tags=["demo"]):
            print("app got:", agent_step("Say hello", oai, ant))
    handle.shutdown()  # flushes spans and writes the provider traces
    print("\n$ llmtel traces --limit 5")
    llmtel_cli(["--url", handle.settings.store_url, "traces", "--limit", "5"])
    print("\n$ llmtel usage --by model")
    llmtel_cli(["--url", handle.settings.store_url, "usage", "--by", "model"])


if __name__ == "__main__":
    main()
