"""Run the ``llmtel`` CLI in a fresh process (a test process hosts at most one chdb directory)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_CODE = "import sys; from llmtel.exporters.cli import main; sys.exit(main(sys.argv[1:]))"


def run_cli(cwd: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-c", _CODE, *args], capture_output=True, text=True, timeout=120, cwd=cwd)
    return done.returncode, done.stdout + done.stderr


def calls_by(cwd: Path, store: str, by: str = "run") -> dict[str, int]:
    """``llmtel usage --by <by>`` as {key: calls}."""
    code, out = run_cli(cwd, "--url", store, "usage", "--by", by, "--json")
    assert code == 0, out
    return {row["key"]: row["calls"] for row in map(json.loads, out.splitlines())}
