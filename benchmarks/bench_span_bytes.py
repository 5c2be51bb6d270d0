"""A call with a 5 MB prompt, per variant: the largest span it exports (OTLP-encoded bytes: what a
collector's 4 MiB batch limit sees), the wall time it adds per call, and the process's peak
resident memory growth while making such calls:

    python benchmarks/bench_span_bytes.py [--calls 8]

Each call is followed by a pause of ``PAUSE_S``, as a real provider's seconds of latency would
give llmtel's writer time to store the previous call; the wall time counts only the call.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile

from harness import PROVIDERS, VARIANTS, bench_env, run_child, serve


def big_payloads(url: str, env: dict[str, str], cwd: str, calls: int) -> None:
    print(
        f"{'provider':9} {'variant':15} {'largest span':>14} {'spans':>6} {'wall med':>9} "
        f"{'added wall, thread cpu':>22} "
        f"{'peak RSS +':>10}"
    )
    for provider in PROVIDERS:
        base: tuple[float, float] | None = None
        for variant in VARIANTS:
            result = run_child(variant, provider, url, env, cwd, ["--calls", str(calls)])
            if result is None:
                continue
            wall = statistics.median(result["wall"]) / 1e3
            cpu = statistics.median(result["thread_cpu"]) / 1e3
            if variant == "none":
                base = (wall, cpu)
            added = "" if base is None or variant == "none" else f"{wall - base[0]:+.1f} {cpu - base[1]:+.1f}"
            print(
                f"{provider:9} {variant:15} {result['largest_span_bytes']:>14,} {result['spans']:>6} "
                f"{wall:7.1f}ms {added:>22} {result['peak_rss_growth'] / 2**20:8.0f}MB"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=8)
    args = parser.parse_args()
    server = serve()
    store = tempfile.mkdtemp(prefix="llmtel-bench-")
    big_payloads(server.url, {**bench_env(store), "BENCH_SPAN_BYTES": "1"}, store, args.calls)
    server.close()


if __name__ == "__main__":
    main()
