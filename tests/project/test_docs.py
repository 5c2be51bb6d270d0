"""The docs name everything llmtel emits and every setting it reads."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from llmtel.instrumentation import config, semconv
from llmtel.instrumentation.config import Settings
from tests.support.paths import DOCS, PACKAGE


def test_every_emitted_name_is_documented() -> None:
    text = (DOCS / "semantic-conventions.md").read_text()
    names = [v for k, v in vars(semconv).items() if k.isupper() and isinstance(v, str)]
    missing = [
        n for n in names if n.rstrip(".") not in text and n not in ("parameter.", "_ref", "llmtel://llm_payloads/")
    ]
    assert not missing
    emitted = set()
    for source in PACKAGE.rglob("*.py"):
        emitted |= set(re.findall(r'"(llmtel\.[a-z_]+\.[a-z_]+)"', source.read_text()))
    assert emitted and not {m for m in emitted if m.split(".")[-1] not in text}


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    variables = set(re.findall(r'"((?:LLMTEL|OTEL)_[A-Z_]+)"', Path(config.__file__).read_text()))
    assert variables and not {v for v in variables if v not in text}
    assert not {f.name for f in fields(Settings) if f"`{f.name}`" not in text}


def test_every_file_and_test_the_docs_name_exists() -> None:
    """A path such as ``tests/instrumentation/test_sampling.py::test_x`` or ``src/llmtel/...py`` in the
    docs points at something real: the map stays true as the code moves."""
    pattern = re.compile(r"((?:tests|src|benchmarks|examples)/[\w/.-]+\.py)(?:::(\w+))?")
    missing = []
    for doc in [*DOCS.glob("*.md"), DOCS.parent / "README.md"]:
        for path, test in pattern.findall(doc.read_text()):
            target = DOCS.parent / path
            if not target.exists() or (test and f"def {test}(" not in target.read_text()):
                missing.append(f"{doc.name}: {path}{'::' + test if test else ''}")
    assert not missing
