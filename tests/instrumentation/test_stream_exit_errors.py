"""The app raising inside ``with stream:`` (or ``async with``) ends the call as an error with
that exception's type, on the span, the row and the duration metric, for every way both SDKs
open a stream; the app's exception reaches it unchanged. Raising after the stream was read to
its end leaves the call a success: the provider call itself completed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest
from opentelemetry.trace import StatusCode

from llmtel.loopback import ProviderServer, Reply
from llmtel.loopback import anthropic_replies as afx
from llmtel.loopback import openai_replies as fx
from tests.support.cassettes import load
from tests.support.telemetry import Telemetry


class AppError(Exception):
    """Raised by the app's own code while it reads a stream."""


MESSAGES = [{"role": "user", "content": "hi"}]


def _responses_stream() -> Reply:
    [exchange] = load("test_responses_create_streaming[content_mode0]")
    return exchange.reply


def _chat_helpers(client: Any) -> Any:
    """``chat.completions`` or, in the older SDKs the floor allows, ``beta.chat.completions``."""
    chat = client.chat.completions
    return chat if hasattr(chat, "stream") else client.beta.chat.completions


def _anthropic_kwargs(model: str) -> dict[str, Any]:
    return {"model": model, "max_tokens": 64, "messages": MESSAGES}


# way -> (provider path, reply, opener(openai client, anthropic client, model) -> context manager)
Opener = Callable[[Any, Any, str], Any]
WAYS: dict[str, tuple[str, Callable[[], Reply], Opener]] = {
    "openai chat create(stream=True)": (
        "/v1/chat/completions",
        lambda: fx.chat_stream("a", "b", "c"),
        lambda oc, ac, m: oc.chat.completions.create(model=m, messages=MESSAGES, stream=True),
    ),
    "openai chat.completions.stream()": (
        "/v1/chat/completions",
        lambda: fx.chat_stream("a", "b", "c"),
        lambda oc, ac, m: _chat_helpers(oc).stream(model=m, messages=MESSAGES),
    ),
    "openai responses create(stream=True)": (
        "/v1/responses",
        _responses_stream,
        lambda oc, ac, m: oc.responses.create(model=m, input="hi", stream=True),
    ),
    "openai responses.stream()": (
        "/v1/responses",
        _responses_stream,
        lambda oc, ac, m: oc.responses.stream(model=m, input="hi"),
    ),
    "anthropic create(stream=True)": (
        "/v1/messages",
        afx.streaming_text,
        lambda oc, ac, m: ac.messages.create(**_anthropic_kwargs(m), stream=True),
    ),
    "anthropic messages.stream()": (
        "/v1/messages",
        afx.streaming_text,
        lambda oc, ac, m: ac.messages.stream(**_anthropic_kwargs(m)),
    ),
    "anthropic beta.messages.stream()": (
        "/v1/messages",
        afx.streaming_text,
        lambda oc, ac, m: ac.beta.messages.stream(**_anthropic_kwargs(m)),
    ),
}


def clients(server: ProviderServer, is_async: bool) -> tuple[Any, Any]:
    if is_async:
        return (
            openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0),
            anthropic.AsyncAnthropic(base_url=server.url, api_key="k", max_retries=0),
        )
    return (
        openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0),
        anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0),
    )


def model_for(way: str, is_async: bool) -> str:
    """A request model of the case's own, to find its metric point in the session's reader."""
    return f"exit-{'async' if is_async else 'sync'}-{way.replace(' ', '-')}"


def check_error(tel: Telemetry, model: str) -> None:
    [record] = tel.traces()
    assert (record.is_error, record.error_type, record.error_message) == (True, "AppError", "boom")
    [span] = [s for s in tel.spans() if (s.attributes or {}).get("gen_ai.request.model") == model]
    assert span.status.status_code is StatusCode.ERROR and span.attributes["error.type"] == "AppError"
    durations = [
        p
        for p in tel.metric_points("gen_ai.client.operation.duration")
        if p.attributes.get("gen_ai.request.model") == model
    ]
    assert [p.attributes.get("error.type") for p in durations] == ["AppError"]


@pytest.mark.parametrize("way", WAYS)
def test_an_app_error_inside_with_stream_is_the_calls_error(way: str, server: ProviderServer, tel: Telemetry) -> None:
    path, reply, opener = WAYS[way]
    server.expect(path, reply())
    model = model_for(way, is_async=False)
    raised = AppError("boom")
    with pytest.raises(AppError) as caught, opener(*clients(server, is_async=False), model) as stream:
        next(iter(stream))
        raise raised
    assert caught.value is raised
    check_error(tel, model)


@pytest.mark.parametrize("way", WAYS)
async def test_an_app_error_inside_async_with_stream_is_the_calls_error(
    way: str, server: ProviderServer, tel: Telemetry
) -> None:
    path, reply, opener = WAYS[way]
    server.expect(path, reply())
    model = model_for(way, is_async=True)
    raised = AppError("boom")
    opened = opener(*clients(server, is_async=True), model)
    with pytest.raises(AppError) as caught:
        async with await opened if hasattr(opened, "__await__") else opened as stream:
            await stream.__aiter__().__anext__()
            raise raised
    assert caught.value is raised
    check_error(tel, model)


@pytest.mark.parametrize("way", ["openai chat.completions.stream()", "anthropic messages.stream()"])
def test_an_app_error_after_the_stream_ended_leaves_the_call_a_success(
    way: str, server: ProviderServer, tel: Telemetry
) -> None:
    path, reply, opener = WAYS[way]
    server.expect(path, reply())
    model = model_for(way, is_async=False) + "-read"
    with pytest.raises(AppError), opener(*clients(server, is_async=False), model) as stream:
        for _ in stream:
            pass
        raise AppError("boom")
    [record] = tel.traces()
    assert not record.is_error and record.error_type is None and record.finish_reasons == ["stop"]
