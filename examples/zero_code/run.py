"""Runs app.py under ``opentelemetry-instrument`` with no code change, against the loopback
provider server (or the real APIs when both API keys are set), spans to the console, provider
traces to the embedded store.

    python examples/zero_code/run.py
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from llmtel.loopback import ProviderServer, use_real_apis
from llmtel.loopback import anthropic_replies as afx
from llmtel.loopback import openai_replies as ofx

HERE = Path(__file__).resolve().parent


def main() -> int:
    env = dict(os.environ, OTEL_SERVICE_NAME="zero-code-app", OTEL_TRACES_EXPORTER="console")
    env.setdefault("OTEL_METRICS_EXPORTER", "none")
    # Other OpenAI/Anthropic instrumentations, if installed, register under these names; leave
    # them out so the console shows llmtel's spans only.
    env.setdefault("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "openai,anthropic")
    with contextlib.ExitStack() as stack:
        if not use_real_apis():
            server = stack.enter_context(ProviderServer())
            server.expect("/v1/chat/completions", ofx.chat("Paris."))
            server.expect("/v1/messages", afx.streaming_text())
            env.update(
                OPENAI_BASE_URL=server.url + "/v1",
                OPENAI_API_KEY="loopback",
                ANTHROPIC_BASE_URL=server.url,
                ANTHROPIC_API_KEY="loopback",
            )
        agent = Path(sys.executable).with_name("opentelemetry-instrument")
        return subprocess.run([str(agent), sys.executable, str(HERE / "app.py")], env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
