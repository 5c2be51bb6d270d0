"""A thousand concurrent streams and sixteen threads: every call its own span and row, ids never mixed."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import openai
import pytest

from llmtel.instrumentation import llm_context
from llmtel.instrumentation.anthropic import AnthropicInstrumentor
from llmtel.instrumentation.openai import OpenAIInstrumentor
from llmtel.loopback import ProviderServer
from llmtel.loopback import openai_replies as fx
from tests.support.telemetry import Telemetry

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "Say hello"}]
Pair = tuple[OpenAIInstrumentor, AnthropicInstrumentor]


def clients(server: ProviderServer) -> tuple[openai.OpenAI, openai.AsyncOpenAI]:
    """No retries, and a timeout no loaded machine reaches: 1,000 connections opened at once to a
    threaded loopback server can take longer than the SDK's 5 s connect timeout at load 5."""
    url, key, timeout = server.url + "/v1", "sk-proj-SECRET", openai.Timeout(120.0)
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=timeout), openai.AsyncOpenAI(
        base_url=url, api_key=key, max_retries=0, timeout=timeout
    )


async def test_thousand_streaming_tasks_and_sixteen_threads_never_mix_ids(
    server: ProviderServer, tel: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    server.keep_requests = False
    server.always(CHAT, fx.chat_stream("a", "b", event_delay_s=0.0005))
    sync_client, async_client = clients(server)

    async def task(n: int) -> None:
        with llm_context(run_id=f"run-{n}", agent_id=f"agent-{n % 7}", step_id=f"step-{n}"):
            stream = await async_client.chat.completions.create(model="gpt-4o-mini", messages=ask(n), stream=True)
            async for _ in stream:
                await asyncio.sleep(0)

    def thread(n: int) -> None:
        with llm_context(run_id=f"run-{n}", agent_id=f"agent-{n % 7}", step_id=f"step-{n}"):
            for _ in sync_client.chat.completions.create(model="gpt-4o-mini", messages=ask(n), stream=True):
                pass

    caplog.set_level(logging.WARNING)
    threads = [threading.Thread(target=thread, args=(1000 + i,)) for i in range(16)]
    try:
        for t in threads:
            t.start()
        await asyncio.gather(*(task(n) for n in range(1000)))
        for t in threads:
            t.join(120)
    finally:
        server.keep_requests = True
    records = tel.traces()
    assert len(records) == 1016
    for record in records:  # the context a row carries is that of the call its request came from
        n = int(json.loads(record.request_json)["messages"][0]["content"].split()[1])
        assert (record.run_id, record.agent_id, record.step_id) == (f"run-{n}", f"agent-{n % 7}", f"step-{n}")
        assert record.finish_reasons == ["stop"] and record.output_tokens == 2
    spans = {f"{s.context.span_id:016x}": s for s in tel.spans() if s.context is not None}
    for record in records:  # and its span is that call's span
        span = spans[record.span_id]
        assert span.end_time and span.attributes is not None  # none left open
        assert span.attributes["llmtel.run_id"] == record.run_id
    assert not [r for r in caplog.records if "Failed to detach context" in r.getMessage()]


def ask(n: int) -> list[dict[str, str]]:
    """One call's messages: one model for all (a model per call would be 2,000 metric series, the
    SDK's cardinality limit, for every later test in the session), the call's number in the text."""
    return [{"role": "user", "content": f"call {n}"}]


async def test_a_third_of_twelve_hundred_streams_cancelled_mid_stream(
    server: ProviderServer, tel: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    """Every third task is cancelled while it waits for its stream's next chunk: every call still
    has one span, ended once (cancelled ones say so), and one row with its own context."""
    chunks = [f"w{i} " for i in range(12)]
    server.keep_requests = False
    server.always(CHAT, fx.chat_stream(*chunks, event_delay_s=0.004))
    _, async_client = clients(server)
    got: dict[int, int] = {}
    mid_stream: dict[int, asyncio.Event] = {}

    async def task(n: int) -> None:
        with llm_context(run_id=f"run-{n}", agent_id=f"agent-{n % 7}", step_id=f"step-{n}"):
            stream = await async_client.chat.completions.create(model="gpt-4o-mini", messages=ask(n), stream=True)
            async for _ in stream:
                got[n] = got.get(n, 0) + 1
                if got[n] == 3 and n in mid_stream:
                    mid_stream[n].set()
                await asyncio.sleep(0)  # the app's own work between chunks: where a cancellation lands

    async def cancel_mid_stream(n: int, running: asyncio.Task[None]) -> None:
        await mid_stream[n].wait()
        running.cancel()

    caplog.set_level(logging.WARNING)
    total = 1200
    try:
        tasks = []
        for n in range(total):
            if n % 3 == 0:
                mid_stream[n] = asyncio.Event()
            tasks.append(asyncio.ensure_future(task(n)))
        cancellers = [asyncio.ensure_future(cancel_mid_stream(n, tasks[n])) for n in mid_stream]
        await asyncio.gather(*tasks, return_exceptions=True)
        for canceller in cancellers:
            canceller.cancel()
    finally:
        server.keep_requests = True
    cancelled = {n for n, t in enumerate(tasks) if t.cancelled()}
    assert all(n % 3 == 0 for n in cancelled)
    whole = max(got.values())  # the events of a stream read to its end
    assert len([n for n in cancelled if 3 <= got.get(n, 0) < whole]) >= total // 4  # really mid-stream
    records = tel.traces()
    assert len(records) == total
    for record in records:
        n = int(json.loads(record.request_json)["messages"][0]["content"].split()[1])
        assert (record.run_id, record.step_id) == (f"run-{n}", f"step-{n}")
    chat_spans = [s for s in tel.spans() if s.attributes and s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(chat_spans) == total
    assert len({s.context.span_id for s in chat_spans if s.context}) == total
    by_run = {s.attributes["llmtel.run_id"]: s for s in chat_spans if s.attributes}
    for n in cancelled:
        attributes = by_run[f"run-{n}"].attributes or {}
        assert attributes.get("llmtel.cancelled") is True, dict(attributes)
    assert {r.span_id for r in records} == {f"{s.context.span_id:016x}" for s in chat_spans if s.context}
    assert not [r for r in caplog.records if "ended span" in r.getMessage() or "detach" in r.getMessage()]
