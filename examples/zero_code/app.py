"""An ordinary OpenAI + Anthropic app with no llmtel or OpenTelemetry code in it.

Run it under the OpenTelemetry agent and llmtel instruments it (entry points llmtel_openai,
llmtel_anthropic), sets up the SDK from OTEL_* variables and writes provider traces to the
embedded store:

    opentelemetry-instrument --traces_exporter console python examples/zero_code/app.py

The SDKs read OPENAI_API_KEY / OPENAI_BASE_URL and ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL;
`python examples/zero_code/run.py` does all of this against the loopback server.
"""

from __future__ import annotations

import anthropic
import openai


def main() -> None:
    answer = openai.OpenAI().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Capital of France, one word?"}]
    )
    print("openai:", answer.choices[0].message.content)
    with anthropic.Anthropic().messages.stream(
        model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "Say hello."}]
    ) as stream:
        print("anthropic:", "".join(stream.text_stream))


if __name__ == "__main__":
    main()
