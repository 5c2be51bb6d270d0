"""The Anthropic SDK over HTTP against the documented wire format: every fixture sync and
async, the messages.stream() helper, beta and raw surfaces, and coexistence with the
SDK's own OpenTelemetry tracing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import pytest

from llmtel.loopback import ProviderServer, Reply
from llmtel.loopback import anthropic_replies as fx
from tests.support.telemetry import Telemetry, uninstrumented

PATH = "/v1/messages"
ASK = {"model": "claude-haiku-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": "Hello"}]}

# fixture -> (stream?, expected record fields, expected assembled content)
CASES: dict[str, tuple[Callable[[], Reply], bool, dict[str, Any], list[dict[str, Any]] | None]] = {
    "plain": (
        fx.plain,
        False,
        {"response_id": "msg_01Plain", "input_tokens": 25, "output_tokens": 12, "finish_reasons": ["stop"]},
        None,
    ),
    "tool_use": (fx.tool_use, False, {"finish_reasons": ["tool_calls"], "input_tokens": 380}, None),
    "prompt_caching": (
        fx.prompt_caching,
        False,
        {
            "input_tokens": 14 + 2048 + 512,
            "cache_read_input_tokens": 2048,
            "cache_write_input_tokens": 512,
            "output_tokens": 9,
        },
        None,
    ),
    "streaming_text": (
        fx.streaming_text,
        True,
        {"response_id": "msg_01Stream", "input_tokens": 472, "output_tokens": 89, "finish_reasons": ["stop"]},
        [{"type": "text", "text": "Hello! How can I help?"}],
    ),
    "parallel_tools": (
        fx.streaming_parallel_tools,
        True,
        {"finish_reasons": ["tool_calls"], "output_tokens": 120},
        [
            {"type": "text", "text": "Checking both cities."},
            {"type": "tool_use", "id": "toolu_01P", "name": "get_weather", "input": {"location": "Paris"}},
            {"type": "tool_use", "id": "toolu_01L", "name": "get_weather", "input": {"location": "London"}},
        ],
    ),
    "thinking": (
        fx.streaming_thinking,
        True,
        {"output_tokens": 300},
        [
            {
                "type": "thinking",
                "thinking": "Let me work out 27 * 453. That is 12231.",
                "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
            },
            {"type": "text", "text": "27 * 453 = 12,231"},
        ],
    ),
    "streaming_cached": (
        fx.streaming_cached,
        True,
        {"input_tokens": 10 + 1800 + 200, "cache_read_input_tokens": 1800, "cache_write_input_tokens": 200},
        None,
    ),
    "bad_request": (fx.bad_request, False, {"is_error": True, "error_type": "BadRequestError"}, None),
    "rate_limited": (fx.rate_limited, False, {"is_error": True, "error_type": "RateLimitError"}, None),
    "overloaded": (fx.overloaded, False, {"is_error": True}, None),
    "error_mid_stream": (
        fx.streaming_error_mid_stream,
        True,
        {"is_error": True},
        [{"type": "text", "text": "Partial answer"}],
    ),
}


def outcome(result: Any) -> Any:
    if isinstance(result, list):
        return [json.loads(e.model_dump_json(warnings=False)) for e in result]
    return json.loads(result.model_dump_json(warnings=False))


def call_sync(client: anthropic.Anthropic, stream: bool) -> Any:
    try:
        if stream:
            events = []
            try:
                for event in client.messages.create(**ASK, stream=True):
                    events.append(event)
            except anthropic.APIStatusError as exc:
                return {"events": outcome(events), "error": type(exc).__name__}
            return outcome(events)
        return outcome(client.messages.create(**ASK))
    except anthropic.APIStatusError as exc:
        return {"error": type(exc).__name__, "status": exc.status_code, "body": exc.body}


async def call_async(client: anthropic.AsyncAnthropic, stream: bool) -> Any:
    try:
        if stream:
            events = []
            try:
                async for event in await client.messages.create(**ASK, stream=True):
                    events.append(event)
            except anthropic.APIStatusError as exc:
                return {"events": outcome(events), "error": type(exc).__name__}
            return outcome(events)
        return outcome(await client.messages.create(**ASK))
    except anthropic.APIStatusError as exc:
        return {"error": type(exc).__name__, "status": exc.status_code, "body": exc.body}


def check(record: Any, stream: bool, want: dict[str, Any], content: list[dict[str, Any]] | None) -> None:
    assert record.provider == "anthropic" and record.operation == "chat"
    assert record.request_model == "claude-haiku-4-5" and record.is_stream == stream
    assert json.loads(record.request_json)["messages"] == ASK["messages"]
    sent = {"model": ASK["model"], "max_tokens": ASK["max_tokens"], **({"stream": True} if stream else {})}
    assert json.loads(record.request_params_json) == sent  # what was sent, not the SDK's placeholders
    for key, value in want.items():
        assert getattr(record, key) == value, key
    if not want.get("is_error"):
        assert record.response_model == fx.MODEL
        assert record.total_tokens == record.input_tokens + record.output_tokens
        assert record.cost_usd is not None
    if content is not None:
        assert json.loads(record.response_json)["content"] == content


@pytest.mark.parametrize("case", list(CASES))
def test_fixture_sync(case: str, server: ProviderServer, tel: Telemetry, instrumentors: Any) -> None:
    reply, stream, want, content = CASES[case]
    client = anthropic.Anthropic(base_url=server.url, api_key="sk-ant-SECRET", max_retries=0)
    with uninstrumented(instrumentors):
        server.expect(PATH, reply())
        plain = call_sync(client, stream)
    tel.reset()  # the SDK's own span made a provider trace too: start clean
    server.expect(PATH, reply())
    assert call_sync(client, stream) == plain
    [record] = tel.traces()
    check(record, stream, want, content)
    [span] = tel.spans()  # one LLM span: the SDK's own tracing is off while llmtel instruments
    assert span.instrumentation_scope.name == "llmtel.instrumentation.anthropic"
    assert "SECRET" not in json.dumps(dict(span.attributes)) + json.dumps(record.to_dict(), default=str)


@pytest.mark.parametrize("case", list(CASES))
async def test_fixture_async(case: str, server: ProviderServer, tel: Telemetry, instrumentors: Any) -> None:
    reply, stream, want, content = CASES[case]
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key="sk-ant", max_retries=0)
    with uninstrumented(instrumentors):
        server.expect(PATH, reply())
        plain = await call_async(client, stream)
    tel.reset()
    server.expect(PATH, reply())
    assert await call_async(client, stream) == plain
    [record] = tel.traces()
    check(record, stream, want, content)


def test_message_stream_helper(server: ProviderServer, tel: Telemetry) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
    server.expect(PATH, fx.streaming_text(), fx.streaming_parallel_tools())
    with client.messages.stream(**ASK) as stream:
        text = "".join(stream.text_stream)
    assert text == "Hello! How can I help?"
    with client.messages.stream(**ASK) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use", "tool_use"]
    first, second = tel.traces()
    assert json.loads(first.response_json)["content"][0]["text"] == text
    assert second.finish_reasons == ["tool_calls"]  # stop_reason tool_use, in the official words


def test_message_stream_helper_early_exit(server: ProviderServer, tel: Telemetry) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
    server.expect(PATH, fx.streaming_text())
    with client.messages.stream(**ASK) as stream:
        for _ in stream.text_stream:
            break
        assert tel.traces() == []
    [record] = tel.traces()
    assert record.finish_reasons == ["incomplete"] and record.input_tokens == 472


async def test_async_message_stream_helper(server: ProviderServer, tel: Telemetry) -> None:
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key="k", max_retries=0)
    server.expect(PATH, fx.streaming_thinking())
    async with client.messages.stream(**ASK) as stream:
        final = await stream.get_final_message()
    assert final.content[1].text == "27 * 453 = 12,231"
    [record] = tel.traces()
    assert json.loads(record.response_json)["content"][0]["type"] == "thinking"


def test_beta_and_raw_surfaces(server: ProviderServer, tel: Telemetry) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
    server.expect(PATH, fx.plain(), fx.tool_use(), fx.streaming_text())
    assert client.beta.messages.create(**ASK).id == "msg_01Plain"
    raw = client.messages.with_raw_response.create(**ASK)
    assert raw.parse().stop_reason == "tool_use"
    with client.messages.with_streaming_response.create(**ASK, stream=True) as response:
        events = list(response.parse())
    assert events[-1].type == "message_stop"
    records = tel.traces()
    assert [r.response_id for r in records] == ["msg_01Plain", "msg_01Tool", "msg_01Stream"]


def test_sdk_tracing_comes_back_after_uninstrument(server: ProviderServer, tel: Telemetry, instrumentors: Any) -> None:
    if "_tracer" not in anthropic._base_client.BaseClient.__dict__:
        pytest.skip(f"anthropic {anthropic.__version__} has no tracing of its own")
    client = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
    with uninstrumented(instrumentors):
        server.expect(PATH, fx.plain())
        client.messages.create(**ASK)
    sdk_spans = [s for s in tel.spans() if s.instrumentation_scope.name == "com.anthropic.sdk.python"]
    assert len(sdk_spans) == 1
    # llmtel's processor still turns the SDK's own gen_ai span into a provider trace
    [record] = tel.traces()
    assert record.provider == "anthropic" and record.response_id == "msg_01Plain"


def test_tools_and_stop_reasons_in_the_conventions_shape(server: ProviderServer, tel: Telemetry) -> None:
    """A client tool's ``input_schema`` is its ``parameters`` and its type ``function``; a server
    tool keeps its type; ``tool_use`` is ``tool_calls`` on the span, the row and the output message."""
    tel.configure(capture_content=True)
    client = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
    schema = {"type": "object", "properties": {"location": {"type": "string"}}}
    tools: Any = [
        {"name": "get_weather", "description": "Weather now", "input_schema": schema},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 2},
    ]
    server.expect(PATH, fx.tool_use())
    client.messages.create(**ASK, tools=tools)
    span = tel.span("chat claude-haiku-4-5")
    assert json.loads(str(span.attributes["gen_ai.tool.definitions"])) == [
        {"type": "function", "name": "get_weather", "description": "Weather now", "parameters": schema},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 2},
    ]
    [message] = json.loads(str(span.attributes["gen_ai.output.messages"]))
    assert message["finish_reason"] == "tool_calls"
    assert span.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    [record] = tel.traces()
    assert record.finish_reasons == ["tool_calls"] and json.loads(record.response_json)["stop_reason"] == "tool_use"
