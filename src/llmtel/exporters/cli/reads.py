"""``llmtel traces``, ``show``, ``usage`` and ``tail``: reading the store."""

from __future__ import annotations

import argparse
import json
import os
import pydoc
import shutil
import sys
import time
from typing import Any, TextIO

from llmtel.exporters.cli.format import NARROW, WIDE, as_json, cell, cost, pretty, print_table, table_row


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
        print_table(page.traces, out, WIDE if args.wide else NARROW)
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


def _found(reader: Any, key: str) -> list[Any] | str:
    """The provider traces ``key`` names (an id, its unique start or end, a trace id), or why none."""
    one = reader.get(key)
    if one is not None:
        return [one]
    by_trace = reader.by_trace(key)
    if by_trace:
        return list(by_trace)
    ids = reader.ids_matching(key)
    if len(ids) == 1:
        return [reader.get(ids[0])]
    if ids:
        return f"{key!r} is the start or end of several ids ({', '.join(ids)}, ...): give more of it"
    return f"no provider trace with id, id start or end, or trace_id {key!r}"


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    with _reader(args) as reader:
        found = _found(reader, args.id)
        if isinstance(found, str):
            sys.stderr.write(f"llmtel: {found}\n")
            return 1
        lines: list[str] = []
        limit = None if args.full else SHOWN_CHARS
        for trace in found:
            if args.json:
                lines.append(json.dumps(as_json(trace), ensure_ascii=False))
                continue
            for key, value in as_json(trace).items():
                if key not in ("request_json", "response_json", "request_params_json"):
                    lines.append(f"{key:>26}: {value if limit is None else cell(str(value), limit)}")
            lines.append("\n--- request ---\n" + pretty(trace.request_json, reader.payload, limit))
            lines.append("\n--- response ---\n" + pretty(trace.response_json, reader.payload, limit) + "\n")
    _page("\n".join(lines) + "\n", out)
    return 0


SHOWN_CHARS = 2000  # of one string in ``show``, unless --full


def _page(text: str, out: TextIO) -> None:
    """Through the user's pager when writing to a terminal (as git does), else as it is."""
    if out is sys.stdout and out.isatty() and text.count("\n") > shutil.get_terminal_size().lines:
        pydoc.pager(text)
    else:
        out.write(text)


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
    wide = args.wide
    head = f"{args.by:<26} {'calls':>7} {'errors':>6} {'input':>10} {'output':>9} {'cache rd':>10} "
    out.write(
        head + (f"{'cache wr':>9} {'reasoning':>9} " if wide else "") + f"{'cost $':>10} {'p50 ms':>7} {'p95 ms':>7}\n"
    )
    for r in rows:
        line = (
            f"{cell(r.key or '-', 26):<26} {r.calls:>7,} {r.errors:>6,} {r.input_tokens:>10,} {r.output_tokens:>9,} "
            f"{r.cache_read_input_tokens:>10,} "
        )
        if wide:
            line += f"{r.cache_write_input_tokens:>9,} {r.reasoning_tokens:>9,} "
        out.write(line + f"{cost(r.cost_usd):>10} {r.latency_p50_ms:>7.0f} {r.latency_p95_ms:>7.0f}\n")
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
        columns = WIDE if args.wide else NARROW
        latest = reader.traces(limit=args.limit).traces[::-1]
        print_table(latest, out, columns)
        at, seen = (latest[-1].created_at, latest[-1].id) if latest else (args.since, "")
        while deadline is None or time.monotonic() < deadline:
            time.sleep(args.interval)
            fresh = reader.newer_than(at, seen)
            for trace in fresh:
                out.write(table_row(trace, columns) + "\n")
            if fresh:
                at, seen = fresh[-1].created_at, fresh[-1].id
            out.flush()
    return 0
