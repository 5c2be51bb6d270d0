"""Settings validation and configure() in a fresh process, as an app would use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llmtel.instrumentation import ConfigError, Settings


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LLMTEL_MAX_ATTRIBUTE_BYTES": "lots"}, "LLMTEL_MAX_ATTRIBUTE_BYTES='lots' is not a whole number"),
        ({"LLMTEL_MAX_SPAN_BYTES": "10"}, "LLMTEL_MAX_SPAN_BYTES=10 is below the minimum of 1024"),
        ({"LLMTEL_CLICKHOUSE_URL": "postgres://x"}, "unknown scheme 'postgres'"),
        ({"LLMTEL_STORE_CONTENT": "maybe"}, "LLMTEL_STORE_CONTENT='maybe' is not a boolean"),
        ({"LLMTEL_FLUSH_INTERVAL": "soon"}, "LLMTEL_FLUSH_INTERVAL='soon' is not a number"),
        ({"LLMTEL_INSTRUMENT": "openai,cohere"}, "unknown ['cohere']"),
        ({"LLMTEL_MAX_ATTRIBUTE_BYTES": "20000"}, "exceeds LLMTEL_MAX_SPAN_BYTES=16384"),
    ],
)
def test_bad_settings_fail_clearly(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert message in str(info.value)


def test_defaults_and_standard_variables() -> None:
    s = Settings.from_env(
        {
            "OTEL_SERVICE_NAME": "svc",
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
            "LLMTEL_MAX_ATTRIBUTE_BYTES": "1_024",
        }
    )
    assert s.service_name == "svc" and s.capture_content and s.max_attribute_bytes == 1024
    assert Settings.from_env({}).store_url == "chdb://./.llmtel/chdb"
    assert not Settings.from_env({}).capture_content


def run_app(tmp_path: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(code))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LLMTEL_"))}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=120
    )


APP = """
    from opentelemetry import trace
    from llmtel.instrumentation import configure, llm_context, processor, trace_method
    from llmtel.instrumentation.records import LLMCall

    handle = configure()
    assert configure() is handle  # idempotent

    @trace_method
    def agent_step(question):
        ids = trace.get_current_span().get_span_context()
        processor.submit(LLMCall(provider="openai", operation="chat", request=b'{"q":1}', response=b'{"a":2}',
                                 trace_id=ids.trace_id, span_id=ids.span_id + 1))
        return question.upper()

    with llm_context(agent_id="a1", run_id="r1"):
        print(agent_step("hi"))
    handle.shutdown()
"""


def test_configure_from_env_writes_provider_traces(tmp_path: Path) -> None:
    result = run_app(
        tmp_path, APP, OTEL_SERVICE_NAME="demo-app", LLMTEL_CLICKHOUSE_URL="jsonl://./out", LLMTEL_CONSOLE="true"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("HI")
    assert '"name": "agent_step"' in result.stdout  # console exporter printed the span
    [row] = [json.loads(line) for line in (tmp_path / "out" / "traces.jsonl").read_text().splitlines()]
    assert (row["agent_id"], row["run_id"]) == ("a1", "r1")
    assert json.loads(row["request_json"]) == {"q": 1}


def test_sdk_disabled_is_respected(tmp_path: Path) -> None:
    result = run_app(
        tmp_path, APP, OTEL_SDK_DISABLED="true", LLMTEL_CLICKHOUSE_URL="jsonl://./out", LLMTEL_CONSOLE="true"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "HI"
    assert not (tmp_path / "out" / "traces.jsonl").exists()


def test_bad_config_fails_at_configure_not_later(tmp_path: Path) -> None:
    result = run_app(tmp_path, APP, LLMTEL_QUEUE_MAX_BYTES="-5")
    assert result.returncode != 0
    assert "ConfigError: LLMTEL_QUEUE_MAX_BYTES=-5 is below the minimum" in result.stderr


@pytest.mark.parametrize(
    ("variable", "store"),
    [("LLMTEL_SPOOL_DIR", "chdb://./store"), ("LLMTEL_CLICKHOUSE_URL", "chdb://./blocker/store")],
)
def test_unwritable_paths_fail_at_configure(tmp_path: Path, variable: str, store: str) -> None:
    (tmp_path / "blocker").write_text("a file, not a directory")
    env = {"LLMTEL_CLICKHOUSE_URL": store, "LLMTEL_SPOOL_DIR": "./spool"}
    if variable == "LLMTEL_SPOOL_DIR":
        env["LLMTEL_SPOOL_DIR"] = "./blocker/spool"
    result = run_app(tmp_path, APP, **env)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"llmtel.instrumentation.config.ConfigError: {variable}=")
    assert last.endswith("is not a writable directory: Not a directory")
