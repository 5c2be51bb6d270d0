"""llmtel under the frameworks people run on top of the SDKs, against the loopback provider.

Each scenario runs twice, uninstrumented and instrumented: the framework's result must be
the same, and there must be exactly one correct provider trace per generation request the
provider received (the server counts them). These need the frameworks installed
(``pip install -e '.[frameworks]'``, run by ``.ci/run`` in its own venv); without them
each test skips and says which package is missing.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from llmtel.loopback import ProviderServer, Reply
from llmtel.loopback import anthropic_replies as afx
from llmtel.loopback import openai_replies as fx
from tests.support.telemetry import Telemetry, uninstrumented

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm fetches prices at import otherwise

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
Replies = dict[str, list[Callable[[], Reply]]]


def twice(server: ProviderServer, tel: Telemetry, instrumentors: Any, replies: Replies, run: Callable[[], Any]) -> Any:
    """``run()`` uninstrumented and instrumented on the same replies; asserts the two results
    are equal and returns it (the instrumented run's requests and rows stay for checking)."""

    def queue() -> None:
        for path, makers in replies.items():
            server.expect(path, *[make() for make in makers])

    with uninstrumented(instrumentors):
        queue()
        plain = run()
    server.reset()
    tel.reset()
    queue()
    seen = run()
    gc.collect()  # a stream the framework dropped ends here, as it would in the app later
    assert seen == plain
    return seen


def rows_per_request(server: ProviderServer, tel: Telemetry) -> list[Any]:
    """Exactly one row per generation request the provider received; no row for anything else."""
    requests = [r for r in server.received if r.method == "POST" and r.path in (CHAT, MESSAGES, "/v1/responses")]
    rows = tel.traces()
    assert len(rows) == len(requests), ([r.path for r in requests], [(r.provider, r.operation) for r in rows])
    assert all(r.provider in ("openai", "anthropic") and r.operation == "chat" for r in rows)
    return rows


def tool_call_reply(name: str, arguments: dict[str, Any]) -> Reply:
    body = fx.completion(completion_id="chatcmpl-tool")
    body["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
        ],
    }
    body["choices"][0]["finish_reason"] = "tool_calls"
    return Reply.json(body)


# -- pydantic-ai ---------------------------------------------------------------------------


def _pydantic_openai_agent(server: ProviderServer, **agent_options: Any) -> Any:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(base_url=server.url + "/v1", api_key="k"))
    return Agent(model, **agent_options)


@pytest.mark.parametrize("own_instrumentation", [False, True], ids=["plain", "instrument_all"])
def test_pydantic_ai_tool_loop(
    server: ProviderServer, tel: Telemetry, instrumentors: Any, own_instrumentation: bool
) -> None:
    pytest.importorskip("pydantic_ai")
    from pydantic_ai import Agent

    def run() -> Any:
        agent = _pydantic_openai_agent(server)

        @agent.tool_plain
        def weather(city: str) -> str:
            return f"sunny in {city}"

        return agent.run_sync("Weather in Paris?").output

    Agent.instrument_all(own_instrumentation)
    try:
        replies: Replies = {
            CHAT: [lambda: tool_call_reply("weather", {"city": "Paris"}), lambda: fx.chat("It is sunny.")]
        }
        assert twice(server, tel, instrumentors, replies, run) == "It is sunny."
    finally:
        Agent.instrument_all(False)
    rows = rows_per_request(server, tel)
    assert sorted(r.response_id for r in rows) == ["chatcmpl-1", "chatcmpl-tool"]
    assert sum(r.output_tokens or 0 for r in rows) == 6  # counted once, not twice
    if own_instrumentation:
        theirs = [s for s in tel.spans() if s.instrumentation_scope.name.startswith("pydantic-ai")]
        ours = [s for s in tel.spans() if s.instrumentation_scope.name == "llmtel.instrumentation.openai"]
        assert theirs and len(ours) == 2
        chat_spans = {s.context.span_id for s in theirs if (s.attributes or {}).get("gen_ai.operation.name") == "chat"}
        assert all(s.parent is not None and s.parent.span_id in chat_spans for s in ours)  # nested under theirs


@pytest.mark.parametrize("own_instrumentation", [False, True], ids=["plain", "instrument_all"])
def test_pydantic_ai_anthropic_stream(
    server: ProviderServer, tel: Telemetry, instrumentors: Any, own_instrumentation: bool
) -> None:
    pytest.importorskip("pydantic_ai")
    from pydantic_ai import Agent
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    async def stream() -> str:
        agent = Agent(AnthropicModel("claude-haiku-4-5", provider=AnthropicProvider(base_url=server.url, api_key="k")))
        async with agent.run_stream("Hello?") as result:
            return "".join([text async for text in result.stream_text(delta=True)])

    def run() -> str:
        import asyncio

        return asyncio.run(stream())

    Agent.instrument_all(own_instrumentation)
    try:
        assert twice(server, tel, instrumentors, {MESSAGES: [afx.streaming_text]}, run) == "Hello! How can I help?"
    finally:
        Agent.instrument_all(False)
    [row] = rows_per_request(server, tel)
    assert row.provider == "anthropic" and row.is_stream and row.response_id == "msg_01Stream"
    assert json.loads(row.response_json)["content"][0]["text"] == "Hello! How can I help?"


# -- langchain -----------------------------------------------------------------------------


def test_langchain_openai_invoke_and_stream(server: ProviderServer, tel: Telemetry, instrumentors: Any) -> None:
    pytest.importorskip("langchain_openai")
    from langchain_openai import ChatOpenAI

    def run() -> tuple[str, str]:
        llm = ChatOpenAI(model="gpt-4o-mini", base_url=server.url + "/v1", api_key="k", max_retries=0)
        answer = llm.invoke("hi").content
        streamed = "".join(str(chunk.content) for chunk in llm.stream("hi"))
        return str(answer), streamed

    replies: Replies = {CHAT: [lambda: fx.chat("invoked"), lambda: fx.chat_stream("str", "eamed")]}
    assert twice(server, tel, instrumentors, replies, run) == ("invoked", "streamed")
    invoked, streamed = sorted(rows_per_request(server, tel), key=lambda r: r.is_stream)
    assert invoked.response_id == "chatcmpl-1" and invoked.output_tokens == 3
    assert streamed.is_stream and streamed.finish_reasons == ["stop"]
    assert json.loads(streamed.response_json)["choices"][0]["message"]["content"] == "streamed"


def test_langchain_anthropic_invoke_stream_and_early_exit(
    server: ProviderServer, tel: Telemetry, instrumentors: Any
) -> None:
    pytest.importorskip("langchain_anthropic")
    from langchain_anthropic import ChatAnthropic

    def run() -> tuple[str, str, str]:
        llm = ChatAnthropic(model="claude-haiku-4-5", base_url=server.url, api_key="k", max_retries=0)
        answer = str(llm.invoke("hi").content)
        streamed = "".join(str(chunk.content) for chunk in llm.stream("hi"))
        first = ""
        for chunk in llm.stream("hi"):  # abandoned after the first text
            if chunk.content:
                first = str(chunk.content)
                break
        return answer, streamed, first

    replies: Replies = {MESSAGES: [afx.plain, afx.streaming_text, afx.streaming_text]}
    answer, streamed, first = twice(server, tel, instrumentors, replies, run)
    assert answer == "Hello! How can I help you today?"
    assert streamed == "Hello! How can I help?" and first
    rows = rows_per_request(server, tel)
    whole = [r for r in rows if r.is_stream and r.finish_reasons == ["stop"]]
    early = [r for r in rows if r.is_stream and r.finish_reasons != ["stop"]]
    assert len(whole) == 1 and len(early) == 1
    assert json.loads(whole[0].response_json)["content"][0]["text"] == "Hello! How can I help?"
    assert early[0].response_id == "msg_01Stream" and early[0].input_tokens == 472  # what arrived before the exit


# -- openai-agents -------------------------------------------------------------------------


def test_openai_agents_runner(server: ProviderServer, tel: Telemetry, instrumentors: Any) -> None:
    agents = pytest.importorskip("agents")
    import openai

    agents.set_tracing_disabled(True)  # its own tracing exports to OpenAI's servers

    def run() -> str:
        client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        model = agents.OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client)

        @agents.function_tool
        def weather(city: str) -> str:
            """The weather in a city."""
            return f"sunny in {city}"

        agent = agents.Agent(name="helper", instructions="Be brief.", model=model, tools=[weather])
        return str(agents.Runner.run_sync(agent, "Weather in Paris?").final_output)

    replies: Replies = {CHAT: [lambda: tool_call_reply("weather", {"city": "Paris"}), lambda: fx.chat("Sunny.")]}
    assert twice(server, tel, instrumentors, replies, run) == "Sunny."
    rows = rows_per_request(server, tel)
    assert sorted(r.response_id for r in rows) == ["chatcmpl-1", "chatcmpl-tool"]


# -- litellm -------------------------------------------------------------------------------


def test_litellm_completion_and_stream(server: ProviderServer, tel: Telemetry, instrumentors: Any) -> None:
    litellm = pytest.importorskip("litellm")

    def run() -> tuple[str, str]:
        ask: dict[str, Any] = {"model": "openai/gpt-4o-mini", "api_base": server.url + "/v1", "api_key": "k"}
        ask["messages"] = [{"role": "user", "content": "hi"}]
        answer = litellm.completion(**ask).choices[0].message.content
        chunks = litellm.completion(**ask, stream=True)
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return str(answer), streamed

    replies: Replies = {CHAT: [lambda: fx.chat("plain"), lambda: fx.chat_stream("lite", "llm")]}
    assert twice(server, tel, instrumentors, replies, run) == ("plain", "litellm")
    plain, streamed = sorted(rows_per_request(server, tel), key=lambda r: r.is_stream)
    assert plain.output_tokens == 3
    assert streamed.finish_reasons == ["stop"] and streamed.output_tokens == 2  # not empty, not 'incomplete'
    assert json.loads(streamed.response_json)["choices"][0]["message"]["content"] == "litellm"
    assert streamed.duration_ms >= (streamed.time_to_first_token_ms or 0)


# -- instructor ----------------------------------------------------------------------------


def test_instructor_structured_output(server: ProviderServer, tel: Telemetry, instrumentors: Any) -> None:
    instructor = pytest.importorskip("instructor")
    import openai
    import pydantic

    class City(pydantic.BaseModel):
        name: str
        population: int

    def run() -> dict[str, Any]:
        client = instructor.from_openai(openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0))
        city = client.chat.completions.create(
            model="gpt-4o-mini", response_model=City, messages=[{"role": "user", "content": "Paris?"}]
        )
        return city.model_dump()

    replies: Replies = {CHAT: [lambda: tool_call_reply("City", {"name": "Paris", "population": 2_100_000})]}
    assert twice(server, tel, instrumentors, replies, run) == {"name": "Paris", "population": 2_100_000}
    [row] = rows_per_request(server, tel)
    assert row.finish_reasons == ["tool_calls"]
    assert "City" in json.loads(row.request_params_json)["tool_names"]
