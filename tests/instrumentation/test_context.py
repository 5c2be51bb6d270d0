"""llm_context: nesting, propagation across await and threads, and ids on every span."""

from __future__ import annotations

import asyncio
import contextvars
import random
import threading
from concurrent.futures import ThreadPoolExecutor

from opentelemetry import trace

from llmtel.instrumentation import llm_context, trace_method
from llmtel.instrumentation.context import current
from tests.support.telemetry import Telemetry


def test_nesting_overrides_ids_and_merges_tags() -> None:
    with llm_context(agent_id="a1", run_id="r1", org_id="o", tags=["x"], team="core"):
        with llm_context(step_id="s1", agent_id="a2", tags=["y", "x"]) as inner:
            assert inner.agent_id == "a2"
            assert inner.run_id == "r1"
            assert inner.step_id == "s1"
            assert inner.tags == ("x", "y")
            assert inner.extra == {"team": "core"}
            assert inner.attributes["llmtel.extra.team"] == "core"
        assert current() is not None and current().agent_id == "a1"  # type: ignore[union-attr]
    assert current() is None


def test_spans_carry_context_from_their_start(tel: Telemetry) -> None:
    @trace_method
    def step() -> None:
        return None

    with llm_context(agent_id="agent-7", run_id="run-1", tags=["prod"]):
        step()
    span = tel.span("test_spans_carry_context_from_their_start.<locals>.step")
    assert span.attributes["llmtel.agent_id"] == "agent-7"
    assert span.attributes["llmtel.tags"] == ("prod",)
    # the sampler saw them: they were there when the span started
    seen = tel.sampler.seen["test_spans_carry_context_from_their_start.<locals>.step"]
    assert seen["llmtel.run_id"] == "run-1"


def test_spans_started_by_other_code_are_stamped(tel: Telemetry) -> None:
    tracer = trace.get_tracer("someone-else")
    with llm_context(user_id="u1"), tracer.start_as_current_span("foreign"):
        pass
    assert tel.span("foreign").attributes["llmtel.user_id"] == "u1"


async def test_flows_across_await_and_decorates_coroutines(tel: Telemetry) -> None:
    @llm_context(step_id="async-step")
    async def job() -> str | None:
        await asyncio.sleep(0)
        ctx = current()
        return ctx.step_id if ctx else None

    with llm_context(run_id="r"):
        assert await job() == "async-step"
        assert current().step_id is None  # type: ignore[union-attr]


def test_decorates_generators_without_leaking() -> None:
    @llm_context(agent_id="gen")
    def items():  # type: ignore[no-untyped-def]
        for _ in range(2):
            yield current().agent_id  # type: ignore[union-attr]

    gen = items()
    assert next(gen) == "gen"
    assert current() is None
    assert next(gen) == "gen"


async def test_decorates_async_generators_without_leaking() -> None:
    @llm_context(agent_id="agen")
    async def items():  # type: ignore[no-untyped-def]
        for _ in range(2):
            await asyncio.sleep(0)
            yield current().agent_id  # type: ignore[union-attr]

    got = []
    async for value in items():
        got.append(value)
        assert current() is None
    assert got == ["agen", "agen"]


def test_copy_context_threads() -> None:
    with llm_context(agent_id="parent"):
        ctx = contextvars.copy_context()
    result: list[str | None] = []
    thread = threading.Thread(target=lambda: ctx.run(lambda: result.append(current().agent_id)))  # type: ignore[union-attr]
    thread.start()
    thread.join()
    assert result == ["parent"]


@trace_method
async def tagged_call(n: int) -> int:
    await asyncio.sleep(random.random() / 1000)
    inner_ctx = current()
    assert inner_ctx is not None and inner_ctx.run_id == f"run-{n}"
    return n


async def test_thousand_concurrent_tasks_never_mix_ids(tel: Telemetry) -> None:
    async def one(n: int) -> int:
        with llm_context(run_id=f"run-{n}", agent_id=f"agent-{n % 7}"):
            await asyncio.sleep(random.random() / 1000)
            return await tagged_call(n)

    results = await asyncio.gather(*(one(n) for n in range(1000)))
    assert results == list(range(1000))
    spans = tel.spans()
    assert len(spans) == 1000
    for span in spans:
        n = int(span.attributes["parameter.n"])
        assert span.attributes["llmtel.run_id"] == f"run-{n}"
        assert span.attributes["llmtel.agent_id"] == f"agent-{n % 7}"


def test_sixteen_threads_never_mix_ids(tel: Telemetry) -> None:
    @trace_method
    def work(n: int) -> int:
        return n

    def thread_body(t: int) -> None:
        for i in range(50):
            with llm_context(user_id=f"user-{t}", step_id=f"{t}-{i}"):
                work(t * 1000 + i)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(thread_body, range(16)))
    spans = tel.spans()
    assert len(spans) == 800
    for span in spans:
        n = int(span.attributes["parameter.n"])
        t, i = divmod(n, 1000)
        assert span.attributes["llmtel.user_id"] == f"user-{t}"
        assert span.attributes["llmtel.step_id"] == f"{t}-{i}"


def test_oversized_ids_are_capped_with_a_marker() -> None:
    with llm_context(agent_id="a" * 1000, tags=[f"t{i}" for i in range(100)]) as ctx:
        assert ctx.agent_id is not None and ctx.agent_id.endswith("…[llmtel: +744 chars]")
        assert len(ctx.tags) == 64
