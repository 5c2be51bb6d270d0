"""CPU instructions per call on the calling thread, under valgrind's callgrind, llmtel against
the uninstrumented SDK and the peers:

    python benchmarks/bench_instructions.py [--provider openai] [--mode sync]
    python benchmarks/bench_instructions.py --mode big    # a 5 MB prompt: what the request path pays

Only the measured loop counts (400 calls per variant and mode after a ``gc.collect()``, one
valgrind per core), with and without the garbage collections that thread ran: within a few
percent from run to run where this machine's timings move by a third.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import harness
from harness import BIG, MODES, PEERS, PROVIDERS, VARIANTS, bench_env, serve

INSTRUCTION_CALLS = 400  # enough for the collector's generation-1 passes (every few hundred calls) to average out
BIG_CALLS = 4  # 5 MB prompts: each takes seconds under callgrind, and few objects, so few collections
_COLLECTOR = re.compile(r"^c?fn=(\(\d+\)) gc_collect_main$")  # callgrind names the collector


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
        warmup = "2" if mode == BIG else "20"
        options = ["--calls", str(n), "--warmup", warmup, "--mode", mode, "--child", variant, provider, url]
        subprocess.run(
            [*command, harness.interpreter(variant), harness.__file__, *options],
            capture_output=True,
            env=env,
            cwd=cwd,
            check=True,
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
    n = BIG_CALLS if mode == BIG else INSTRUCTION_CALLS
    run = partial(thread_instructions, provider=provider, mode=mode, url=url, env=env, cwd=cwd, n=n)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--provider", choices=PROVIDERS, action="append", help="only these providers")
    parser.add_argument(
        "--mode", choices=(*MODES, BIG), action="append", help=f"only these modes ({BIG}: a 5 MB prompt, sync)"
    )
    args = parser.parse_args()
    server = serve()
    store = tempfile.mkdtemp(prefix="llmtel-bench-")
    env = bench_env(store)
    # Under callgrind a call runs ~200x slower, so the store writer's 1 s flush would come every
    # few calls instead of every few hundred; 100 s keeps its real-time cadence per call.
    env.setdefault("LLMTEL_FLUSH_INTERVAL", "100")
    instructions(server.url, env, store, args.provider or PROVIDERS, args.mode or MODES)
    server.close()


if __name__ == "__main__":
    main()
