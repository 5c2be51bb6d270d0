"""``llmtel traces``, ``show``, ``usage`` and ``tail``: reading the store."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

from llmtel.exporters.cli.format import as_json, cell, num, pretty, print_table, table_row


def _reader(args: argparse.Namespace) -> Any:
    from llmtel.exporters.clickhouse.reader import TraceReader

    return TraceReader(args.url, org_id=args.org)


def cmd_traces(args: argparse.Namespace, out: TextIO) -> int:
    with _reader(args) as reader:
        page = reader.traces(
            run_id=args.run,
            agent_id=args.agent,
            model=args.model,
            since=args.since,
            errors_only=args.errors,
            limit=args.limit,
        )
    if args.json:
        for trace in page.traces:
            out.write(json.dumps(as_json(trace), ensure_ascii=False) + "\n")
        return 0
    if not page.traces:
        out.write("no provider traces match\n")
        return 0
    print_table(page.traces, out)
    return 0


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    with _reader(args) as reader:
        one = reader.get(args.id)
        found = [one] if one is not None else reader.by_trace(args.id)
        if not found:
            sys.stderr.write(f"llmtel: no provider trace with id or trace_id {args.id!r}\n")
            return 1
        for trace in found:
            if args.json:
                out.write(json.dumps(as_json(trace), ensure_ascii=False) + "\n")
                continue
            for key, value in as_json(trace).items():
                if key not in ("request_json", "response_json", "request_params_json"):
                    out.write(f"{key:>26}: {value}\n")
            out.write("\n--- request ---\n" + pretty(trace.request_json, reader.payload) + "\n")
            out.write("\n--- response ---\n" + pretty(trace.response_json, reader.payload) + "\n\n")
    return 0


def cmd_usage(args: argparse.Namespace, out: TextIO) -> int:
    with _reader(args) as reader:
        rows = reader.usage(args.by, since=args.since)
    if args.json:
        for row in rows:
            out.write(json.dumps(row.__dict__) + "\n")
        return 0
    if not rows:
        out.write("no provider traces yet\n")
        return 0
    out.write(
        f"{args.by:<28} {'calls':>7} {'errors':>6} {'input':>11} {'output':>10} {'cache rd':>10} "
        f"{'cache wr':>9} {'reasoning':>9} {'cost $':>10} {'p50 ms':>8} {'p95 ms':>8}\n"
    )
    for r in rows:
        out.write(
            f"{cell(r.key or '-', 28):<28} {r.calls:>7,} {r.errors:>6,} {r.input_tokens:>11,} {r.output_tokens:>10,} "
            f"{r.cache_read_input_tokens:>10,} {r.cache_write_input_tokens:>9,} {r.reasoning_tokens:>9,} "
            f"{num(r.cost_usd, '{:.4f}'):>10} {r.latency_p50_ms:>8.0f} {r.latency_p95_ms:>8.0f}\n"
        )
    return 0


def cmd_tail(args: argparse.Namespace, out: TextIO) -> int:
    with _reader(args) as reader:
        latest = reader.traces(limit=args.limit).traces[::-1]
        print_table(latest, out)
        at, seen = (latest[-1].created_at, latest[-1].id) if latest else (args.since, "")
        try:
            while args.follow_for is None or args.follow_for > 0:
                time.sleep(args.interval)
                if args.follow_for is not None:
                    args.follow_for -= args.interval
                fresh = reader.newer_than(at, seen)
                for trace in fresh:
                    out.write(table_row(trace) + "\n")
                if fresh:
                    at, seen = fresh[-1].created_at, fresh[-1].id
                out.flush()
        except KeyboardInterrupt:
            pass
    return 0
