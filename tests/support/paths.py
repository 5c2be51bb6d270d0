"""Where things are in the repository, for tests that read docs, examples or run helper apps."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUPPORT = REPO / "tests" / "support"
DOCS = REPO / "docs"
EXAMPLES = REPO / "examples"
PACKAGE = REPO / "src" / "llmtel"
