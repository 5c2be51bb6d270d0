"""The slowest calls: wall time per call at p99, p99.9 and max, and the full garbage
collections behind them, per variant, with llmtel's store writer flushing as it does in an app:

    python benchmarks/bench_tail_latency.py [--calls 3000] [--provider openai] [--freeze]

Sync calls to the loopback provider server after ``--warmup-seconds`` of calls (the embedded
store loads ClickHouse into the process on its first write; that start-up is left out). A
collection runs on whichever thread trips it, usually the app's, so each one's duration is
timed with ``gc.callbacks``. ``--freeze`` calls ``gc.freeze()`` after the warm-up, as an app can
once its imports are done. Same setup as bench_providers.py; the store's flush interval is the
default 1 s.
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

import bench_providers as bp


def child(variant: str, provider: str, url: str, n: int, warmup_seconds: float, freeze: bool) -> None:
    if not bp.setup_variant(variant, provider):
        print(json.dumps(None))
        return
    call = bp.calls(provider, url)["sync"]
    started = time.perf_counter()
    while time.perf_counter() - started < warmup_seconds:
        call()
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
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "PROVIDER", "URL"))
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.calls, args.warmup_seconds, args.freeze)
        return
    server = bp.serve()
    store = tempfile.mkdtemp(prefix="llmtel-bench-")
    options = ["--calls", str(args.calls), "--warmup-seconds", str(args.warmup_seconds)]
    options += ["--freeze"] if args.freeze else []
    env = bp.bench_env(store)
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
