"""The ClickHouse writer on the embedded store: rows/s with 10 KB request payloads, the
compression ClickHouse gets on each JSON column, and the request-path cost of ``offer()``
as the payload grows (it must not grow with it).

    python benchmarks/bench_store.py [--rows 50000]

Throughput is measured twice: with the default batch size (LLMTEL_BATCH_MAX_BYTES=16 MiB,
about 1,500 such rows per insert) and with 96 MiB batches (capped by LLMTEL_BATCH_MAX_ROWS,
5,000 rows); each insert has a fixed cost in ClickHouse (a new part per insert).

Payloads are built from the recorded OpenAI exchanges in tests/fixtures/openai (real
request and response JSON), varied per row so compression is not flattered by copies.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

from llmtel.exporters.clickhouse.location import connect, parse_location
from llmtel.exporters.clickhouse.writer import ClickHouseWriter
from llmtel.instrumentation.records import ProviderTrace

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "openai"


def recorded_bodies() -> tuple[list[dict], list[str]]:
    requests, responses = [], []
    for path in sorted(FIXTURES.glob("*.yaml")):
        for interaction in yaml.safe_load(path.read_text()).get("interactions", []):
            body = interaction["request"].get("body")
            if body:
                requests.append(json.loads(body))
            text = interaction["response"].get("body", {}).get("string", "")
            if '"chat.completion"' in text:  # chat answers, as the 10 KB chat requests would get
                responses.append(text)
    return requests, responses


def make_trace(i: int, requests: list[dict], responses: list[str], size: int, rng: random.Random) -> ProviderTrace:
    """A trace whose request is ~``size`` bytes of recorded messages, different in every row."""
    base = rng.choice(requests)
    messages = list(base.get("messages") or [{"role": "user", "content": "hello"}])
    words = " ".join(rng.choice(("tokens", "cache", "agent", "tool", "latency", "model", str(i))) for _ in range(40))
    while len(json.dumps(messages)) < size:
        messages.append({"role": rng.choice(("user", "assistant")), "content": f"{words} {rng.random()}"})
    request = json.dumps({**base, "messages": messages})[: size * 2]
    response = rng.choice(responses)
    return ProviderTrace(
        id=str(uuid.uuid4()),
        trace_id=uuid.uuid4().hex,
        span_id=uuid.uuid4().hex[:16],
        parent_span_id=uuid.uuid4().hex[:16],
        created_at=datetime.datetime.now(datetime.timezone.utc),
        duration_ms=rng.uniform(100, 3000),
        provider="openai",
        operation="chat",
        agent_id=f"agent-{i % 7}",
        run_id=f"run-{i // 50}",
        request_model=base.get("model", "gpt-4o-mini"),
        response_model=base.get("model", "gpt-4o-mini"),
        input_tokens=rng.randint(10, 5000),
        output_tokens=rng.randint(1, 500),
        request_json=request,
        response_json=response,
        request_bytes=len(request),
        response_bytes=len(response),
        request_params_json=json.dumps({"model": base.get("model"), "temperature": base.get("temperature")}),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    rng = random.Random(7)
    requests, responses = recorded_bodies()
    work = Path(tempfile.mkdtemp(prefix="llmtel-bench-"))
    traces = [make_trace(i, requests, responses, 10_000, rng) for i in range(args.rows)]
    avg = statistics.mean(len(t.request_json) for t in traces)
    for batch_mb in (16, 96):
        location = parse_location(f"chdb://{work}/store?database=batch_{batch_mb}")
        writer = ClickHouseWriter(
            location,
            spool_dir=str(work / "spool"),
            max_queue_bytes=4 << 30,
            batch_max_bytes=batch_mb << 20,
            flush_interval=0.2,
        )
        writer.offer(traces[0])  # connect and create the schema outside the timing
        writer.flush(60)
        start = time.perf_counter()
        for trace in traces[1:]:
            writer.offer(trace)
        assert writer.flush(600)
        elapsed = time.perf_counter() - start
        print(
            f"writer throughput, {batch_mb} MiB batches: {len(traces) - 1:,} rows with ~{avg / 1000:.1f} KB "
            f"requests in {elapsed:.2f} s = {(len(traces) - 1) / elapsed:,.0f} rows/s (target >= 20,000)"
        )
        if batch_mb == 16:
            writer.shutdown(60)
    client = connect(location)
    client.command("OPTIMIZE TABLE llm_traces FINAL")
    rows = client.query(
        "SELECT name, data_uncompressed_bytes, data_compressed_bytes FROM system.columns"
        " WHERE database = currentDatabase() AND table = 'llm_traces' AND name LIKE '%json'"
    ).result_rows
    for name, raw, packed in rows:
        print(
            f"compression {name:<20} {raw / 1e6:9.1f} MB -> {packed / 1e6:7.1f} MB  ratio {raw / max(packed, 1):5.1f}x"
        )
    client.close()

    print("offer() on the request path (median of N calls, µs):")
    for size in (1_000, 100_000, 10_000_000):
        sample = [make_trace(i, requests, responses, 1000, rng) for i in range(50)]
        payload = "x" * size
        for trace in sample:
            trace.request_json = payload
        timings = []
        for trace in sample:
            t0 = time.perf_counter_ns()
            writer.offer(trace)
            timings.append(time.perf_counter_ns() - t0)
        writer.flush(600)
        print(f"  request_json {size:>12,} B: {statistics.median(timings) / 1000:7.2f}")
    writer.shutdown(60)


if __name__ == "__main__":
    sys.exit(main())
