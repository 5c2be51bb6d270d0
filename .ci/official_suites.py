"""Run an official OpenTelemetry GenAI instrumentation's own test suite against llmtel.

The suite's tests and recorded cassettes are copied as they are; in its ``conftest.py`` the one
import of the official instrumentor becomes llmtel's, and nothing else changes: not a fixture's
body, not an assertion. Only the latest-conventions mode is run (llmtel emits no other), and
the files that unit-test the official package's own helpers are left out; the official package
stays installed, as some tests import its constants. Prints the pass count and the failures,
and fails when fewer than ``--expect`` pass.

    python .ci/official_suites.py openai TESTS_DIR --expect N
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

# Files that unit-test the official package's own helpers (buffers, extractors, wrappers,
# hooks, its instrumentor class): nothing of llmtel runs in them.
OFFICIAL_INTERNALS = {
    "openai": {
        "test_choice_buffer.py",
        "test_completion_hook.py",
        "test_request_attributes.py",
        "test_response_extractors.py",
        "test_response_wrappers.py",
    },
    "anthropic": {"test_instrumentor.py"},
}
# suite -> (the official import in its conftest, llmtel's, pytest -k expression for the
# latest-conventions mode or None when every test runs in it)
SUITES = {
    "openai": (
        "from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor",
        "from llmtel.instrumentation.openai import OpenAIInstrumentor",
        "not content_mode1",  # content_mode0 is (latest experimental, span only)
    ),
    "anthropic": (
        "from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor",
        "from llmtel.instrumentation.anthropic import AnthropicInstrumentor",
        None,
    ),
}


def applicable(suite: str, tests: Path) -> list[Path]:
    """The suite's test files that drive the SDK through the conftest's instrumentor."""
    return sorted(f for f in tests.glob("test_*.py") if f.name not in OFFICIAL_INTERNALS[suite] | {"test_utils.py"})


def run(suite: str, source: Path, junit: Path) -> tuple[int, int, list[str]]:
    official, ours, mode = SUITES[suite]
    work = Path(tempfile.mkdtemp(prefix=f"llmtel-official-{suite}-"))
    tests = work / "tests"
    shutil.copytree(source, tests)
    conftest = tests / "conftest.py"
    text = conftest.read_text()
    if text.count(official) != 1:
        raise SystemExit(f"{conftest}: expected one line {official!r}; the suite changed, update SUITES")
    conftest.write_text(text.replace(official, ours))
    files = applicable(suite, tests)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
    if mode:
        command += ["-k", mode]
    env = {**os.environ, "LLMTEL_CLICKHOUSE_URL": f"jsonl://{work / 'rows'}"}  # rows beside the run
    subprocess.run([*command, *(str(f.relative_to(work)) for f in files)], cwd=work, env=env, check=False)
    cases = ET.parse(junit).getroot().iter("testcase")
    passed, total, failed = 0, 0, []
    for case in cases:
        if case.find("skipped") is not None:
            continue
        total += 1
        if case.find("failure") is None and case.find("error") is None:
            passed += 1
        else:
            failed.append(f"{case.get('classname')}::{case.get('name')}")
    return passed, total, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("suite", choices=sorted(SUITES), help="which official instrumentation's suite")
    parser.add_argument("tests", type=Path, help="the suite's tests/ folder (with its cassettes)")
    parser.add_argument("--expect", type=int, default=0, help="fail when fewer tests than this pass")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        passed, total, failed = run(args.suite, args.tests.resolve(), Path(tmp) / "junit.xml")
    print(f"llmtel passes {passed} of {total} applicable official {args.suite} tests (latest conventions)")
    for name in failed:
        print(f"  failed: {name}")
    if passed < args.expect:
        raise SystemExit(f"{passed} passed, below the {args.expect} docs/semantic-conventions.md gives")


if __name__ == "__main__":
    main()
