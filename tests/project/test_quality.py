"""The project's own checks run with the tests: ruff (lint + format) and mypy --strict."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.support.paths import REPO

ROOT = REPO


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)


def test_ruff_lint_and_format() -> None:
    lint = run(sys.executable, "-m", "ruff", "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run(sys.executable, "-m", "ruff", "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="the typecheck script needs bash")
def test_mypy_strict() -> None:
    result = run("bash", ".ci/typecheck")
    assert result.returncode == 0, result.stdout + result.stderr
