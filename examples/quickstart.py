"""Quickstart: one import turns llmtel on; one OpenAI and one Anthropic call; their provider
traces land in the embedded ClickHouse store (./.llmtel/chdb).

    python examples/quickstart.py        # then: llmtel traces

Uses the real APIs when OPENAI_API_KEY and ANTHROPIC_API_KEY are set, else the loopback server.
"""

from __future__ import annotations

import contextlib

import llmtel.instrumentation.auto  # noqa: F401  (configures llmtel from the environment)
from llmtel.instrumentation import configure
from llmtel.loopback import ProviderServer, clients
from llmtel.loopback import anthropic_replies as afx
from llmtel.loopback import openai_replies as ofx


def replies(server: ProviderServer) -> None:
    server.expect("/v1/chat/completions", ofx.chat("Paris."))
    server.expect("/v1/messages", afx.plain())


def main() -> None:
    with contextlib.ExitStack() as stack:
        oai, ant = clients(stack, replies)
        answer = oai.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Capital of France, one word?"}]
        )
        print("openai:", answer.choices[0].message.content)
        reply = ant.messages.create(
            model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "Say hello."}]
        )
        print("anthropic:", reply.content[0].text if reply.content[0].type == "text" else reply.content[0])
    handle = configure()  # the handle the import created
    handle.shutdown()  # flush now rather than at exit, so `llmtel traces` sees both calls
    print(f"stored in {handle.settings.store_url}; run `llmtel traces` to see them")


if __name__ == "__main__":
    main()
