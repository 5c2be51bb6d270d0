"""A small instrumented app run as a separate process by the store tests (fork, SIGTERM,
kill -9, a store locked by another process). Configured entirely from the environment.

usage: app.py emit N | calls SECONDS | serve N | kill-mid-batch N M | fork N [lazy] | mp N | leave-open N
       | load SECONDS THREADS | prompts N BYTES | hold
"""

from __future__ import annotations

import os
import sys
import time

from opentelemetry import trace

from llmtel.instrumentation import configure, llm_context, processor
from llmtel.instrumentation.records import LLMCall


def emit(count: int, run_id: str) -> None:
    """``count`` LLM calls as the provider instrumentations report them: a finished call, with
    its span's ids and times, submitted to the processors."""
    tracer = trace.get_tracer("store-test-app")
    with llm_context(agent_id="agent-1", run_id=run_id):
        for i in range(count):
            with tracer.start_as_current_span("llm call") as span:
                ids = span.get_span_context()
                call = LLMCall(
                    provider="openai",
                    operation="chat",
                    request_model="m",
                    request=f'{{"i":{i},"pad":"{"x" * 2000}"}}'.encode(),
                    response=b'{"ok":true}',
                    trace_id=ids.trace_id,
                    span_id=ids.span_id,
                    start_ns=time.time_ns(),
                    end_ns=time.time_ns(),
                )
                processor.submit(call)


def pool_work(i: int) -> int:
    emit(1, "pool-child")
    return os.getpid()


def load(seconds: float, threads: int) -> dict[str, float]:
    """Real OpenAI calls (loopback provider at PROVIDER_URL) from many threads for ``seconds``."""
    import json
    import resource
    import threading

    import openai

    client = openai.OpenAI(base_url=os.environ["PROVIDER_URL"] + "/v1", api_key="sk-load", max_retries=0)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        start = time.perf_counter()
        try:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        except Exception as exc:
            with lock:
                errors.append(repr(exc))
        with lock:
            latencies.append(time.perf_counter() - start)

    with llm_context(run_id="load"):
        for _ in range(50):
            call()  # warm up before taking the baseline
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        deadline = time.monotonic() + seconds

        def worker() -> None:
            with llm_context(run_id="load"):  # a new thread starts with an empty context
                while time.monotonic() < deadline:
                    call()

        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    latencies.sort()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = {
        "calls": len(latencies),
        "exceptions": len(errors),
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "rss_baseline_mb": baseline,
        "rss_growth_mb": peak - baseline,
    }
    print(json.dumps(summary), flush=True)
    return summary


def calls(seconds: float) -> int:
    """Real OpenAI calls (loopback provider at PROVIDER_URL), one after another for ``seconds``,
    under the agent AGENT_ID; returns how many the app made."""
    import openai

    client = openai.OpenAI(base_url=os.environ["PROVIDER_URL"] + "/v1", api_key="sk-calls", max_retries=0)
    made = 0
    deadline = time.monotonic() + seconds
    with llm_context(agent_id=os.environ["AGENT_ID"], run_id=f"pid-{os.getpid()}"):
        while time.monotonic() < deadline:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": f"call {made}"}])
            made += 1
            time.sleep(0.01)
    return made


def prompts(count: int, size: int) -> dict[str, float]:
    """``count`` real OpenAI calls with ``size``-byte prompts, one after another, under whatever
    sampler the environment sets; RSS measured after 100 warm-up calls and at the end."""
    import gc
    import json
    import resource

    import openai

    client = openai.OpenAI(base_url=os.environ["PROVIDER_URL"] + "/v1", api_key="sk-load", max_retries=0)

    def rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / (1 << 20)

    with llm_context(run_id="warm-up"):
        for i in range(100):
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": f"{i} " + "w" * size}])
    gc.collect()
    baseline = rss_mb()
    with llm_context(run_id="prompts"):
        for i in range(count):
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": f"{i} " + "p" * size}])
    gc.collect()
    summary = {"calls": count, "rss_baseline_mb": baseline, "rss_growth_mb": rss_mb() - baseline}
    print(json.dumps(summary), flush=True)
    return summary


def main() -> None:
    mode = sys.argv[1]
    if mode == "hold":  # keep the embedded store open, as another app using chdb would
        from chdb import session

        held = session.Session(os.environ["STORE_PATH"])
        held.query("SELECT 1")
        print("holding", flush=True)
        time.sleep(float(os.environ.get("HOLD_SECONDS", "60")))
        return
    handle = configure()
    count = int(float(sys.argv[2]))
    if mode == "emit":
        emit(count, os.environ.get("RUN_ID", "run"))
        handle.shutdown()
    elif mode == "prompts":
        prompts(count, int(sys.argv[3]))
        handle.shutdown()
    elif mode == "serve":  # emit, write, then wait to be signalled
        emit(count, "before-signal")
        print("ready", flush=True)
        time.sleep(120)
    elif mode == "kill-mid-batch":
        emit(count, "flushed")
        handle.tracer_provider.force_flush() if handle.tracer_provider else None
        assert handle.sink is not None and handle.sink.flush(30)
        emit(int(sys.argv[3]), "in-flight")
        handle.sink.flush(0.05)  # wake the writer: the batch is being inserted when we are killed
        print("ready", flush=True)
        time.sleep(120)
    elif mode == "fork":
        lazy = sys.argv[3:] == ["lazy"]  # the pre-fork server pattern: the parent writes nothing first
        if not lazy:
            emit(1, "parent-before")
            assert handle.sink is not None and handle.sink.flush(30)
        pid = os.fork()
        if pid == 0:
            emit(count, "child")
            sys.exit(0)  # atexit flushes the child's own writer
        _, status = os.waitpid(pid, 0)
        emit(1, "parent-after")
        print("child exit", os.waitstatus_to_exitcode(status), flush=True)
        handle.shutdown()
    elif mode == "mp":  # a multiprocessing pool with the fork start method
        import multiprocessing

        emit(1, "parent")
        assert handle.sink is not None and handle.sink.flush(30)
        pool = multiprocessing.get_context("fork").Pool(3)
        pids = set(pool.map(pool_work, range(count)))
        pool.close()
        pool.join()  # workers exit through multiprocessing's finalizers, not atexit
        print("children", len(pids), flush=True)
        handle.shutdown()
    elif mode == "leave-open":  # exit with a reader and the writer still open, as scripts do
        from llmtel.exporters.clickhouse.reader import TraceReader

        emit(count, "left-open")
        assert handle.sink is not None and handle.sink.flush(30)
        reader = TraceReader(os.environ["LLMTEL_CLICKHOUSE_URL"])
        print("read", reader.count(), flush=True)
        emit(count, "at-exit")  # still queued when the interpreter exits
    elif mode == "calls":
        import json

        made = calls(float(sys.argv[2]))
        handle.shutdown()
        print(json.dumps({os.environ["AGENT_ID"]: made}), flush=True)
    elif mode == "load":
        load(float(sys.argv[2]), int(sys.argv[3]))
        handle.shutdown()


if __name__ == "__main__":
    main()
