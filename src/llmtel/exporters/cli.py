"""The ``llmtel`` command: look at stored provider traces from a terminal.

Every failure a user can cause (bad URL, unreachable server, store locked by a running app,
empty store) ends in one line on stderr and exit status 2, never a stack trace.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from llmtel.exporters.clickhouse.spool import Spool
from llmtel.instrumentation.config import DEFAULT_STORE_URL, ConfigError
from llmtel.instrumentation.records import ProviderTrace
from llmtel.instrumentation.semconv import PAYLOAD_REF_PREFIX

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> datetime.datetime:
    """``15m``, ``2h``, ``7d`` ago, or an ISO timestamp (UTC unless it says otherwise)."""
    raw = text.strip()
    if raw[:-1].isdigit() and raw[-1:] in _UNITS:
        return datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
            seconds=int(raw[:-1]) * _UNITS[raw[-1]]
        )
    try:
        stamp = datetime.datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use 15m, 2h, 7d or an ISO time") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.timezone.utc)


def _num(value: float | int | None, fmt: str = "{:,}") -> str:
    return "-" if value is None else fmt.format(value)


_TABLE: list[tuple[str, int, Callable[[ProviderTrace], str]]] = [
    ("time (UTC)", 19, lambda t: t.created_at.strftime("%Y-%m-%d %H:%M:%S")),
    ("provider", 9, lambda t: t.provider),
    ("model", 26, lambda t: t.response_model or t.request_model or "-"),
    ("agent", 14, lambda t: t.agent_id or "-"),
    ("run", 12, lambda t: t.run_id or "-"),
    ("step", 8, lambda t: t.step_id or "-"),
    ("in", 8, lambda t: _num(t.input_tokens)),
    ("out", 7, lambda t: _num(t.output_tokens)),
    ("cost $", 9, lambda t: _num(t.cost_usd, "{:.6f}")),
    ("ms", 8, lambda t: _num(round(t.duration_ms), "{:,}")),
    ("status", 16, lambda t: (t.error_type or "error") if t.is_error else "ok"),
    ("id", 36, lambda t: t.id),
]


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(traces: Sequence[ProviderTrace], out: TextIO) -> None:
    out.write("  ".join(f"{name:<{width}}" for name, width, _ in _TABLE).rstrip() + "\n")
    for trace in traces:
        out.write("  ".join(f"{_cell(get(trace), width):<{width}}" for _, width, get in _TABLE).rstrip() + "\n")


def _as_json(trace: ProviderTrace) -> dict[str, Any]:
    data = trace.to_dict()
    data["created_at"] = trace.created_at.isoformat()
    return data


def resolve_refs(value: Any, fetch: Callable[[str], bytes | None]) -> Any:
    """Replace every ``llmtel://llm_payloads/...`` string with the stored value it names."""
    if isinstance(value, dict):
        return {k: resolve_refs(v, fetch) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_refs(v, fetch) for v in value]
    if isinstance(value, str) and value.startswith(PAYLOAD_REF_PREFIX):
        data = fetch(value)
        if data is None:
            return value
        try:
            return json.loads(data)
        except ValueError:
            return data.decode("utf-8", "replace")
    return value


def _pretty(text: str, fetch: Callable[[str], bytes | None]) -> str:
    if not text:
        return "(none)"
    try:
        return json.dumps(resolve_refs(json.loads(text), fetch), indent=2, ensure_ascii=False)
    except ValueError:
        return text


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
            out.write(json.dumps(_as_json(trace), ensure_ascii=False) + "\n")
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
                out.write(json.dumps(_as_json(trace), ensure_ascii=False) + "\n")
                continue
            for key, value in _as_json(trace).items():
                if key not in ("request_json", "response_json", "request_params_json"):
                    out.write(f"{key:>26}: {value}\n")
            out.write("\n--- request ---\n" + _pretty(trace.request_json, reader.payload) + "\n")
            out.write("\n--- response ---\n" + _pretty(trace.response_json, reader.payload) + "\n\n")
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
            f"{_cell(r.key or '-', 28):<28} {r.calls:>7,} {r.errors:>6,} {r.input_tokens:>11,} {r.output_tokens:>10,} "
            f"{r.cache_read_input_tokens:>10,} {r.cache_write_input_tokens:>9,} {r.reasoning_tokens:>9,} "
            f"{_num(r.cost_usd, '{:.4f}'):>10} {r.latency_p50_ms:>8.0f} {r.latency_p95_ms:>8.0f}\n"
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
                    out.write("  ".join(f"{_cell(g(trace), w):<{w}}" for _, w, g in _TABLE).rstrip() + "\n")
                if fresh:
                    at, seen = fresh[-1].created_at, fresh[-1].id
                out.flush()
        except KeyboardInterrupt:
            pass
    return 0


def cmd_db(args: argparse.Namespace, out: TextIO) -> int:
    from llmtel.exporters.clickhouse import schema
    from llmtel.exporters.clickhouse.location import connect, parse_location
    from llmtel.exporters.clickhouse.writer import replay_spool

    location = parse_location(args.url)
    ttl = int(os.environ.get("LLMTEL_TTL_DAYS", "0") or 0)
    if args.action == "ddl":
        for statement in schema.cluster_ddl(location.database, args.cluster, ttl):
            out.write(statement + ";\n\n")
        return 0
    if args.action == "replay":
        stored, left, quarantined = replay_spool(location, args.spool_dir, ttl)
        out.write(f"replayed {stored} rows from {args.spool_dir}; {left} batches left")
        out.write(f"; {quarantined} rows still in quarantine (see llmtel db status)\n" if quarantined else "\n")
        return 0
    if args.action == "status":
        _spool_status(Spool(args.spool_dir, 0), out)
    client = connect(location, database=False)
    try:
        layout = schema.Layout(location.database, ttl)
        if args.action in ("init", "migrate"):
            applied = schema.migrate(client, layout)
            out.write(f"{location.display}: schema version {schema.LATEST_VERSION}")
            out.write(f" (applied {applied})\n" if applied else " (already current)\n")
            return 0
        exists = client.command(f"EXISTS TABLE {schema.quote(location.database)}.{schema.quote(schema.MIGRATIONS)}")
        versions = schema.applied_versions(client, layout) if int(exists) else {}
        current = max(versions, default=0)
        out.write(f"{location.display}: schema version {current} of {schema.LATEST_VERSION}\n")
        if current:
            for table in (schema.TRACES, schema.PAYLOADS):
                rows, size, raw = client.query(
                    "SELECT sum(rows), sum(data_compressed_bytes), sum(data_uncompressed_bytes) FROM system.parts"
                    " WHERE database = {db:String} AND table = {t:String} AND active",
                    parameters={"db": location.database, "t": table},
                ).result_rows[0]
                out.write(
                    f"  {table}: {int(rows or 0):,} rows, {int(size or 0):,} bytes on disk ({int(raw or 0):,} raw)\n"
                )
        return 0
    finally:
        client.close()


def _spool_status(spool: Spool, out: TextIO) -> None:
    """Rows not in the tables yet: spooled (waiting for the store) and quarantined (refused by it)."""
    waiting = spool.summary()
    out.write(f"spool {spool.directory}: {waiting.batches:,} batches, {waiting.rows:,} rows waiting for the store\n")
    held = spool.quarantine().summary()
    out.write(f"quarantine: {held.rows:,} rows the store rejected")
    out.write(" (`llmtel db replay` retries them)\n" if held.rows else "\n")
    for reason, rows in sorted(held.reasons.items(), key=lambda item: -item[1]):
        out.write(f"  {rows:,} rows: {reason[:200]}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmtel", description="Read provider traces from the llmtel store.")
    parser.add_argument(
        "--url",
        default=os.environ.get("LLMTEL_CLICKHOUSE_URL", DEFAULT_STORE_URL),
        help="store DSN (default: $LLMTEL_CLICKHOUSE_URL or %(default)s)",
    )
    parser.add_argument("--org", default=None, help="only this org's traces")
    sub = parser.add_subparsers(dest="command", required=True)

    traces = sub.add_parser("traces", help="recent provider traces, newest first")
    traces.add_argument("--run")
    traces.add_argument("--agent")
    traces.add_argument("--model")
    traces.add_argument("--since", type=parse_since, help="15m, 2h, 7d or an ISO time")
    traces.add_argument("--errors", action="store_true", help="only failed calls")
    traces.add_argument("--limit", type=int, default=20)
    traces.add_argument("--json", action="store_true", help="one JSON object per line")
    traces.set_defaults(handler=cmd_traces)

    show = sub.add_parser("show", help="one provider trace (by id) or all of one OTel trace (by trace_id)")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_show)

    usage = sub.add_parser("usage", help="calls, tokens, cost and latency")
    usage.add_argument("--by", choices=["model", "agent", "provider", "day", "run"], default="model")
    usage.add_argument("--since", type=parse_since)
    usage.add_argument("--json", action="store_true")
    usage.set_defaults(handler=cmd_usage)

    tail = sub.add_parser("tail", help="follow new provider traces")
    tail.add_argument("--limit", type=int, default=10)
    tail.add_argument("--interval", type=float, default=1.0)
    tail.add_argument("--since", type=parse_since, default=datetime.datetime.now(datetime.timezone.utc))
    tail.add_argument("--follow-for", type=float, default=None, help=argparse.SUPPRESS)
    tail.set_defaults(handler=cmd_tail)

    db = sub.add_parser("db", help="create, migrate, inspect the store; replay the spool; print cluster DDL")
    db.add_argument("action", choices=["init", "migrate", "status", "replay", "ddl"])
    db.add_argument("--cluster", default="default", help="cluster name for `ddl`")
    db.add_argument("--spool-dir", default=os.environ.get("LLMTEL_SPOOL_DIR", "./.llmtel/spool"))
    db.set_defaults(handler=cmd_db)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)  # we print one line instead
    try:
        from llmtel.exporters.clickhouse.location import StoreLocked, StoreUnavailable
        from llmtel.exporters.clickhouse.reader import StoreEmpty
    except ImportError:
        sys.stderr.write("llmtel: the store needs clickhouse-connect: pip install 'llmtel[embedded]'\n")
        return 2
    try:
        code: int = args.handler(args, out or sys.stdout)
        return code
    except ConfigError as exc:
        sys.stderr.write(f"llmtel: {exc}\n")
    except StoreLocked as exc:
        sys.stderr.write(f"llmtel: {exc}; stop it or wait for it to exit (several processes need a server)\n")
    except StoreUnavailable as exc:
        sys.stderr.write(f"llmtel: {exc}\n")
    except StoreEmpty as exc:
        sys.stderr.write(f"llmtel: {exc} (an instrumented app creates them on its first trace; or `llmtel db init`)\n")
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        sys.stderr.write(f"llmtel: {type(exc).__name__}: {first}\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
