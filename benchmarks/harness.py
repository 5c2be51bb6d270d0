"""The benchmarks' shared harness: the loopback provider they call, each variant's instrumentation
(llmtel, the peers, none) set up the same way in a child process of its own, the calls per mode,
and running such a child and reading its result.

A child is this file run as ``harness.py [--calls N] [--warmup N] [--mode M ...] --child VARIANT
PROVIDER URL``: it instruments for VARIANT, times N calls per mode and prints one JSON line.

The official GenAI instrumentations (``otel-genai``: opentelemetry-instrumentation-genai-openai and
-genai-anthropic 1.3b0) need a newer opentelemetry-util-genai than openai-v2 2.4b0 imports, so
their child runs under LLMTEL_BENCH_GENAI_PYTHON, a venv made with
``python -m venv .venv-genai && .venv-genai/bin/pip install -e '.[bench-genai]'`` (default:
``.venv-genai/bin/python`` beside this checkout, when it exists).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import importlib
import json
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

VARIANTS = ("none", "llmtel", "otel-genai", "otel-openai-v2", "openllmetry", "openinference", "logfire")
PEERS = VARIANTS[2:]
MODES = ("sync", "async", "stream", "astream")
BIG = "big"  # a sync call with a 5 MB prompt; only when asked for (--mode big)
PROVIDERS = ("openai", "anthropic")
SHAPES = ("prompt5", "prompt30", "vision12", "messages50k")  # the large requests bench_span_bytes makes
# The peers' instrumentation module per provider (each exports OpenAIInstrumentor or AnthropicInstrumentor).
PEER_INSTRUMENTORS: dict[str, dict[str, str]] = {
    "otel-genai": {
        "openai": "opentelemetry.instrumentation.genai.openai",
        "anthropic": "opentelemetry.instrumentation.genai.anthropic",
    },
    "otel-openai-v2": {"openai": "opentelemetry.instrumentation.openai_v2"},
    "openllmetry": {
        "openai": "opentelemetry.instrumentation.openai",
        "anthropic": "opentelemetry.instrumentation.anthropic",
    },
    "openinference": {
        "openai": "openinference.instrumentation.openai",
        "anthropic": "openinference.instrumentation.anthropic",
    },
}
HANDLES: list[Any] = []  # llmtel's configure() handle, when the child runs llmtel
EXPORTED: list[str] = []  # span names the child exported: proves a variant really traced
SPAN_BYTES: list[int] = []  # OTLP-encoded size of each exported span, in --span-bytes runs
INSTRUCTION_CALLS = 400  # enough for the collector's generation-1 passes (every few hundred calls) to average out
BIG_PROMPT = "lorem ipsum dolor sit amet " * ((5 << 20) // 27)
_COLLECTOR = re.compile(r"^c?fn=(\(\d+\)) gc_collect_main$")  # callgrind names the collector
PAUSE_S = 1.5  # after each big call: about a writer's flush interval, as a real provider's latency gives
MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello in five words."}]


def serve() -> Any:
    from llmtel.loopback import ProviderServer, Received, Reply
    from llmtel.loopback import anthropic_replies as afx
    from llmtel.loopback import openai_replies as ofx

    def openai_reply(request: Received) -> Reply:
        if b'"stream":true' in request.body:
            return ofx.chat_stream("Hello", " there", ",", " how", " are", " you", "?")
        return ofx.chat("Hello there, how are you?")

    def anthropic_reply(request: Received) -> Reply:
        return afx.streaming_text() if b'"stream":true' in request.body else afx.plain()

    server = ProviderServer().__enter__()
    server.keep_requests = False
    server.always("/v1/chat/completions", openai_reply)
    server.always("/v1/messages", anthropic_reply)
    return server


def setup_variant(variant: str, provider: str) -> bool:
    """Instrument for ``variant``; False when that variant has no instrumentation for ``provider``."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            EXPORTED.extend(s.name for s in spans)
            if os.environ.get("BENCH_SPAN_BYTES"):
                from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

                for resource_spans in encode_spans(spans).resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        SPAN_BYTES.extend(span.ByteSize() for span in scope_spans.spans)
            return SpanExportResult.SUCCESS

    processor = BatchSpanProcessor(Discard(), max_queue_size=1 << 16)
    if variant == "logfire":  # it makes its own providers: same processor and exporter, nothing sent
        import logfire

        logfire.configure(
            send_to_logfire=False,
            console=False,
            additional_span_processors=[processor],
            metrics=logfire.MetricsOptions(additional_readers=[InMemoryMetricReader()]),
        )
        if provider == "openai":
            logfire.instrument_openai()
        else:
            logfire.instrument_anthropic()
        return True
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(processor)
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    if variant == "none":
        return True
    if variant == "llmtel":
        from llmtel.instrumentation import configure

        HANDLES.append(configure(instrument=(provider,)))
        return True
    module = PEER_INSTRUMENTORS.get(variant, {}).get(provider)
    if module is None:
        return False  # otel-openai-v2 has no Anthropic instrumentation
    instrumentor = {"openai": "OpenAIInstrumentor", "anthropic": "AnthropicInstrumentor"}[provider]
    getattr(importlib.import_module(module), instrumentor)().instrument()
    return True


def calls(provider: str, url: str) -> dict[str, Callable[[], Any]]:
    """One function per mode that makes one call and reads it to the end."""
    if provider == "openai":
        import openai

        client = openai.OpenAI(base_url=url + "/v1", api_key="sk-bench", max_retries=0)
        aclient = openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-bench", max_retries=0)
        kwargs: dict[str, Any] = {"model": "gpt-4o-mini", "messages": MESSAGES, "temperature": 0.2}

        def sync() -> Any:
            return client.chat.completions.create(**kwargs)

        def big() -> Any:
            return client.chat.completions.create(**{**kwargs, "messages": [{"role": "user", "content": BIG_PROMPT}]})

        async def async_() -> Any:
            return await aclient.chat.completions.create(**kwargs)

        def stream() -> Any:
            return list(client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}))

        async def astream() -> Any:
            s = await aclient.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True})
            return [c async for c in s]
    else:
        import anthropic

        aclient_a = anthropic.AsyncAnthropic(base_url=url, api_key="sk-bench", max_retries=0)
        client_a = anthropic.Anthropic(base_url=url, api_key="sk-bench", max_retries=0)
        akw: dict[str, Any] = {
            "model": "claude-haiku-4-5",
            "max_tokens": 256,
            "system": "You are terse.",
            "messages": MESSAGES[1:],
        }

        def sync() -> Any:
            return client_a.messages.create(**akw)

        def big() -> Any:
            return client_a.messages.create(**{**akw, "messages": [{"role": "user", "content": BIG_PROMPT}]})

        async def async_() -> Any:
            return await aclient_a.messages.create(**akw)

        def stream() -> Any:
            return list(client_a.messages.create(**akw, stream=True))

        async def astream() -> Any:
            return [e async for e in await aclient_a.messages.create(**akw, stream=True)]

    return {"sync": sync, "async": async_, "stream": stream, "astream": astream, BIG: big}


def big_messages(shape: str, provider: str) -> list[dict[str, Any]]:
    """The messages of one large request: ``prompt5``/``prompt30`` a user message of 5 or 30 MB
    of text (an agent's long context), ``vision12`` a 12 MB base64 image and a question,
    ``messages50k`` a conversation of 50,000 short turns."""
    if shape.startswith("prompt"):
        size = int(shape.removeprefix("prompt")) << 20
        return [{"role": "user", "content": "lorem ipsum dolor sit amet " * (size // 27)}]
    if shape == "vision12":
        image = base64.b64encode(random.Random(0).randbytes(9 << 20)).decode()  # 12 MB as base64
        if provider == "openai":
            part = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + image}}
        else:
            part = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": image}}
        return [{"role": "user", "content": [{"type": "text", "text": "What is in this image?"}, part]}]
    if shape == "messages50k":
        roles = ("user", "assistant")
        return [{"role": roles[i % 2], "content": f"turn {i}: a short message"} for i in range(50_000)]
    raise ValueError(f"unknown shape {shape!r}")


def big_prompt_calls(provider: str, url: str, n: int, shape: str = "prompt5") -> None:
    """Calls with one large request (see ``big_messages``), one warm-up and ``n`` timed, each
    followed by a pause (a real provider's latency); prints the largest exported span, each
    call's wall time and calling thread's CPU, and the peak resident memory growth over the
    process's size after the warm-up (llmtel's first write stored)."""
    from opentelemetry import trace

    messages = big_messages(shape, provider)
    if provider == "openai":
        import openai

        client = openai.OpenAI(base_url=url + "/v1", api_key="sk-bench")

        def call() -> Any:
            return client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    else:
        import anthropic

        aclient = anthropic.Anthropic(base_url=url, api_key="sk-bench")

        def call() -> Any:
            return aclient.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=messages)

    call()
    time.sleep(PAUSE_S)
    for handle in HANDLES:  # the store's first write starts its owner process: not part of a call
        handle.flush(120)
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current size
    before = _status_bytes("VmRSS")
    wall: list[float] = []
    thread_cpu: list[float] = []
    for _ in range(n):
        started, started_cpu = time.perf_counter(), time.thread_time()
        call()
        thread_cpu.append((time.thread_time() - started_cpu) * 1e6)
        wall.append((time.perf_counter() - started) * 1e6)
        time.sleep(PAUSE_S)
    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    growth = _status_bytes("VmHWM") - before
    print(
        json.dumps(
            {
                "largest_span_bytes": max(SPAN_BYTES, default=0),
                "spans": len(SPAN_BYTES),
                "wall": wall,
                "thread_cpu": thread_cpu,
                "peak_rss_growth": growth,
            }
        )
    )


def _status_bytes(field: str) -> int:
    """A size from /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def child(variant: str, provider: str, url: str, n: int, modes: Sequence[str], warmup: int) -> None:
    if not setup_variant(variant, provider):
        print(json.dumps(None))
        return
    from opentelemetry import trace

    if os.environ.get("BENCH_SPAN_BYTES"):
        big_prompt_calls(provider, url, n, os.environ.get("BENCH_SHAPE", "prompt5"))
        os._exit(0)

    fns = calls(provider, url)
    loop = asyncio.new_event_loop()
    start_cpu = time.process_time()  # after set-up: start-up CPU counts the first calls and writes
    out: dict[str, Any] = {}
    for mode in modes:
        fn = fns[mode]
        run = (lambda f=fn: loop.run_until_complete(f())) if mode.startswith("a") else fn
        for _ in range(warmup):  # warm up connections and caches
            run()
        # llmtel's writer stores what the warm-up made: its first write imports clickhouse-connect
        # (and pandas/numpy with it) and connects, once per process; that start-up is reported
        # on its own ("start-up CPU"), not spread over the calls measured.
        for handle in HANDLES:
            handle.flush(120)
        if mode == modes[0]:
            out["startup_cpu_ms"] = (time.process_time() - start_cpu) * 1e3
        wall: list[float] = []
        cpu: list[float] = []

        def measured(run: Callable[[], Any] = run, wall: list[float] = wall, cpu: list[float] = cpu) -> None:
            for _ in range(n):
                started, started_cpu = time.perf_counter(), time.process_time()
                run()
                cpu.append((time.process_time() - started_cpu) * 1e6)  # every thread's: writers, GC
                wall.append((time.perf_counter() - started) * 1e6)

        gc.collect()  # every variant starts the loop with empty young generations and no full pass due
        sys.call_tracing(measured, ())  # the frame --instructions counts in (callgrind --toggle-collect)
        out[mode] = {"wall": wall, "cpu": cpu}
    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    out["spans"] = len(EXPORTED)
    print(json.dumps(out))
    os._exit(0)  # skip exit-time flushing: it is not part of the request path


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_env(store: str) -> dict[str, str]:
    """The children's environment: content capture on for every variant, llmtel's store in ``store``."""
    return {
        **os.environ,
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",  # the spec's value; v2 ignores "true"
        "TRACELOOP_TRACE_CONTENT": "true",
        "ANTHROPIC_OPEN_TELEMETRY": "false",  # the SDK's own spans would make "none" no baseline
        "LLMTEL_CLICKHOUSE_URL": os.environ.get("LLMTEL_CLICKHOUSE_URL", f"chdb://{store}/chdb"),
        "LLMTEL_SPOOL_DIR": f"{store}/spool",
    }


def run_child(
    variant: str, provider: str, url: str, env: dict[str, str], cwd: str, options: list[str], script: str = __file__
) -> dict[str, Any] | None:
    """One child process of ``script`` (this harness, unless a benchmark has a child of its own) for
    (variant, provider); its JSON result, or None (no such instrumentation, or it failed: then its
    stderr is shown)."""
    proc = subprocess.run(
        [interpreter(variant), script, *options, "--child", variant, provider, url],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=1800,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(("{", "null"))]
    if proc.returncode != 0 or not lines:
        print(f"{variant}/{provider} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    result: dict[str, Any] | None = json.loads(lines[-1])
    return result


def interpreter(variant: str) -> str:
    """The Python a variant's child runs under (see the module's docstring for otel-genai's)."""
    if variant != "otel-genai":
        return sys.executable
    own = Path(__file__).resolve().parent.parent / ".venv-genai" / "bin" / "python"
    return os.environ.get("LLMTEL_BENCH_GENAI_PYTHON") or (str(own) if own.exists() else sys.executable)


def store_process_cpu(store: str) -> float:
    """CPU seconds the embedded store's owner process (``<store>/chdb``) has used so far; 0 when
    none runs. It is not the app's process, so the children's clocks do not see it."""
    try:
        pid = json.loads(Path(f"{store}/chdb.server.json").read_text())["pid"]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, KeyError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def child_main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, help="calls before measuring (default: calls / 5, at least 20)")
    parser.add_argument("--mode", choices=(*MODES, BIG), action="append", help="only these modes")
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "PROVIDER", "URL"), required=True)
    args = parser.parse_args()
    child(*args.child, args.calls, args.mode or MODES, args.warmup or max(20, args.calls // 5))


if __name__ == "__main__":
    child_main()
