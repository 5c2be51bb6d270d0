"""The largest span each variant exports for a call with a 5 MB prompt (OTLP-encoded bytes):
what a collector's 4 MiB batch limit sees.

    python benchmarks/bench_span_bytes.py
"""

from __future__ import annotations

import tempfile

from harness import PROVIDERS, VARIANTS, bench_env, run_child, serve


def span_bytes(url: str, env: dict[str, str], cwd: str) -> None:
    """The largest OTLP-encoded span each variant exports for one call with a 5 MB prompt
    (content capture on): what a collector's 4 MiB gRPC limit sees."""
    print(f"{'provider':9} {'variant':15} {'largest span':>14} {'spans':>6}")
    for provider in PROVIDERS:
        for variant in VARIANTS[1:]:
            result = run_child(variant, provider, url, env, cwd, [])
            if result is not None:
                print(f"{provider:9} {variant:15} {result['largest_span_bytes']:>14,} {result['spans']:>6}")


def main() -> None:
    server = serve()
    store = tempfile.mkdtemp(prefix="llmtel-bench-")
    span_bytes(server.url, {**bench_env(store), "BENCH_SPAN_BYTES": "1"}, store)
    server.close()


if __name__ == "__main__":
    main()
