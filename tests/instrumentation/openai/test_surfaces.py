"""Every OpenAI call surface and every way a stream can end, with the real SDK over HTTP."""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any

import openai
import pydantic
import pytest
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from llmtel.instrumentation import llm_context
from llmtel.instrumentation.openai import OpenAIInstrumentor
from llmtel.loopback import ProviderServer, Reply
from llmtel.loopback import openai_replies as fx
from tests.support.telemetry import Telemetry

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "Say hello"}]


# The chat helpers (``stream``, ``parse``) were only under ``client.beta`` in the older SDKs the floor allows.
needs_chat_helpers = pytest.mark.skipif(
    not hasattr(openai.resources.chat.Completions, "stream"), reason=f"openai {openai.__version__}: no chat helpers"
)


def only_trace(tel: Telemetry) -> Any:
    records = tel.traces()
    assert len(records) == 1, records
    return records[0]


def test_plain_call_span_follows_genai_conventions(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry
) -> None:
    server.expect(CHAT, fx.chat("Hi!", cached=8))
    result = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, temperature=0.3, max_tokens=50, top_p=0.9, seed=7, stop=["END"]
    )
    assert result.choices[0].message.content == "Hi!"
    span = tel.span("chat gpt-4o-mini")
    assert span.kind.name == "CLIENT"
    attrs = span.attributes
    assert attrs["gen_ai.provider.name"] == "openai" and attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.temperature"] == 0.3 and attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.request.top_p"] == 0.9 and attrs["gen_ai.request.seed"] == 7
    assert attrs["gen_ai.request.stop_sequences"] == ("END",)
    assert attrs["server.address"] == "127.0.0.1" and isinstance(attrs["server.port"], int)
    assert attrs["gen_ai.response.model"] == fx.MODEL and attrs["gen_ai.response.id"] == "chatcmpl-1"
    assert attrs["gen_ai.usage.input_tokens"] == 20 and attrs["gen_ai.usage.cache_read.input_tokens"] == 8
    assert "gen_ai.input.messages" not in attrs  # content capture is off by default
    seen = tel.sampler.seen["chat gpt-4o-mini"]
    assert seen["gen_ai.request.model"] == "gpt-4o-mini"  # sampling-relevant attributes set at start
    record = only_trace(tel)
    assert record.cache_read_input_tokens == 8 and record.total_tokens == 23
    assert record.cost_usd == pytest.approx((12 * 0.15 + 8 * 0.075 + 3 * 0.6) / 1e6)
    for name in ("gen_ai.client.operation.duration", "gen_ai.client.token.usage"):
        assert tel.metric_points(name), name


def test_extra_body_is_part_of_what_the_span_says_was_asked(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry
) -> None:
    """``extra_body`` goes out merged over the named parameters (an SDK too old for a parameter
    leaves users no other way to send it); its ``Omit`` values are left out, as the SDK does."""
    server.expect(CHAT, fx.chat("ok"))
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        temperature=0.9,
        extra_body={"temperature": 0.2, "service_tier": "flex", "top_k": 5, "seed": openai.Omit()},
    )
    sent = json.loads(server.received[0].body)
    assert (sent["temperature"], sent["top_k"], "seed" in sent) == (0.2, 5, False)
    attrs = tel.span("chat gpt-4o-mini").attributes
    assert attrs["gen_ai.request.temperature"] == 0.2 and attrs["openai.request.service_tier"] == "flex"
    params = json.loads(only_trace(tel).request_params_json)
    assert (params.get("temperature"), params.get("top_k"), "seed" in params) == (0.2, 5, False)


def test_secrets_never_recorded(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    tel.configure(capture_content=True)
    server.expect(CHAT, fx.chat())
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert "Bearer sk-proj-SECRET" in server.received[0].headers.get("authorization", "")
    exported = json.dumps([dict(s.attributes) for s in tel.spans()]) + json.dumps(
        [r.to_dict() for r in tel.traces()], default=str
    )
    assert "SECRET" not in exported and "Authorization" not in exported


def test_content_capture_within_budget(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    tel.configure(capture_content=True)
    server.expect(CHAT, fx.chat("ok"))
    huge = "x" * 2_000_000
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": huge}]
    )
    attrs = tel.span("chat gpt-4o-mini").attributes
    assert len(attrs["gen_ai.input.messages"]) <= 4096
    preview = json.loads(attrs["gen_ai.input.messages"])
    assert preview[0] == {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}
    stored = tel.sink.payload(attrs["gen_ai.input.messages_ref"])
    assert stored is not None and json.loads(stored)[1]["parts"][0]["content"] == huge
    assert json.loads(attrs["gen_ai.output.messages"])[0]["parts"][0]["content"] == "ok"
    assert json.loads(only_trace(tel).request_json)["messages"][1]["content"] == huge


def test_with_raw_response(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    server.expect(CHAT, fx.chat("raw"))
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert raw.headers["content-type"] == "application/json"
    assert raw.parse().choices[0].message.content == "raw"
    record = only_trace(tel)
    assert record.response_id == "chatcmpl-1" and record.output_tokens == 3


def test_with_raw_response_streaming(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    server.expect(CHAT, fx.chat_stream("a", "b"))
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert tel.traces() == []
    stream = raw.parse()
    assert isinstance(stream, openai.Stream)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "ab"
    record = only_trace(tel)
    assert json.loads(record.response_json)["choices"][0]["message"]["content"] == "ab"
    assert record.is_stream and record.finish_reasons == ["stop"]


def test_with_streaming_response(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    server.expect(CHAT, fx.chat("streamed body"), fx.chat("read body"))
    with client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=MESSAGES) as response:
        assert response.parse().choices[0].message.content == "streamed body"
    with client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=MESSAGES) as response:
        assert json.loads(response.read())["choices"][0]["message"]["content"] == "read body"
    first, second = tel.traces()
    assert first.output_tokens == 3 and not first.is_error
    assert json.loads(second.response_json)["choices"][0]["message"]["content"] == "read body"


@needs_chat_helpers
def test_stream_helper_and_early_exit(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    server.expect(CHAT, fx.chat_stream("one", " two"), fx.chat_stream("x", "y", "z"))
    with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "one two"
    with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        for _event in stream:
            break
        assert len(tel.traces()) == 1
    # the early-exited helper stream ended its span at the with-block's exit, not at GC
    complete, early = tel.traces()
    assert complete.finish_reasons == ["stop"] and not complete.is_error
    assert early.finish_reasons == ["incomplete"]
    assert tel.spans()[-1].attributes["llmtel.stream.incomplete"] is True


@needs_chat_helpers
def test_parse_helper(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    class Answer(pydantic.BaseModel):
        city: str

    server.expect(CHAT, fx.chat('{"city": "Paris"}'))
    parsed = client.chat.completions.parse(model="gpt-4o-mini", messages=MESSAGES, response_format=Answer)
    assert parsed.choices[0].message.parsed == Answer(city="Paris")
    assert tel.span("chat gpt-4o-mini").attributes["gen_ai.output.type"] == "json"
    assert only_trace(tel).response_id == "chatcmpl-1"


def test_long_stream_is_assembled_whole(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    pieces = [f" w{i}" for i in range(150)]  # more events than llmtel holds between two folds
    server.expect(CHAT, fx.chat_stream(*pieces))
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    received = [chunk.choices[0].delta.content for chunk in stream if chunk.choices and chunk.choices[0].delta.content]
    assert received == pieces
    response = json.loads(only_trace(tel).response_json)
    assert response["choices"][0]["message"]["content"] == "".join(pieces)
    assert response["usage"]["completion_tokens"] == 150


async def test_time_to_first_chunk_is_the_first_events(
    server: ProviderServer, aclient: openai.AsyncOpenAI, tel: Telemetry
) -> None:
    server.expect(CHAT, fx.chat_stream("a", "b", "c", event_delay_s=0.1))  # 0.1 s before each of 7 events
    stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == "abc"
    record = only_trace(tel)
    span = tel.span("chat gpt-4o-mini")
    ttfc = span.attributes["gen_ai.response.time_to_first_chunk"]
    assert 0.1 <= ttfc < 0.35  # the first chunk, not a later one
    assert record.time_to_first_token_ms == pytest.approx(ttfc * 1000, abs=1)
    assert record.duration_ms >= 600


def test_stream_break_then_close(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    server.expect(CHAT, fx.chat_stream("a", "b", "c"))
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content == "a":
            break
    assert tel.traces() == []
    stream.close()
    record = only_trace(tel)
    assert record.finish_reasons == ["incomplete"]
    assert json.loads(record.response_json)["choices"][0]["message"]["content"] == "a"
    stream.close()
    assert len(tel.traces()) == 1  # ended exactly once


def test_stream_context_manager_exit(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    server.expect(CHAT, fx.chat_stream("a", "b"))
    with client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True) as stream:
        next(iter(stream))
    assert only_trace(tel).finish_reasons == ["incomplete"]


def test_unconsumed_stream_garbage_collected(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    server.expect(CHAT, fx.chat_stream("never read"))
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    del stream
    gc.collect()
    record = only_trace(tel)
    assert record.is_stream and record.finish_reasons == ["incomplete"]
    assert tel.span("chat gpt-4o-mini").end_time is not None


def test_error_event_mid_stream(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    server.expect(CHAT, fx.stream_error_event())
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    received = []
    with pytest.raises(openai.APIError, match="The server had an error"):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert received == ["", "Part"]
    record = only_trace(tel)
    assert record.is_error and record.error_type == "APIError"
    assert json.loads(record.response_json)["choices"][0]["message"]["content"] == "Part"


def test_connection_reset_mid_stream(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    server.expect(CHAT, fx.chat_stream("a", "b", "c", reset_after_events=2))
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    with pytest.raises(Exception) as info:  # APIConnectionError; older SDKs let httpx's own error through
        list(stream)
    assert info.type.__name__ in ("APIConnectionError", "RemoteProtocolError")
    record = only_trace(tel)
    assert record.is_error and record.error_type == info.type.__qualname__
    assert tel.span("chat gpt-4o-mini").status.status_code is StatusCode.ERROR


def test_retries_are_one_span_with_a_retry_count(server: ProviderServer, tel: Telemetry) -> None:
    server.expect(CHAT, fx.rate_limited(), fx.chat("after retry"))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=2)
    assert (
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices[0].message.content
        == "after retry"
    )
    assert len(server.received) == 2
    span = tel.span("chat gpt-4o-mini")
    assert span.attributes["llmtel.retry_count"] == 1
    assert not only_trace(tel).is_error


def test_http_error_is_recorded(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    server.expect(CHAT, fx.rate_limited())
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span = tel.span("chat gpt-4o-mini")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "RateLimitError"  # one filter: span, metric and row
    failed = {p.attributes.get("error.type") for p in tel.metric_points("gen_ai.client.operation.duration")} - {None}
    assert "RateLimitError" in failed and not any(name.startswith("openai.") for name in failed)
    record = only_trace(tel)
    assert record.error_type == "RateLimitError"
    [event] = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"] == "openai.RateLimitError"  # the qualified class
    assert json.loads(record.response_json)["error"]["code"] == "rate_limit_exceeded"
    assert record.error_message and "Rate limit reached" in record.error_message


def test_responses_stream_helper(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    from tests.support.cassettes import load

    [exchange] = load("test_responses_create_streaming[content_mode0]")
    server.expect(exchange.path, exchange.reply)
    with client.responses.stream(model="gpt-4o-mini", input="Say this is a test") as stream:
        final = stream.get_final_response()
    record = only_trace(tel)
    assert record.response_id == final.id and record.output_tokens == final.usage.output_tokens
    assert record.is_stream


def test_suppressed_instrumentation_makes_no_span(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry
) -> None:
    server.expect(CHAT, fx.chat())
    with suppress_instrumentation():
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert tel.spans() == [] and tel.traces() == []
    assert otel_context.get_current() is not None


def test_instrumenting_twice_is_a_noop(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    OpenAIInstrumentor().instrument()
    server.expect(CHAT, fx.chat())
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(tel.spans()) == 1


def test_uninstrument_restores_the_sdk(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    OpenAIInstrumentor().uninstrument()
    try:
        from openai.lib.streaming.chat import _completions

        for cls in (openai.Stream, openai.AsyncStream, _completions.ChatCompletionStreamManager):
            for name in ("close", "__exit__", "__aexit__"):
                assert not hasattr(vars(cls).get(name), "__wrapped__"), (cls, name)
        server.expect(CHAT, fx.chat_stream("a"))
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        assert type(stream) is openai.Stream
        list(stream)
        assert tel.spans() == []
    finally:
        OpenAIInstrumentor().instrument()


async def test_async_stream_cancelled(server: ProviderServer, aclient: openai.AsyncOpenAI, tel: Telemetry) -> None:
    server.expect(CHAT, fx.chat_stream("a", "b", "c", event_delay_s=0.2))
    got: list[str] = []

    async def consume() -> None:
        stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        async for chunk in stream:
            if chunk.choices:
                got.append(chunk.choices[0].delta.content or "")

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    record = only_trace(tel)
    assert not record.is_error
    span = tel.span("chat gpt-4o-mini")
    assert span.attributes["llmtel.cancelled"] is True
    assert json.loads(record.response_json)["choices"][0]["message"]["content"] == "".join(got)


async def test_an_async_close_not_awaited_still_ends_the_call(
    server: ProviderServer, aclient: openai.AsyncOpenAI, tel: Telemetry
) -> None:
    """``stream.close()`` without ``await`` (an app bug the SDK forgives by closing at garbage
    collection) ends the call at once, and the app gets the SDK's own coroutine back."""
    server.expect(CHAT, fx.chat_stream("a", "b", "c"))
    stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    async for _ in stream:
        break
    pending = stream.close()
    assert only_trace(tel).finish_reasons == ["incomplete"]
    assert pending.cr_code.co_qualname == "AsyncStream.close"
    await pending


@needs_chat_helpers
async def test_async_raw_and_helpers(server: ProviderServer, aclient: openai.AsyncOpenAI, tel: Telemetry) -> None:
    server.expect(CHAT, fx.chat("raw"), fx.chat_stream("s1", "s2"), fx.chat("streamed"))
    raw = await aclient.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert raw.parse().choices[0].message.content == "raw"
    async with aclient.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        final = await stream.get_final_completion()
    assert final.choices[0].message.content == "s1s2"
    async with aclient.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES
    ) as response:
        assert (await response.parse()).choices[0].message.content == "streamed"
    records = tel.traces()
    assert [r.is_stream for r in records] == [False, True, False]
    assert all(r.response_id for r in records)


async def test_hundred_concurrent_calls_keep_their_context(
    server: ProviderServer, aclient: openai.AsyncOpenAI, tel: Telemetry
) -> None:
    server.always(CHAT, fx.chat_stream("ok", event_delay_s=0.001))

    async def one(n: int) -> None:
        with llm_context(run_id=f"run-{n}", agent_id=f"agent-{n % 5}", tags=[f"t{n}"]):
            stream = await aclient.chat.completions.create(model=f"model-{n}", messages=MESSAGES, stream=True)
            async for _ in stream:
                await asyncio.sleep(0)

    await asyncio.gather(*(one(n) for n in range(100)))
    records = tel.traces()
    assert len(records) == 100
    for record in records:
        n = int(record.request_model.split("-")[1])
        assert (record.run_id, record.agent_id, record.agent_tags) == (f"run-{n}", f"agent-{n % 5}", [f"t{n}"])


def test_embeddings(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    server.expect(
        "/v1/embeddings",
        Reply.json(
            {
                "object": "list",
                "model": "text-embedding-3-small",
                "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                "usage": {"prompt_tokens": 4, "total_tokens": 4},
            }
        ),
    )
    client.embeddings.create(model="text-embedding-3-small", input="hello", dimensions=2, encoding_format="float")
    span = tel.span("embeddings text-embedding-3-small")
    assert span.attributes["gen_ai.embeddings.dimension.count"] == 2
    assert span.attributes["gen_ai.request.encoding_formats"] == ("float",)
    record = only_trace(tel)
    assert (record.operation, record.input_tokens, record.output_tokens) == ("embeddings", 4, None)
    assert record.cost_usd == pytest.approx(4 * 0.02 / 1e6)
    # the requested dimension count is on the metrics too, as the official instrumentation gives it
    for metric in ("gen_ai.client.operation.duration", "gen_ai.client.token.usage"):
        [point] = [
            p
            for p in tel.metric_points(metric)
            if p.attributes.get("gen_ai.operation.name") == "embeddings"
            and p.attributes.get("gen_ai.embeddings.dimension.count") == 2
        ]
        assert point.attributes["gen_ai.request.model"] == "text-embedding-3-small"


def test_an_instrumentor_given_its_own_providers_reports_to_them(
    server: ProviderServer, tel: Telemetry, instrumentors: Any
) -> None:
    """The BaseInstrumentor contract, as the official suites use it: spans and metrics go to the
    providers ``instrument()`` is given, under the instrumentation's own scope and schema URL."""
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader])
    session = instrumentors[0]
    session.uninstrument()
    own = OpenAIInstrumentor()
    own.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        server.expect(CHAT, fx.chat("ok"))
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        own.uninstrument()
        session.instrument()
    [span] = exporter.get_finished_spans()
    assert span.instrumentation_scope.name == "llmtel.instrumentation.openai"
    assert span.instrumentation_scope.schema_url == "https://opentelemetry.io/schemas/1.37.0"
    assert not [s for s in tel.spans() if s.name == "chat gpt-4o-mini"]  # not the global provider's
    data = reader.get_metrics_data()
    assert data is not None
    [scope] = [sm for rm in data.resource_metrics for sm in rm.scope_metrics if sm.metrics]
    assert scope.scope.name == "llmtel.instrumentation.openai"
    names = {metric.name for metric in scope.metrics}
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"} <= names
