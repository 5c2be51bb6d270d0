"""Added time per LLM call: llmtel against the uninstrumented SDK and the peer instrumentations.

One run, one command:

    python benchmarks/bench_providers.py [--rounds 5] [--calls 300]
    python benchmarks/bench_providers.py --span-bytes   # largest exported span for a 5 MB prompt
    python benchmarks/bench_providers.py --instructions [--provider openai] [--mode sync]

``--instructions`` counts CPU instructions on the calling thread under valgrind's callgrind,
only in the measured loop (400 calls per variant and mode after a ``gc.collect()``, one
valgrind per core), with and without the garbage collections that thread ran: within a few
percent from run to run where this machine's timings move by a third.

The parent process serves the OpenAI and Anthropic wire formats on loopback (the same
server the tests use); each (variant, round) runs in a fresh child process so that only
one instrumentation patches the SDKs at a time. Rounds interleave the variants so they
share the machine's noise. Every child uses the same OTel SDK setup (BatchSpanProcessor
with a discarding exporter, an SDK MeterProvider) and content capture on. llmtel runs
with provider traces on, written by its store writer.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = ("none", "llmtel", "otel-openai-v2", "openllmetry", "openinference")
PEERS = VARIANTS[2:]
MODES = ("sync", "async", "stream", "astream")
PROVIDERS = ("openai", "anthropic")
EXPORTED: list[str] = []  # span names the child exported: proves a variant really traced
SPAN_BYTES: list[int] = []  # OTLP-encoded size of each exported span, in --span-bytes runs
INSTRUCTION_CALLS = 400  # enough for the collector's generation-1 passes (every few hundred calls) to average out
BIG_PROMPT = "lorem ipsum dolor sit amet " * ((5 << 20) // 27)
_COLLECTOR = re.compile(r"^c?fn=(\(\d+\)) gc_collect_main$")  # callgrind names the collector
MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello in five words."}]


def serve() -> Any:
    from tests.providers import ProviderServer, Received, Reply
    from tests.providers import anthropic_fixtures as afx
    from tests.providers import openai_fixtures as ofx

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

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Discard(), max_queue_size=1 << 16))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    if variant == "none":
        return True
    if variant == "llmtel":
        from llmtel.instrumentation import configure

        configure(instrument=(provider,))
        return True
    if variant == "otel-openai-v2":
        if provider != "openai":
            return False
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
        return True
    if variant == "openllmetry":
        if provider == "openai":
            from opentelemetry.instrumentation.openai import OpenAIInstrumentor as TLOpenAI

            TLOpenAI().instrument()
        else:
            from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor as TLAnthropic

            TLAnthropic().instrument()
        return True
    if provider == "openai":
        from openinference.instrumentation.openai import OpenAIInstrumentor as OIOpenAI

        OIOpenAI().instrument()
    else:
        from openinference.instrumentation.anthropic import AnthropicInstrumentor as OIAnthropic

        OIAnthropic().instrument()
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

        async def async_() -> Any:
            return await aclient_a.messages.create(**akw)

        def stream() -> Any:
            return list(client_a.messages.create(**akw, stream=True))

        async def astream() -> Any:
            return [e async for e in await aclient_a.messages.create(**akw, stream=True)]

    return {"sync": sync, "async": async_, "stream": stream, "astream": astream}


def big_prompt_call(provider: str, url: str) -> None:
    """One call whose user message is 5 MB, as an agent with a long context makes."""
    messages = [{"role": "user", "content": BIG_PROMPT}]
    if provider == "openai":
        import openai

        openai.OpenAI(base_url=url + "/v1", api_key="sk-bench").chat.completions.create(
            model="gpt-4o-mini", messages=messages
        )
    else:
        import anthropic

        anthropic.Anthropic(base_url=url, api_key="sk-bench").messages.create(
            model="claude-haiku-4-5", max_tokens=64, messages=messages
        )


def child(variant: str, provider: str, url: str, n: int, modes: Sequence[str], warmup: int) -> None:
    if not setup_variant(variant, provider):
        print(json.dumps(None))
        return
    from opentelemetry import trace

    if os.environ.get("BENCH_SPAN_BYTES"):
        big_prompt_call(provider, url)
        trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
        print(json.dumps({"largest_span_bytes": max(SPAN_BYTES, default=0), "spans": len(SPAN_BYTES)}))
        os._exit(0)

    fns = calls(provider, url)
    loop = asyncio.new_event_loop()
    out: dict[str, Any] = {}
    for mode in modes:
        fn = fns[mode]
        run = (lambda f=fn: loop.run_until_complete(f())) if mode.startswith("a") else fn
        for _ in range(warmup):  # warm up connections and caches
            run()
        wall: list[float] = []
        cpu: list[float] = []

        def measured(run: Callable[[], Any] = run, wall: list[float] = wall, cpu: list[float] = cpu) -> None:
            for _ in range(n):
                started, started_cpu = time.perf_counter(), time.thread_time()
                run()
                cpu.append((time.thread_time() - started_cpu) * 1e6)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "PROVIDER", "URL"))
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--span-bytes", action="store_true", help="only measure spans for a 5 MB prompt")
    parser.add_argument("--instructions", action="store_true", help="count instructions per call (callgrind)")
    parser.add_argument("--provider", choices=PROVIDERS, action="append", help="only these providers")
    parser.add_argument("--mode", choices=MODES, action="append", help="only these modes")
    parser.add_argument("--warmup", type=int, help="calls before measuring (default: calls / 5, at least 20)")
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.calls, args.mode or MODES, args.warmup or max(20, args.calls // 5))
        return
    server = serve()
    store = tempfile.mkdtemp(prefix="llmtel-bench-")
    env = bench_env(store)
    if args.span_bytes:
        span_bytes(server.url, {**env, "BENCH_SPAN_BYTES": "1"}, store)
        server.close()
        return
    if args.instructions:
        # Under callgrind a call runs ~200x slower, so the store writer's 1 s flush would come every
        # few calls instead of every few hundred; 100 s keeps its real-time cadence per call.
        env.setdefault("LLMTEL_FLUSH_INTERVAL", "100")
        instructions(server.url, env, store, args.provider or PROVIDERS, args.mode or MODES)
        server.close()
        return
    samples: dict[tuple[str, str, str, str], list[float]] = {}
    spans: dict[tuple[str, str], int] = {}
    for round_no in range(args.rounds):
        for provider in PROVIDERS:
            for variant in VARIANTS:
                result = run_child(variant, provider, server.url, env, store, ["--calls", str(args.calls)])
                if result is None:
                    continue
                spans[(provider, variant)] = spans.get((provider, variant), 0) + result.pop("spans")
                for mode, times in result.items():
                    for clock in ("wall", "cpu"):
                        samples.setdefault((provider, mode, variant, clock), []).extend(times[clock])
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    server.close()
    for (provider, variant), count in sorted(spans.items()):
        print(f"spans exported: {provider:9} {variant:15} {count}", file=sys.stderr)
    report(samples, args.json)


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
    """One child process of ``script`` for (variant, provider); its JSON result, or None (no
    such instrumentation, or it failed: then its stderr is shown)."""
    proc = subprocess.run(
        [sys.executable, script, *options, "--child", variant, provider, url],
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


def thread_instructions(
    variant: str, provider: str, mode: str, url: str, env: dict[str, str], cwd: str, n: int
) -> tuple[float, float]:
    """Instructions per call the calling thread ran in the measured loop, and how many of them
    were the garbage collector's (``gc_collect_main``, callees included). Callgrind counts only
    inside ``sys.call_tracing``, so start-up and warm-up, whose cost varies, are left out."""
    with tempfile.TemporaryDirectory(prefix="llmtel-cg-") as out:  # a profile per thread, read then removed
        command = [
            "valgrind",
            "--tool=callgrind",
            "--separate-threads=yes",
            "--collect-atstart=no",
            "--toggle-collect=sys_call_tracing",
            f"--callgrind-out-file={out}/cg.%p",
        ]
        options = ["--calls", str(n), "--warmup", "20", "--mode", mode, "--child", variant, provider, url]
        subprocess.run(
            [*command, sys.executable, __file__, *options], capture_output=True, env=env, cwd=cwd, check=True
        )
        (main_thread,) = Path(out).glob("cg.*-01")
        lines = main_thread.read_text().splitlines()
    total = next((int(line.split()[1]) for line in lines if line.startswith(("summary:", "totals:"))), None)
    if total is None:
        raise RuntimeError(f"no instruction total in {main_thread}")
    return total / n, collector_instructions(lines) / n


def collector_instructions(lines: list[str]) -> int:
    """Inclusive instructions of every call to ``gc_collect_main`` in a callgrind profile. The
    format names a function once, ``cfn=(id) name``, then only ``cfn=(id)``; a call is that line,
    a ``calls=`` line, and a line whose second number is the call's inclusive cost."""
    ids = {m.group(1) for line in lines if (m := _COLLECTOR.match(line))}
    total = 0
    for i, line in enumerate(lines):
        if line.startswith("cfn=(") and line[4:].split(" ", 1)[0] in ids:
            total += int(lines[i + 2].split()[1])
    return total


def instructions(url: str, env: dict[str, str], cwd: str, providers: Sequence[str], modes: Sequence[str]) -> None:
    """Instructions per call on the calling thread, added over the uninstrumented SDK; with and
    without the collections the calling thread happened to run (any thread can trip one)."""
    print(
        f"{'provider':9} {'mode':8} {'variant':15} {'instr/call':>11} {'added':>10} {'vs best peer':>12} "
        f"{'collector':>10} {'added w/o':>10} {'w/o vs best':>11}"
    )
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # one valgrind per core; counts are per thread
        for provider in providers:
            for mode in modes:
                _instruction_table(pool, provider, mode, url, env, cwd)


def _instruction_table(
    pool: ThreadPoolExecutor, provider: str, mode: str, url: str, env: dict[str, str], cwd: str
) -> None:
    variants = [v for v in VARIANTS if v != "otel-openai-v2" or provider == "openai"]  # v2: OpenAI only
    run = partial(thread_instructions, provider=provider, mode=mode, url=url, env=env, cwd=cwd, n=INSTRUCTION_CALLS)
    runs = {v: pool.submit(run, v) for v in variants}
    per_call = {v: runs[v].result() for v in variants}
    added = {v: c - per_call["none"][0] for v, (c, _) in per_call.items()}
    added_without = {v: (c - gc) - (per_call["none"][0] - per_call["none"][1]) for v, (c, gc) in per_call.items()}
    best_peer = min(added[v] for v in PEERS if v in added)
    best_without = min(added_without[v] for v in PEERS if v in added_without)
    for variant, (count, collector) in per_call.items():
        ratio = "" if variant == "none" else f"{added[variant] / best_peer:.2f}x"
        ratio_without = "" if variant == "none" else f"{added_without[variant] / best_without:.2f}x"
        print(
            f"{provider:9} {mode:8} {variant:15} {count:11,.0f} {added[variant]:10,.0f} {ratio:>12} "
            f"{collector:10,.0f} {added_without[variant]:10,.0f} {ratio_without:>11}",
            flush=True,
        )


def span_bytes(url: str, env: dict[str, str], cwd: str) -> None:
    """The largest OTLP-encoded span each variant exports for one call with a 5 MB prompt
    (content capture on): what a collector's 4 MiB gRPC limit sees."""
    print(f"{'provider':9} {'variant':15} {'largest span':>14} {'spans':>6}")
    for provider in PROVIDERS:
        for variant in VARIANTS[1:]:
            result = run_child(variant, provider, url, env, cwd, [])
            if result is not None:
                print(f"{provider:9} {variant:15} {result['largest_span_bytes']:>14,} {result['spans']:>6}")


def report(samples: dict[tuple[str, str, str, str], list[float]], json_path: str | None) -> None:
    """Added time = the variant's median minus the uninstrumented median, per mode. ``cpu`` is
    the calling thread's CPU time (what instrumentation adds to the request path, free of the
    loopback server's latency noise); ``wall`` is the elapsed time the app sees."""
    rows = []
    header = (
        f"{'provider':9} {'mode':8} {'variant':15} {'wall med':>9} {'wall p99':>9} {'cpu med':>8} "
        f"{'added cpu':>9} {'added wall':>10} {'vs best peer':>12}"
    )
    print(header)
    print("-" * len(header))
    for provider in PROVIDERS:
        for mode in MODES:
            if (provider, mode, "none", "cpu") not in samples:
                continue
            base = {c: statistics.median(samples[(provider, mode, "none", c)]) for c in ("wall", "cpu")}
            present = [v for v in VARIANTS if (provider, mode, v, "cpu") in samples]
            added = {
                v: {c: statistics.median(samples[(provider, mode, v, c)]) - base[c] for c in ("wall", "cpu")}
                for v in present
            }
            peers = [added[v]["cpu"] for v in PEERS if v in added]
            best_peer = min(peers) if peers else None
            for variant in present:
                wall = samples[(provider, mode, variant, "wall")]
                cpu = samples[(provider, mode, variant, "cpu")]
                ratio = "" if variant == "none" or not best_peer else f"{added[variant]['cpu'] / best_peer:.2f}x"
                print(
                    f"{provider:9} {mode:8} {variant:15} {statistics.median(wall):9.0f} {pct(wall, 0.99):9.0f} "
                    f"{statistics.median(cpu):8.0f} {added[variant]['cpu']:9.0f} {added[variant]['wall']:10.0f} "
                    f"{ratio:>12}"
                )
                rows.append(
                    {
                        "provider": provider,
                        "mode": mode,
                        "variant": variant,
                        "wall_median_us": statistics.median(wall),
                        "wall_p99_us": pct(wall, 0.99),
                        "cpu_median_us": statistics.median(cpu),
                        "added_cpu_us": added[variant]["cpu"],
                        "added_wall_us": added[variant]["wall"],
                        "n": len(cpu),
                    }
                )
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
