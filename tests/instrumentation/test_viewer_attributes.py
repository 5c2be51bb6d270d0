"""What OTLP viewers (Arize Phoenix, Langfuse, Jaeger) read from app spans: a trace_method span's
input, output and kind, the run and user of llm_context as session and user, and one trace per
run with ``open_span``; real SDK spans, a real OpenAI call over HTTP."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from llmtel.instrumentation import llm_context, trace_method
from llmtel.loopback import ProviderServer
from llmtel.loopback import openai_replies as fx
from tests.support.telemetry import Telemetry


@trace_method(record_return=True, kind="tool")
def get_weather(city: str, unit: str = "c") -> dict[str, object]:
    return {"city": city, "temperature": 18}


@trace_method
def plain(x: int) -> int:
    return x + 1


def test_a_traced_function_shows_its_input_output_and_kind(tel: Telemetry) -> None:
    get_weather("Paris", unit="f")
    plain(1)
    tool, chain = tel.span("get_weather"), tel.span("plain")
    assert json.loads(tool.attributes["input.value"]) == {"city": "Paris", "unit": "f"}
    assert tool.attributes["input.mime_type"] == "application/json"
    assert json.loads(tool.attributes["output.value"]) == {"city": "Paris", "temperature": 18}
    assert tool.attributes["openinference.span.kind"] == "TOOL"
    assert chain.attributes["openinference.span.kind"] == "CHAIN"
    assert "output.value" not in chain.attributes  # record_return not asked for
    assert json.loads(chain.attributes["parameter.x"]) == 1


def test_an_unknown_kind_is_refused_where_it_is_written() -> None:
    with pytest.raises(ValueError, match="kind='toool'"):
        trace_method(kind="toool")


def test_the_run_and_user_are_the_session_and_user_viewers_group_by(
    server: ProviderServer, client: openai.OpenAI, tel: Telemetry
) -> None:
    server.expect("/v1/chat/completions", fx.chat("ok"))
    with llm_context(run_id="run-7", user_id="u-1"):
        plain(1)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    for span in tel.spans():
        assert (span.attributes["session.id"], span.attributes["user.id"]) == ("run-7", "u-1")


def test_open_span_makes_a_run_one_trace(server: ProviderServer, client: openai.OpenAI, tel: Telemetry) -> None:
    server.always("/v1/chat/completions", fx.chat("ok"))
    with llm_context(agent_id="bot", run_id="run-8", open_span=True):
        plain(1)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    run = tel.span("run run-8")
    assert run.attributes["openinference.span.kind"] == "AGENT" and run.attributes["session.id"] == "run-8"
    others = [s for s in tel.spans() if s is not run]
    assert len(others) == 2 and all(s.parent is not None and s.parent.span_id == run.context.span_id for s in others)
    assert {s.context.trace_id for s in tel.spans()} == {run.context.trace_id}
    assert len(tel.traces()) == 1 and tel.traces()[0].parent_span_id == f"{run.context.span_id:016x}"


async def test_open_span_on_coroutines_that_overlap(
    server: ProviderServer, aclient: openai.AsyncOpenAI, tel: Telemetry
) -> None:
    server.always(
        "/v1/chat/completions",
        fx.chat(
            "ok",
        ),
    )

    @llm_context(agent_id="bot", open_span=True)
    async def step(n: int) -> None:
        await aclient.chat.completions.create(model=f"m-{n}", messages=[{"role": "user", "content": "hi"}])
        if n == 2:
            raise RuntimeError("step 2 failed")

    results = await asyncio.gather(*(step(n) for n in range(4)), return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["NoneType", "NoneType", "RuntimeError", "NoneType"]
    runs = [s for s in tel.spans() if s.name == "agent bot"]
    assert len(runs) == 4
    for run in runs:
        [call] = [s for s in tel.spans() if s.parent is not None and s.parent.span_id == run.context.span_id]
        failed = run.attributes.get("error.type") == "RuntimeError"
        assert failed == (call.name == "chat m-2")
