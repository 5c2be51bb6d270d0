"""The slowest calls: wall time per call at p99, p99.9 and max, and the full garbage
collections behind them, per variant, with llmtel's store writer flushing as it does in an app:

    python benchmarks/bench_tail_latency.py [--calls 3000] [--provider openai] [--freeze]
    python benchmarks/bench_tail_latency.py --promotions   # objects promoted to generation 2 per call

Sync calls to the loopback provider server after ``--warmup-seconds`` of calls (the embedded
store loads ClickHouse into the process on its first write; that start-up is left out). A
collection runs on whichever thread trips it, usually the app's, so each one's duration is
timed with ``gc.callbacks``. ``--freeze`` calls ``gc.freeze()`` after the warm-up, as an app can
once its imports are done. Same setup as bench_providers.py; the store's flush interval is the
default 1 s.

``--promotions`` counts instead what sets those collections off: the objects each call leaves
that survive into the oldest generation (a full collection runs once they exceed a quarter
of what is already there). It lists generation 2 around every generation-1 collection, which
is slow, so it times nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import tempfile
import time
from typing import Any

import harness as bp


def promotions(call: Any, n: int) -> None:
    """Objects promoted into generation 2 per call, over ``n`` calls after a frozen warm-up."""
    gc.collect()
    gc.freeze()  # what start-up left is out of the count
    promoted = [0]
    before: list[int] = [0]

    def count(phase: str, info: dict[str, Any]) -> None:
        if info["generation"] == 1:
            size = len(gc.get_objects(generation=2))
            if phase == "start":
                before[0] = size
            else:
                promoted[0] += size - before[0]

    gc.callbacks.append(count)
    for _ in range(n):
        call()
    gc.callbacks.remove(count)
    print(json.dumps({"promoted_per_call": promoted[0] / n}))
    os._exit(0)


def child(variant: str, provider: str, url: str, n: int, warmup_seconds: float, freeze: bool, promote: bool) -> None:
    if not bp.setup_variant(variant, provider):
        print(json.dumps(None))
        return
    call = bp.calls(provider, url)["sync"]
    started = time.perf_counter()
    while time.perf_counter() - started < warmup_seconds:
        call()
    if promote:
        promotions(call, n)
    if freeze:
        gc.freeze()
    full: list[float] = []
    began = [0.0]  # collections never overlap: they run one at a time, under the GIL

    def timed(phase: str, info: dict[str, Any]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                began[0] = time.perf_counter()
            else:
                full.append((time.perf_counter() - began[0]) * 1e3)

    gc.callbacks.append(timed)
    wall = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        wall.append((time.perf_counter() - t) * 1e3)
    gc.callbacks.remove(timed)
    wall.sort()
    print(
        json.dumps(
            {
                "median": statistics.median(wall),
                "p99": wall[int(n * 0.99)],
                "p999": wall[int(n * 0.999)],
                "max": wall[-1],
                "over_20ms": sum(w > 20 for w in wall),
                "full_collections": full,
            }
        )
    )
    os._exit(0)  # skip exit-time flushing


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--warmup-seconds", type=float, default=6.0)
    parser.add_argument("--provider", choices=bp.PROVIDERS, default="openai")
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() after the warm-up")
    parser.add_argument("--promotions", action="store_true", help="count objects promoted per call instead")
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "PROVIDER", "URL"))
    args = parser.parse_args()
    if args.child:
        variant, provider, url = args.child
        child(variant, provider, url, args.calls, args.warmup_seconds, args.freeze, args.promotions)
        return
    server = bp.serve()
    store = tempfile.mkdtemp(prefix="llmtel-bench-")
    options = ["--calls", str(args.calls), "--warmup-seconds", str(args.warmup_seconds)]
    options += ["--freeze"] if args.freeze else []
    env = bp.bench_env(store)
    if args.promotions:
        for variant in bp.VARIANTS:
            r = bp.run_child(variant, args.provider, server.url, env, store, [*options, "--promotions"], __file__)
            if r is not None:
                print(f"{variant:15} {r['promoted_per_call']:6.2f} promoted per call", flush=True)
        server.close()
        return
    print(f"{'variant':15} {'median':>8} {'p99':>8} {'p99.9':>8} {'max':>8} {'>20 ms':>7}  full collections (ms)")
    for variant in bp.VARIANTS:
        r = bp.run_child(variant, args.provider, server.url, env, store, options, __file__)
        if r is not None:
            full = ", ".join(f"{ms:.0f}" for ms in r["full_collections"]) or "none"
            print(
                f"{variant:15} {r['median']:8.2f} {r['p99']:8.2f} {r['p999']:8.2f} {r['max']:8.2f} "
                f"{r['over_20ms']:7}  {full}",
                flush=True,
            )
    server.close()


if __name__ == "__main__":
    main()
