"""Added time per LLM call: llmtel against the uninstrumented SDK and the peer instrumentations.

One run, one command:

    python benchmarks/bench_providers.py [--rounds 5] [--calls 300] [--variant none --variant llmtel]

The parent process serves the OpenAI and Anthropic wire formats on loopback (the same
server the tests use); each (variant, round) runs in a fresh child process so that only
one instrumentation patches the SDKs at a time. Rounds interleave the variants so they
share the machine's noise. Every child uses the same OTel SDK setup (BatchSpanProcessor
with a discarding exporter, an SDK MeterProvider) and content capture on. llmtel runs
with provider traces on, written by its store writer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from harness import MODES, PEERS, PROVIDERS, VARIANTS, bench_env, pct, run_child, serve, store_process_cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--variant", choices=VARIANTS, action="append", help="only these (default: all)")
    args = parser.parse_args()
    server = serve()
    store = tempfile.mkdtemp(prefix="llmtel-bench-")
    env = bench_env(store)
    samples: dict[tuple[str, str, str, str], list[float]] = {}
    spans: dict[tuple[str, str], int] = {}
    owner_cpu: dict[str, list[float]] = {}
    startup: dict[tuple[str, str], list[float]] = {}  # CPU of the first mode's warm-up calls and writes
    for round_no in range(args.rounds):
        for provider in PROVIDERS:
            for variant in args.variant or VARIANTS:
                owner_before = store_process_cpu(store)
                result = run_child(variant, provider, server.url, env, store, ["--calls", str(args.calls)])
                if result is None:
                    continue
                if variant == "llmtel":  # every call the child made, warm-up included, went to the store
                    made = len(MODES) * (args.calls + max(20, args.calls // 5))
                    owner_cpu.setdefault(provider, []).append((store_process_cpu(store) - owner_before) / made * 1e6)
                spans[(provider, variant)] = spans.get((provider, variant), 0) + result.pop("spans")
                startup.setdefault((provider, variant), []).append(result.pop("startup_cpu_ms"))
                for mode, times in result.items():
                    for clock in ("wall", "cpu"):
                        samples.setdefault((provider, mode, variant, clock), []).extend(times[clock])
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    server.close()
    for (provider, variant), count in sorted(spans.items()):
        print(f"spans exported: {provider:9} {variant:15} {count}", file=sys.stderr)
    report(samples, args.json)
    for (provider, variant), cpu_ms in sorted(startup.items()):
        print(f"start-up CPU ({provider}, {variant}): {statistics.median(cpu_ms):.0f} ms for the first warm-up calls")
    for provider, per_call in owner_cpu.items():
        print(f"embedded store process CPU per llmtel call ({provider}): {statistics.mean(per_call):.0f} us")


def report(samples: dict[tuple[str, str, str, str], list[float]], json_path: str | None) -> None:
    """Added time per call over the uninstrumented SDK, per mode: ``wall`` the median and p99 the
    app sees; ``cpu`` the whole process's CPU per call (every thread: the writer's, the exporter's,
    the collector's), as a mean, since background work lands on a few calls and a median
    would hide it."""
    rows = []
    header = (
        f"{'provider':9} {'mode':8} {'variant':15} {'wall med':>9} {'wall p99':>9} {'cpu mean':>8} "
        f"{'added cpu':>9} {'added wall':>10} {'vs best peer':>12}"
    )
    print(header)
    print("-" * len(header))
    for provider in PROVIDERS:
        for mode in MODES:
            if (provider, mode, "none", "cpu") not in samples:
                continue
            base = {"wall": statistics.median(samples[(provider, mode, "none", "wall")])}
            base["cpu"] = statistics.mean(samples[(provider, mode, "none", "cpu")])
            present = [v for v in VARIANTS if (provider, mode, v, "cpu") in samples]
            added = {
                v: {
                    "wall": statistics.median(samples[(provider, mode, v, "wall")]) - base["wall"],
                    "cpu": statistics.mean(samples[(provider, mode, v, "cpu")]) - base["cpu"],
                }
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
                    f"{statistics.mean(cpu):8.0f} {added[variant]['cpu']:9.0f} {added[variant]['wall']:10.0f} "
                    f"{ratio:>12}"
                )
                rows.append(
                    {
                        "provider": provider,
                        "mode": mode,
                        "variant": variant,
                        "wall_median_us": statistics.median(wall),
                        "wall_p99_us": pct(wall, 0.99),
                        "cpu_mean_us": statistics.mean(cpu),
                        "added_cpu_us": added[variant]["cpu"],
                        "added_wall_us": added[variant]["wall"],
                        "n": len(cpu),
                    }
                )
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
