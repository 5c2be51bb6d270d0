"""The ``llmtel`` command: look at stored provider traces from a terminal.

Every failure a user can cause (bad URL, unreachable server, a store held by a foreign process,
empty store) ends in one line on stderr and exit status 2, never a stack trace.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from llmtel import __version__
from llmtel.exporters.cli.db import cmd_db
from llmtel.exporters.cli.format import bounded, parse_since
from llmtel.exporters.cli.reads import cmd_show, cmd_tail, cmd_traces, cmd_usage
from llmtel.exporters.cli.tree import cmd_tree
from llmtel.exporters.cli.ui import cmd_ui
from llmtel.instrumentation.config import DEFAULT_STORE_URL, ConfigError, redacted_url

__all__ = ["build_parser", "main", "parse_since"]


_LIMIT = bounded(int, 1, 1_000_000)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmtel", description="Read provider traces from the llmtel store.")
    parser.add_argument(
        "--url",
        default=os.environ.get("LLMTEL_CLICKHOUSE_URL", DEFAULT_STORE_URL),
        help="store DSN (default: $LLMTEL_CLICKHOUSE_URL or %(default)s)",
    )
    parser.add_argument("--org", default=None, help="only this org's traces")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    traces = sub.add_parser("traces", help="recent provider traces, newest first")
    traces.add_argument("--run", help="only this run's calls (llm_context run_id)")
    traces.add_argument("--agent", help="only this agent's calls (llm_context agent_id)")
    traces.add_argument("--model", help="only calls that asked for or got this model")
    traces.add_argument("--since", type=parse_since, help="15m, 2h, 7d or an ISO time")
    traces.add_argument("--errors", action="store_true", help="only failed calls")
    traces.add_argument("--limit", type=_LIMIT, default=20, help="at most this many rows (default %(default)s)")
    traces.add_argument("--wide", action="store_true", help="every column (about 200 wide), whole ids")
    traces.add_argument("--json", action="store_true", help="one JSON object per line")
    traces.set_defaults(handler=cmd_traces)

    show = sub.add_parser("show", help="one provider trace (by id) or all of one OTel trace (by trace_id)")
    show.add_argument("id", help="an id, its unique start or end (as `traces` shows it), or a trace_id")
    show.add_argument("--full", action="store_true", help="long strings whole (cut at 2,000 characters otherwise)")
    show.add_argument("--json", action="store_true", help="the stored rows as JSON, one per line")
    show.set_defaults(handler=cmd_show)

    tree = sub.add_parser("tree", help="the span tree of a run or a trace, with LLM calls and events")
    tree.add_argument("key", metavar="RUN_OR_TRACE", help="a run id, a trace id, or the start of a trace id")
    tree.add_argument("--limit", type=_LIMIT, default=20, help="at most this many of a run's traces (%(default)s)")
    tree.set_defaults(handler=cmd_tree)

    usage = sub.add_parser("usage", help="calls, tokens, cost and latency")
    usage.add_argument("--by", choices=["model", "agent", "provider", "day", "run"], default="model", help="group by")
    usage.add_argument("--since", type=parse_since, help="15m, 2h, 7d or an ISO time")
    usage.add_argument("--wide", action="store_true", help="cache-write and reasoning tokens too")
    usage.add_argument("--json", action="store_true", help="one JSON object per group")
    usage.set_defaults(handler=cmd_usage)

    tail = sub.add_parser("tail", help="follow new provider traces")
    tail.add_argument("--limit", type=_LIMIT, default=10, help="rows shown at start (default %(default)s)")
    tail.add_argument("--interval", type=bounded(float, 0.05, 3600), default=1.0, help="seconds between polls")
    tail.add_argument(
        "--since",
        type=parse_since,
        default=datetime.datetime.now(datetime.timezone.utc),
        help="follow from this time (15m, 2h, 7d or ISO; default now)",
    )
    tail.add_argument("--wide", action="store_true", help="every column, whole ids")
    tail.add_argument("--follow-for", type=bounded(float, 0, 1e6), default=None, help=argparse.SUPPRESS)
    tail.set_defaults(handler=cmd_tail)

    ui = sub.add_parser("ui", help="a local, read-only web page: runs, span trees, calls, cost over time")
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s: this machine only)")
    ui.add_argument("--port", type=bounded(int, 0, 65535), default=8765, help="port (default %(default)s; 0: any free)")
    ui.set_defaults(handler=cmd_ui)

    db = sub.add_parser("db", help="create, migrate, inspect the store; replay the spool; print cluster DDL")
    db.add_argument(
        "action",
        choices=["init", "migrate", "status", "replay", "ddl"],
        help="init/migrate the schema, status of store and spool, replay the spool, ddl for a cluster",
    )
    db.add_argument("--cluster", default="default", help="cluster name for `ddl`")
    db.add_argument(
        "--spool-dir", default=os.environ.get("LLMTEL_SPOOL_DIR", "./.llmtel/spool"), help="the spool (%(default)s)"
    )
    db.set_defaults(handler=cmd_db)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run one command; any failure is one line on stderr (no password in it) and exit status 2."""
    args = build_parser().parse_args(argv)
    logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)  # we print one line instead
    try:
        from llmtel.exporters.clickhouse.location import StoreLocked, StoreUnavailable
        from llmtel.exporters.clickhouse.reader import StoreEmpty
    except ImportError:
        return _fail("the store needs clickhouse-connect: pip install 'llmtel[embedded]'")
    try:
        code: int = args.handler(args, out or sys.stdout)
        return code
    except (ConfigError, StoreUnavailable) as exc:
        return _fail(str(exc))
    except StoreLocked as exc:
        return _fail(f"{exc}; stop it, and llmtel's store server opens the store")
    except StoreEmpty as exc:
        return _fail(f"{exc} (an instrumented app creates them on its first trace; or `llmtel db init`)")
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return _fail(f"{type(exc).__name__}: {first}")


def _fail(message: str) -> int:
    sys.stderr.write(f"llmtel: {redacted_url(message)}\n")
    return 2
