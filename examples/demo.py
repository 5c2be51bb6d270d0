"""Demo: instrumented OpenAI and Anthropic calls against the loopback provider server
(no API key needed); prints the provider traces llmtel recorded.

    python examples/demo.py
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LLMTEL_CLICKHOUSE_URL", "jsonl://./.llmtel/jsonl")

import anthropic  # noqa: E402
import openai  # noqa: E402

from llmtel.instrumentation import configure, llm_context, trace_method  # noqa: E402
from tests.providers import ProviderServer  # noqa: E402
from tests.providers import anthropic_fixtures as afx  # noqa: E402
from tests.providers import openai_fixtures as ofx  # noqa: E402


@trace_method
def agent_step(question: str, oai: openai.OpenAI, ant: anthropic.Anthropic) -> str:
    first = oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    stream = ant.messages.create(
        model="claude-haiku-4-5", max_tokens=100, stream=True, messages=[{"role": "user", "content": question}]
    )
    text = "".join(e.delta.text for e in stream if e.type == "content_block_delta" and e.delta.type == "text_delta")
    return f"{first.choices[0].message.content} / {text}"


def main() -> None:
    handle = configure(console=False)
    with ProviderServer() as server:
        server.expect("/v1/chat/completions", ofx.chat("Hello from OpenAI"))
        server.expect("/v1/messages", afx.streaming_text())
        oai = openai.OpenAI(base_url=server.url + "/v1", api_key="demo")
        ant = anthropic.Anthropic(base_url=server.url, api_key="demo")
        with llm_context(agent_id="demo-agent", run_id="run-1", tags=["demo"]):
            print("app got:", agent_step("Say hello", oai, ant))
    handle.shutdown()
    path = Path(".llmtel/jsonl/traces.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()][-2:]
    print(f"{'provider':10} {'model':28} {'in':>5} {'out':>5} {'cost $':>10}  agent / run")
    for r in rows:
        cost = f"{r['cost_usd']:.6f}" if r["cost_usd"] is not None else "-"
        print(
            f"{r['provider']:10} {r['response_model']:28} {r['input_tokens']:>5} {r['output_tokens']:>5} "
            f"{cost:>10}  {r['agent_id']} / {r['run_id']}"
        )


if __name__ == "__main__":
    main()
