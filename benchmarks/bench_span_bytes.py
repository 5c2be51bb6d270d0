"""A call with a large request (a 5 MB prompt by default), per variant: the largest span it
exports (OTLP-encoded bytes: what a collector's 4 MiB batch limit sees), the wall time it adds
per call, and the process's peak resident memory growth while making such calls, also as a
ratio to the SDK alone's:

    python benchmarks/bench_span_bytes.py [--calls 8] [--shape prompt5|prompt30|vision12|messages50k]
        [--variant none --variant llmtel ...]

Each call is followed by a pause of ``PAUSE_S``, as a real provider's seconds of latency would
give llmtel's writer time to store the previous call; the wall time counts only the call.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Sequence

from harness import PROVIDERS, SHAPES, VARIANTS, bench_env, run_child, serve


def big_payloads(url: str, env: dict[str, str], cwd: str, calls: int, variants: Sequence[str]) -> None:
    print(
        f"{'provider':9} {'variant':15} {'largest span':>14} {'spans':>6} {'wall med':>9} "
        f"{'added wall, thread cpu':>22} "
        f"{'peak RSS +':>10} {'vs SDK':>6}"
    )
    for provider in PROVIDERS:
        base: tuple[float, float] | None = None
        base_rss = 0
        for variant in variants:
            result = run_child(variant, provider, url, env, cwd, ["--calls", str(calls)])
            if result is None:
                continue
            wall = statistics.median(result["wall"]) / 1e3
            cpu = statistics.median(result["thread_cpu"]) / 1e3
            if variant == "none":
                base, base_rss = (wall, cpu), result["peak_rss_growth"]
            ratio = f"{result['peak_rss_growth'] / base_rss:5.1f}x" if base_rss and variant != "none" else ""
            added = "" if base is None or variant == "none" else f"{wall - base[0]:+.1f} {cpu - base[1]:+.1f}"
            print(
                f"{provider:9} {variant:15} {result['largest_span_bytes']:>14,} {result['spans']:>6} "
                f"{wall:7.1f}ms {added:>22} {result['peak_rss_growth'] / 2**20:8.0f}MB {ratio:>6}"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--shape", default="prompt5", choices=SHAPES)
    parser.add_argument("--variant", action="append", choices=VARIANTS, help="only these (default: all)")
    args = parser.parse_args()
    server = serve()
    store = tempfile.mkdtemp(prefix="llmtel-bench-")
    big_payloads(
        server.url,
        {**bench_env(store), "BENCH_SPAN_BYTES": "1", "BENCH_SHAPE": args.shape},
        store,
        args.calls,
        args.variant or VARIANTS,
    )
    server.close()


if __name__ == "__main__":
    main()
