"""What storing every span in otel_traces costs an app: ``@trace_method`` calls under
``configure()`` on the embedded store, with LLMTEL_STORE_SPANS on and off.

Each variant runs in a fresh process (``configure()`` runs once per process): 200 warm-up calls
written to the store first (the writer's first write imports clickhouse-connect and connects,
about 0.5 s of CPU once per process, which is not a cost per span), then N calls and a flush that
writes all of them. Reported per span: wall time of the calls, the calling thread's CPU, and the
CPU of the whole app process (calling thread, writer threads, their GIL contention, the flush).
The embedded engine runs in its own store process, which this does not count. Rounds alternate
the variants; medians of the rounds.

    python benchmarks/bench_spans_stored.py [--calls 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

APP = """
import json, os, sys, time
from llmtel.instrumentation import configure, trace_method

@trace_method
def step(user: str, n: int, flag: bool) -> int:
    return n

handle = configure(instrument=())
for i in range(200):
    step("warm-up", i, True)
assert handle.flush(60)
calls = int(sys.argv[1])
cpu, thread, wall = time.process_time(), time.thread_time(), time.perf_counter()
for i in range(calls):
    step("someone", i, True)
wall = time.perf_counter() - wall
thread = time.thread_time() - thread
assert handle.flush(60)
cpu = time.process_time() - cpu
handle.shutdown()
print(json.dumps({"wall": wall, "thread": thread, "cpu": cpu}))
"""


def run(calls: int, store_spans: bool, store: str) -> dict[str, float]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LLMTEL_"))},
        "LLMTEL_CLICKHOUSE_URL": store,
        "LLMTEL_STORE_SPANS": "true" if store_spans else "false",
        "LLMTEL_SPOOL_DIR": os.path.join(os.path.dirname(store.split("://", 1)[1]), "spool"),
    }
    done = subprocess.run([sys.executable, "-c", APP, str(calls)], env=env, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = f"chdb://{tmp}/store"
        run(100, True, store)  # the store process and schema exist before the first measured round
        results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
        for _ in range(args.rounds):
            for variant in (False, True):
                results[variant].append(run(args.calls, variant, store))

    def per_call(rounds: list[dict[str, float]], key: str) -> list[float]:
        return sorted(r[key] / args.calls * 1e6 for r in rounds)

    print(f"{args.calls} trace_method calls per process, {args.rounds} rounds, medians per call (µs)")
    median: dict[tuple[bool, str], float] = {}
    for variant, label in ((False, "spans not stored"), (True, "spans stored")):
        wall, cpu = per_call(results[variant], "wall"), per_call(results[variant], "cpu")
        median[variant, "wall"], median[variant, "cpu"] = statistics.median(wall), statistics.median(cpu)
        thread = statistics.median(per_call(results[variant], "thread"))
        print(f"  {label:<17} wall {median[variant, 'wall']:6.1f}   calling thread CPU {thread:6.1f}", end="")
        print(f"   process CPU {median[variant, 'cpu']:6.1f}  (CPU rounds {cpu[0]:.1f}-{cpu[-1]:.1f})")
    wall_ratio = median[True, "wall"] / median[False, "wall"]
    print(f"  stored / not: wall {wall_ratio:.2f}x, CPU {median[True, 'cpu'] / median[False, 'cpu']:.2f}x")


if __name__ == "__main__":
    main()
