"""``llmtel ui``: serve the web page over the store until Ctrl-C."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import Any, TextIO


def cmd_ui(args: argparse.Namespace, out: TextIO) -> int:
    from llmtel.exporters.ui.server import serve

    if not _loopback(args.host):
        sys.stderr.write(f"llmtel: serving the store to every machine that reaches {args.host} (read-only, no login)\n")

    def ready(address: Any) -> None:
        out.write(f"llmtel ui: http://{address[0]}:{address[1]}/ (read-only; Ctrl-C stops)\n")
        out.flush()

    try:
        serve(args.url, args.host, args.port, org_id=args.org, ready=ready)
    except KeyboardInterrupt:
        return 0
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
