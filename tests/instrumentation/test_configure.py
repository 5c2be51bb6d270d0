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
        ({"LLMTEL_MAX_ATTRIBUTE_BYTES": "lots"}, "LLMTEL_MAX_ATTRIBUTE_BYTES='lots' is not a whole number from 256"),
        ({"LLMTEL_MAX_SPAN_BYTES": "10"}, "LLMTEL_MAX_SPAN_BYTES='10' is not accepted: max_span_bytes"),
        ({"LLMTEL_MAX_SPAN_BYTES": "10"}, "takes a whole number from 1,024 to 268,435,456"),
        ({"LLMTEL_CLICKHOUSE_URL": "postgres://x"}, "unknown scheme 'postgres'"),
        ({"LLMTEL_STORE_CONTENT": "maybe"}, "LLMTEL_STORE_CONTENT='maybe' is not true or false"),
        ({"LLMTEL_FLUSH_INTERVAL": "soon"}, "LLMTEL_FLUSH_INTERVAL='soon' is not a number from 0.01 to 3600"),
        ({"LLMTEL_FLUSH_INTERVAL": "inf"}, "LLMTEL_FLUSH_INTERVAL='inf' is not accepted"),
        ({"LLMTEL_SHUTDOWN_TIMEOUT": "inf"}, "LLMTEL_SHUTDOWN_TIMEOUT='inf' is not accepted"),
        ({"LLMTEL_SHUTDOWN_TIMEOUT": "1e10"}, "takes a number from 0 to 3600"),
        ({"LLMTEL_SHUTDOWN_TIMEOUT": "nan"}, "LLMTEL_SHUTDOWN_TIMEOUT='nan' is not accepted"),
        ({"LLMTEL_BATCH_MAX_ROWS": "99999999999999999999"}, "LLMTEL_BATCH_MAX_ROWS='99999999999999999999'"),
        ({"LLMTEL_TTL_DAYS": "-1"}, "LLMTEL_TTL_DAYS='-1' is not accepted"),
        ({"LLMTEL_INSTRUMENT": "openai,cohere"}, "unknown ['cohere']"),
        ({"LLMTEL_MAX_ATTRIBUTE_BYTES": "20000"}, "exceeds LLMTEL_MAX_SPAN_BYTES=16384"),
    ],
)
def test_bad_settings_fail_clearly(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"flush_interval_s": float("inf")}, "configure(flush_interval_s=inf) is not accepted"),
        ({"shutdown_timeout_s": -1}, "shutdown_timeout_s (LLMTEL_SHUTDOWN_TIMEOUT) takes a number from 0 to 3600"),
        ({"max_span_bytes": "16384"}, "configure(max_span_bytes='16384') is not accepted"),
        ({"store_content": 1}, "store_content (LLMTEL_STORE_CONTENT) takes true or false"),
        ({"instrument": ("openai", "cohere")}, "unknown ['cohere']"),
        ({"instrument": 3}, "instrument takes provider names"),
        ({"shutdown_timeot": 3}, "no setting 'shutdown_timeot': did you mean shutdown_timeout_s?"),
        ({"redact": "yes"}, "takes a callable"),
        ({"store_url": "clickhouse://default:hunter2@db:8123"}, "unknown scheme 'clickhouse'"),
    ],
)
def test_keyword_arguments_are_validated_like_the_environment(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({}, **overrides)
    assert message in str(info.value)
    assert "hunter2" not in str(info.value)


def test_instrument_given_as_text_is_read_like_the_variable() -> None:
    assert Settings.from_env({}, instrument="openai").instrument == ("openai",)
    assert Settings.from_env({}, instrument="anthropic, openai").instrument == ("anthropic", "openai")
    assert Settings.from_env({}, instrument="none").instrument == ()


def test_the_password_never_shows_in_a_repr_or_message() -> None:
    settings = Settings.from_env(
        {"LLMTEL_CLICKHOUSE_URL": "https://writer:hunter2@db.example:8443/llm?password=hunter2"}
    )
    assert settings.store_url.count("hunter2") == 2  # the settings keep it, to connect with
    assert "hunter2" not in repr(settings)
    assert "writer:***@db.example" in repr(settings)
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"LLMTEL_CLICKHOUSE_URL": "htp://writer:hunter2@db"})
    assert "hunter2" not in str(info.value)


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


def test_the_default_store_without_the_embedded_extra_falls_back_to_files_with_one_warning(tmp_path: Path) -> None:
    """``pip install llmtel[openai]`` alone: configure() starts, says once what to install, and
    the rows go to JSON lines beside the app; a store the app chose is still an error."""
    hidden = "import sys; sys.modules['chdb'] = None  # as if the [embedded] extra were not installed\n"
    result = run_app(tmp_path, hidden + textwrap.dedent(APP))
    assert result.returncode == 0, result.stderr
    [warning] = [line for line in result.stderr.splitlines() if "llmtel" in line]
    assert "pip install 'llmtel[embedded]'" in warning and "./.llmtel/jsonl" in warning
    [row] = [json.loads(line) for line in (tmp_path / ".llmtel" / "jsonl" / "traces.jsonl").read_text().splitlines()]
    assert (row["agent_id"], row["run_id"]) == ("a1", "r1")
    chosen = run_app(tmp_path, hidden + textwrap.dedent(APP), LLMTEL_CLICKHOUSE_URL="chdb://./mine")
    assert (
        chosen.returncode == 1
        and "ConfigError: LLMTEL_CLICKHOUSE_URL=chdb://...: chdb is not installed" in chosen.stderr
    )


def test_auto_instruments_an_sdk_when_the_app_imports_it_and_imports_none_itself(tmp_path: Path) -> None:
    code = """
    import sys
    import llmtel.instrumentation.auto
    from llmtel.instrumentation import bootstrap
    assert not {"openai", "anthropic", "chdb"} & set(sys.modules), sorted(sys.modules)
    import openai
    from llmtel.loopback import ProviderServer
    from llmtel.loopback import openai_replies as fx
    with ProviderServer() as server:
        server.expect("/v1/chat/completions", fx.chat("ok"))
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        print([type(i).__name__ for i in bootstrap._handle.instrumentors], "anthropic" in sys.modules)
        bootstrap._handle.shutdown()
    """
    result = run_app(tmp_path, code, LLMTEL_CLICKHOUSE_URL="jsonl://./out")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "['OpenAIInstrumentor'] False"
    [row] = [json.loads(line) for line in (tmp_path / "out" / "traces.jsonl").read_text().splitlines()]
    assert row["provider"] == "openai" and row["request_model"] == "gpt-4o-mini"


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
    assert "ConfigError: LLMTEL_QUEUE_MAX_BYTES='-5' is not accepted" in result.stderr


@pytest.mark.parametrize("content", [None, "not json", '{"models": 3}'])
def test_a_bad_prices_file_is_a_config_error_naming_it(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / "prices.json").write_text(content)
    result = run_app(tmp_path, APP, LLMTEL_PRICES_FILE="prices.json", LLMTEL_CLICKHOUSE_URL="none")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("llmtel.instrumentation.config.ConfigError: LLMTEL_PRICES_FILE='prices.json' cannot be read")


def test_a_misspelt_variable_is_warned_about_once_with_the_closest_name(tmp_path: Path) -> None:
    result = run_app(tmp_path, APP, LLMTEL_CLICKHOUSE_URI="none", LLMTEL_CLICKHOUSE_URL="jsonl://./out")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "LLMTEL_CLICKHOUSE_URI" in line]
    expected = "llmtel: LLMTEL_CLICKHOUSE_URI is not a setting llmtel reads; did you mean LLMTEL_CLICKHOUSE_URL?"
    assert warnings == [expected]


def test_the_store_password_is_in_no_log_line_or_repr(tmp_path: Path) -> None:
    code = """
        import logging
        logging.basicConfig(level=logging.DEBUG)
        from llmtel.instrumentation import configure
        handle = configure()
        print(repr(handle), handle.settings, str(handle))
        handle.shutdown()
    """
    result = run_app(tmp_path, code, LLMTEL_CLICKHOUSE_URL="http://writer:hunter2@127.0.0.1:9/llm")
    assert result.returncode == 0, result.stderr
    assert "writer:***@127.0.0.1" in result.stdout
    assert "llmtel configured: store=http://writer:***@127.0.0.1:9/llm" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr


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


def test_an_instrumentor_alone_follows_the_content_variable_at_each_instrument(tmp_path: Path) -> None:
    """The BaseInstrumentor contract the official suites rely on: ``instrument(tracer_provider=,
    meter_provider=)`` with no ``configure()`` is a complete instrumentation, and each
    ``instrument()`` reads OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT anew; an app's own
    ``configure(capture_content=...)`` is not overridden."""
    code = """
    import os
    import openai
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from llmtel.instrumentation import configure
    from llmtel.instrumentation.openai import OpenAIInstrumentor
    from llmtel.loopback import ProviderServer
    from llmtel.loopback import openai_replies as fx

    def captured(content_env):
        if content_env is None:
            os.environ.pop("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", None)
        else:
            os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = content_env
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        OpenAIInstrumentor().instrument(tracer_provider=provider)
        try:
            server.expect("/v1/chat/completions", fx.chat("ok"))
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        finally:
            OpenAIInstrumentor().uninstrument()
        [span] = exporter.get_finished_spans()
        return "gen_ai.input.messages" in span.attributes

    with ProviderServer() as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        print(captured("span_only"), captured(None), captured("true"))
    """
    result = run_app(tmp_path, code, LLMTEL_CLICKHOUSE_URL="jsonl://./out")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "True False True"
    configured = code.replace(
        "    with ProviderServer()", "    configure(capture_content=False, instrument=())\n    with ProviderServer()"
    )
    result = run_app(tmp_path, configured, LLMTEL_CLICKHOUSE_URL="jsonl://./out")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "False False False"
