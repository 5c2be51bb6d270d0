"""The OpenAI traffic real clients meet beyond the plain cases: Azure's content-filter chunks,
legacy completions streams, streams read as bytes or lines, a raw response dropped once its
stream is parsed (litellm), and the calls that are not LLM calls at all. Each case: the app
gets what the uninstrumented SDK gives it, and the provider call is exactly one full row."""

from __future__ import annotations

import gc
import json
from typing import Any

import openai
import pytest

from llmtel.loopback import ProviderServer, Reply
from llmtel.loopback import openai_replies as fx
from tests.support.telemetry import Telemetry, uninstrumented

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "Say hello"}]


def one_row(tel: Telemetry, server: ProviderServer) -> Any:
    """The single row of the single provider request the loopback server saw."""
    generation = [r for r in server.received if r.method == "POST"]
    records = tel.traces()
    assert len(generation) == 1 and len(records) == 1, (generation, records)
    return records[0]


def stream_text(stream: Any) -> str:
    return "".join((c.choices[0].delta.content or "") for c in stream if c.choices and c.choices[0].delta)


def test_azure_content_filter_chunks(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry, instrumentors: Any
) -> None:
    with uninstrumented(instrumentors):
        server.expect(CHAT, fx.azure_stream("Hel", "lo"))
        plain = [c.model_dump() for c in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)]
    server.reset()
    server.expect(CHAT, fx.azure_stream("Hel", "lo"))
    seen = [c.model_dump() for c in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)]
    assert seen == plain
    row = one_row(tel, server)
    assert (row.response_id, row.response_model) == ("chatcmpl-AZ1", "gpt-4o-2024-08-06")
    assert (row.input_tokens, row.output_tokens, row.total_tokens) == (12, 2, 14)
    assert row.finish_reasons == ["stop"] and not row.is_error
    response = json.loads(row.response_json)
    assert response["choices"][0]["message"]["content"] == "Hello"
    assert response["prompt_filter_results"][0]["prompt_index"] == 0
    span = tel.span("chat gpt-4o")
    assert span.attributes["gen_ai.response.id"] == "chatcmpl-AZ1"
    assert span.attributes["gen_ai.usage.output_tokens"] == 2


def test_legacy_completions_stream(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry, instrumentors: Any
) -> None:
    ask = {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": "Say",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with uninstrumented(instrumentors):
        server.expect("/v1/completions", fx.completions_stream("Hel", "lo"))
        plain = [c.model_dump() for c in client.completions.create(**ask)]
    server.reset()
    server.expect("/v1/completions", fx.completions_stream("Hel", "lo"))
    assert [c.model_dump() for c in client.completions.create(**ask)] == plain
    row = one_row(tel, server)
    assert row.operation == "text_completion" and row.is_stream
    assert (row.response_id, row.response_model) == ("cmpl-L1", "gpt-3.5-turbo-instruct")
    assert row.finish_reasons == ["length"] and (row.input_tokens, row.output_tokens) == (5, 2)
    response = json.loads(row.response_json)
    assert response["object"] == "text_completion" and response["choices"][0]["text"] == "Hello"


@pytest.mark.parametrize("reader", ["iter_lines", "iter_bytes", "iter_text"])
def test_streaming_response_read_as_bytes(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry, reader: str
) -> None:
    server.expect(CHAT, fx.chat_stream("a", "b", "c"))
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    ) as response:
        pieces = list(getattr(response, reader)())
    assert pieces  # the app got the bytes as the SDK gives them
    row = one_row(tel, server)
    assert row.is_stream and row.response_id == "chatcmpl-s1" and row.finish_reasons == ["stop"]
    assert json.loads(row.response_json)["choices"][0]["message"]["content"] == "abc"
    assert (row.input_tokens, row.output_tokens) == (9, 3)
    assert tel.span("chat gpt-4o-mini").attributes.get("llmtel.stream.incomplete") is None


async def test_async_streaming_response_read_as_lines(
    server: ProviderServer, aclient: openai.AsyncOpenAI, tel: Telemetry
) -> None:
    server.expect(CHAT, fx.chat_stream("x", "y"))
    async with aclient.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    ) as response:
        lines = [line async for line in response.iter_lines()]
    assert any(line.startswith("data: ") for line in lines)
    row = one_row(tel, server)
    assert json.loads(row.response_json)["choices"][0]["message"]["content"] == "xy"


def test_streaming_response_json_body_read_as_bytes(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry
) -> None:
    server.expect(CHAT, fx.chat("bytes body"))
    with client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=MESSAGES) as response:
        body = b"".join(response.iter_bytes())
    assert json.loads(body)["choices"][0]["message"]["content"] == "bytes body"
    row = one_row(tel, server)
    assert row.response_json == body.decode() and row.output_tokens == 3


def test_raw_response_dropped_once_its_stream_is_parsed(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry
) -> None:
    """litellm's way: ``with_raw_response.create(stream=True).parse()``, the raw object dropped
    at once, the stream read later. The call ends when the stream does."""
    server.expect(CHAT, fx.chat_stream("one", " two", event_delay_s=0.05))
    stream = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    ).parse()
    gc.collect()  # the raw response is gone
    assert tel.traces() == []  # not ended before its stream is read
    assert stream_text(stream) == "one two"
    row = one_row(tel, server)
    assert json.loads(row.response_json)["choices"][0]["message"]["content"] == "one two"
    assert row.finish_reasons == ["stop"] and row.output_tokens == 2
    assert row.duration_ms >= 150  # it lasted as long as the stream, not only until the headers


async def test_async_raw_response_dropped_once_its_stream_is_parsed(
    server: ProviderServer, aclient: openai.AsyncOpenAI, tel: Telemetry
) -> None:
    server.expect(CHAT, fx.chat_stream("a", "b"))
    raw = await aclient.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    stream = raw.parse()  # the legacy raw response parses synchronously, for async clients too
    del raw
    gc.collect()
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "ab"
    row = one_row(tel, server)
    assert json.loads(row.response_json)["choices"][0]["message"]["content"] == "ab"


def test_raw_response_parsed_twice_is_one_row(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    server.expect(CHAT, fx.chat_stream("a", "b"))
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert raw.parse() is raw.parse()
    assert stream_text(raw.parse()) == "ab"
    assert json.loads(one_row(tel, server).response_json)["choices"][0]["message"]["content"] == "ab"


def test_calls_that_generate_nothing_are_not_llm_calls(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry
) -> None:
    listing = {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
    server.always(CHAT, Reply.json(listing))
    server.always("/v1/chat/completions/chatcmpl-1", Reply.json(fx.completion()))
    server.always("/v1/chat/completions/chatcmpl-1/messages", Reply.json(listing))
    server.always("/v1/models", Reply.json({"object": "list", "data": []}))
    server.always("/v1/responses/resp_1", Reply.json({"id": "resp_1", "object": "response.deleted", "deleted": True}))
    assert client.chat.completions.list().data == []
    assert client.chat.completions.retrieve("chatcmpl-1").id == "chatcmpl-1"
    assert list(client.chat.completions.messages.list("chatcmpl-1")) == []
    assert client.models.list().data == []
    client.responses.delete("resp_1")
    assert len(server.received) == 5
    assert tel.traces() == [] and tel.spans() == []
