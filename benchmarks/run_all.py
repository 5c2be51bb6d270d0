"""Every benchmark, one command, each in its own process (they set global OTel providers):

    python benchmarks/run_all.py [--rounds 3] [--calls 300] [--rows 50000]

1. bench_trace_method.py  -- @trace_method against a hand-written span
2. bench_providers.py     -- wall, p99 and whole-process CPU per LLM call vs uninstrumented and the
                             peer instrumentations (ratios)
3. bench_span_bytes.py    -- the largest exported span for a 5 MB prompt, per variant
4. bench_store.py         -- writer rows/s into embedded ClickHouse, compression, offer() cost
5. bench_tail_latency.py  -- p99/p99.9/max wall per call and the full garbage collections behind them

bench_instructions.py (callgrind, tens of minutes) runs alone. All but bench_trace_method and
bench_store share harness.py (the loopback provider, each variant in a child process).

docs/performance.md holds one run's figures. Memory during a store outage is measured by
tests/exporters/clickhouse/test_processes.py::test_store_down_for_a_minute_under_load (docs/reliability.md).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", default="3")
    parser.add_argument("--calls", default="300")
    parser.add_argument("--rows", default="50000")
    args = parser.parse_args()
    runs = [
        ["bench_trace_method.py"],
        ["bench_providers.py", "--rounds", args.rounds, "--calls", args.calls],
        ["bench_span_bytes.py"],
        ["bench_store.py", "--rows", args.rows],
        ["bench_tail_latency.py"],
    ]
    failed = 0
    for script, *options in runs:
        print(f"\n=== {script} {' '.join(options)}", flush=True)
        failed |= subprocess.run([sys.executable, str(HERE / script), *options]).returncode
    return failed


if __name__ == "__main__":
    sys.exit(main())
