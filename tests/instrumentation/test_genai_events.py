"""The GenAI log event (``gen_ai.client.inference.operation.details``) for the event content
modes, with the real SDKs over HTTP and the real OTel logs SDK."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from llmtel.instrumentation import genai_events
from llmtel.instrumentation.config import content_settings
from llmtel.loopback import ProviderServer
from llmtel.loopback import anthropic_replies as afx
from llmtel.loopback import openai_replies as fx
from tests.instrumentation.test_configure import run_app
from tests.support.telemetry import Telemetry

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]
EVENT = "gen_ai.client.inference.operation.details"
CONTENT_KEYS = {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"}

needs_events = pytest.mark.skipif(not genai_events.SUPPORTED, reason="GenAI events need opentelemetry-api >= 1.35")


def modes(tel: Telemetry, content: str | None, emit: str | None = None) -> None:
    """The settings the two variables give, as configure() would read them."""
    env = {k: v for k, v in (("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", content),) if v is not None}
    if emit is not None:
        env["OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"] = emit
    tel.configure(**content_settings(env))


def only_event(tel: Telemetry) -> Any:
    [record] = tel.events()
    assert record.event_name == EVENT
    return record


@pytest.mark.parametrize(
    ("content", "emit", "want"),
    [
        (None, None, (False, False, False)),
        ("true", None, (True, False, False)),
        ("SPAN_ONLY", None, (True, False, False)),
        ("event_only", None, (False, True, True)),
        ("span_and_event", None, (True, True, True)),
        ("no_content", "true", (False, False, True)),
        ("span_only", "True", (True, False, True)),
        ("event_only", "false", (False, True, False)),
        ("event_only", "maybe", (False, True, True)),
    ],
)
def test_the_two_variables_give_the_official_modes(content: str | None, emit: str | None, want: Any) -> None:
    env = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": content, "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT": emit}
    got = content_settings({k: v for k, v in env.items() if v is not None})
    assert (got["capture_content"], got["event_content"], got["emit_events"]) == want


@needs_events
def test_event_only_puts_the_content_on_the_event_not_the_span(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry
) -> None:
    modes(tel, "event_only")
    server.expect(CHAT, fx.chat("Hello!"))
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.5)
    [span] = tel.spans()
    assert not CONTENT_KEYS & set(span.attributes)
    record = only_event(tel)
    attributes = dict(record.attributes)
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.request.temperature"] == 0.5
    for key in ("gen_ai.response.model", "gen_ai.response.id", "gen_ai.usage.input_tokens", "server.address"):
        assert attributes[key] == span.attributes[key]
    assert [m["role"] for m in attributes["gen_ai.input.messages"]] == ["system", "user"]
    assert attributes["gen_ai.input.messages"][1]["parts"][0] == {"type": "text", "content": "Say hello"}
    [output] = attributes["gen_ai.output.messages"]
    assert (output["role"], output["finish_reason"]) == ("assistant", "stop")
    assert output["parts"][0] == {"type": "text", "content": "Hello!"}
    assert record.trace_id == span.context.trace_id
    assert record.span_id == span.context.span_id
    assert record.timestamp == span.end_time
    assert len(tel.traces()) == 1  # the row is there as always


@needs_events
def test_span_and_event_puts_it_on_both(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    modes(tel, "span_and_event")
    server.expect(CHAT, fx.chat("Hello!"))
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    [span] = tel.spans()
    record = only_event(tel)
    assert {"gen_ai.input.messages", "gen_ai.output.messages"} <= set(record.attributes)
    for key in CONTENT_KEYS & set(record.attributes):
        assert json.loads(span.attributes[key]) == json.loads(json.dumps(record.attributes[key]))


@needs_events
@pytest.mark.parametrize(("content", "emit"), [("span_only", "true"), (None, "true")])
def test_an_event_without_content_when_only_events_are_asked(
    content: str | None, emit: str, server: ProviderServer, client: openai.OpenAI, tel: Telemetry
) -> None:
    modes(tel, content, emit)
    server.expect(CHAT, fx.chat("Hello!"))
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    record = only_event(tel)
    assert not CONTENT_KEYS & set(record.attributes)
    assert record.attributes["gen_ai.usage.output_tokens"] == tel.spans()[0].attributes["gen_ai.usage.output_tokens"]


@pytest.mark.parametrize(("content", "emit"), [(None, None), ("span_only", None), ("event_only", "false")])
def test_no_event_unless_asked(
    content: str | None, emit: str | None, server: ProviderServer, client: openai.OpenAI, tel: Telemetry
) -> None:
    modes(tel, content, emit)
    server.expect(CHAT, fx.chat("Hello!"))
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert tel.events() == []
    [span] = tel.spans()
    assert ("gen_ai.input.messages" in span.attributes) == (content == "span_only")


@needs_events
def test_an_unsampled_call_still_has_its_event(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    """As util-genai emits it: the event does not follow the trace sampler (a log pipeline has
    its own), and names the call's trace, which its row names too."""
    modes(tel, "event_only")
    tel.sampler.inner = ALWAYS_OFF
    server.expect(CHAT, fx.chat("Hello!"))
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert tel.spans() == []
    record = only_event(tel)
    [row] = tel.traces()
    assert f"{record.trace_id:032x}" == row.trace_id
    assert not record.trace_flags.sampled
    assert record.attributes["gen_ai.output.messages"][0]["parts"][0]["content"] == "Hello!"


@needs_events
def test_a_failed_call_has_its_error_type(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    modes(tel, "event_only")
    server.expect(CHAT, fx.rate_limited())
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    record = only_event(tel)
    assert record.attributes["error.type"] == "RateLimitError"
    assert "gen_ai.output.messages" not in record.attributes
    assert record.attributes["gen_ai.input.messages"][1]["role"] == "user"


@needs_events
async def test_a_stream_has_its_event_at_its_end(
    server: ProviderServer, aclient: openai.AsyncOpenAI, tel: Telemetry
) -> None:
    modes(tel, "event_only")
    server.expect(CHAT, fx.chat_stream("Hel", "lo"))
    stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    async for _ in stream:
        assert tel.events() == []
    record = only_event(tel)
    assert record.attributes["gen_ai.request.stream"] is True
    assert record.attributes["gen_ai.output.messages"][0]["parts"][0]["content"] == "Hello"
    assert record.attributes["gen_ai.response.time_to_first_chunk"] > 0


@needs_events
def test_large_content_is_a_structured_preview_and_a_ref(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry
) -> None:
    """The event's content has the span's budget: a log pipeline has the collectors' limits too."""
    modes(tel, "event_only")
    big = "x" * 200_000
    server.expect(CHAT, fx.chat("Hello!"))
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": big}])
    attributes = dict(only_event(tel).attributes)
    assert attributes["gen_ai.input.messages_ref"].startswith("llmtel://llm_payloads/")
    preview = attributes["gen_ai.input.messages"]
    assert isinstance(preview, (list, tuple))
    assert len(json.dumps(preview, default=list)) <= 4096
    sha = attributes["gen_ai.input.messages_ref"].rsplit("/", 1)[1]
    assert json.loads(tel.sink.payloads[sha])[0]["parts"][0]["content"] == big


@needs_events
def test_anthropic_event_only(server: ProviderServer, tel: Telemetry) -> None:
    """The official Anthropic suite's EVENT_ONLY case, with the real SDK."""
    modes(tel, "EVENT_ONLY")
    client = anthropic.Anthropic(base_url=server.url, api_key="sk-ant", max_retries=0)
    server.expect("/v1/messages", afx.plain())
    client.messages.create(
        model="claude-haiku-4-5", max_tokens=100, system="Be brief.", messages=[{"role": "user", "content": "Hi"}]
    )
    [span] = tel.spans()
    assert not CONTENT_KEYS & set(span.attributes)
    record = only_event(tel)
    assert record.attributes["gen_ai.provider.name"] == "anthropic"
    assert record.attributes["gen_ai.system_instructions"] == ({"type": "text", "content": "Be brief."},)
    assert record.attributes["gen_ai.output.messages"][0]["role"] == "assistant"


@pytest.mark.skipif(genai_events.SUPPORTED, reason="the API has LogRecord.event_name")
def test_an_api_without_event_names_warns_once_and_calls_go_on(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    modes(tel, "event_only")
    server.always(CHAT, fx.chat("Hello!"))
    for _ in range(2):
        assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == "Hello!"
    assert tel.events() == []
    assert len(tel.traces()) == 2
    caplog.clear()
    events = genai_events.GenAIEvents("llmtel.instrumentation.openai")  # a new instrumentor's
    with caplog.at_level(logging.WARNING, logger="llmtel.instrumentation.genai_events"):
        assert (events.ready(), events.ready()) == (False, False)
    assert [r.getMessage() for r in caplog.records] == [
        "llmtel: GenAI events need opentelemetry-api >= 1.35 (LogRecord.event_name); none are emitted"
    ]


@needs_events
def test_instrument_alone_sends_events_to_the_logger_provider_it_is_given(tmp_path: Path) -> None:
    """The BaseInstrumentor contract: ``instrument(logger_provider=)``, no ``configure()``, the
    global logger provider left unset; the variables are read at ``instrument()``."""
    code = """
    import os
    import openai
    from opentelemetry._logs import get_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor, InMemoryLogRecordExporter
    from opentelemetry.sdk.trace import TracerProvider
    from llmtel.instrumentation.openai import OpenAIInstrumentor
    from llmtel.loopback import ProviderServer
    from llmtel.loopback import openai_replies as fx

    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "event_only"
    exporter = InMemoryLogRecordExporter()
    logs = LoggerProvider()
    logs.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    OpenAIInstrumentor().instrument(tracer_provider=TracerProvider(), logger_provider=logs)
    with ProviderServer() as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        server.expect("/v1/chat/completions", fx.chat("ok"))
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    [finished] = exporter.get_finished_logs()
    record = finished.log_record
    print(record.event_name, record.attributes["gen_ai.input.messages"][0]["parts"][0]["content"])
    print(type(get_logger_provider()).__name__)
    """
    result = run_app(tmp_path, code, LLMTEL_CLICKHOUSE_URL="jsonl://./out")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == [f"{EVENT} hi", "ProxyLoggerProvider"]


@needs_events
def test_configure_keywords_and_the_logs_exporter_variable(tmp_path: Path) -> None:
    """``configure(emit_events=, event_content=)`` with ``OTEL_LOGS_EXPORTER=console``: llmtel
    makes the logger provider the app did not, and the event reaches its exporter by shutdown."""
    code = """
    import openai
    from llmtel.instrumentation import configure
    from llmtel.loopback import ProviderServer
    from llmtel.loopback import openai_replies as fx

    handle = configure(emit_events=True, event_content=True)
    with ProviderServer() as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        server.expect("/v1/chat/completions", fx.chat("ok"))
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi there"}])
    handle.shutdown()
    """
    result = run_app(tmp_path, code, LLMTEL_CLICKHOUSE_URL="jsonl://./out", OTEL_LOGS_EXPORTER="console")
    assert result.returncode == 0, result.stderr
    assert f'"event_name": "{EVENT}"' in result.stdout
    assert '"content": "hi there"' in result.stdout
