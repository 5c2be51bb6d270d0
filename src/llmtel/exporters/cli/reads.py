"""``llmtel traces``, ``show``, ``usage`` and ``tail``: reading the store."""

from __future__ import annotations

import argparse
import json
import os
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
    else:
        print_table(page.traces, out)
    _say_what_waits()
    return 0


def _say_what_waits() -> None:
    """Rows not in the tables yet are not in a listing: say so, on stderr."""
    from llmtel.exporters.clickhouse.spool import Spool

    spool = Spool(os.environ.get("LLMTEL_SPOOL_DIR", "./.llmtel/spool"), 0)
    waiting, held = spool.summary().rows, spool.quarantine().summary().rows
    if waiting or held:
        sys.stderr.write(
            f"llmtel: {waiting:,} rows wait in the spool {spool.directory} and {held:,} in its quarantine, not in "
            "the store yet (`llmtel db status`; `llmtel db replay` stores them)\n"
        )


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
    """Follow new provider traces; a store no app has created yet is waited for, not an error."""
    from llmtel.exporters.clickhouse.reader import StoreEmpty

    deadline = None if args.follow_for is None else time.monotonic() + args.follow_for
    waiting_said = False
    while True:
        try:
            return _follow(args, out, deadline)
        except StoreEmpty as exc:
            if not waiting_said:
                sys.stderr.write(f"llmtel: {exc}; waiting for the first trace\n")
                waiting_said = True
            if deadline is not None and time.monotonic() >= deadline:
                return 0
            time.sleep(args.interval)
        except KeyboardInterrupt:
            return 0


def _follow(args: argparse.Namespace, out: TextIO, deadline: float | None) -> int:
    with _reader(args) as reader:
        latest = reader.traces(limit=args.limit).traces[::-1]
        print_table(latest, out)
        at, seen = (latest[-1].created_at, latest[-1].id) if latest else (args.since, "")
        while deadline is None or time.monotonic() < deadline:
            time.sleep(args.interval)
            fresh = reader.newer_than(at, seen)
            for trace in fresh:
                out.write(table_row(trace) + "\n")
            if fresh:
                at, seen = fresh[-1].created_at, fresh[-1].id
            out.flush()
    return 0
