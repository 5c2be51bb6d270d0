"""The docs name everything llmtel emits and every setting it reads."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from llmtel.instrumentation import config, semconv
from llmtel.instrumentation.config import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"
INSTRUMENTATION = Path(semconv.__file__).parent


def test_every_emitted_name_is_documented() -> None:
    text = (DOCS / "semantic-conventions.md").read_text()
    names = [v for k, v in vars(semconv).items() if k.isupper() and isinstance(v, str)]
    missing = [
        n for n in names if n.rstrip(".") not in text and n not in ("parameter.", "_ref", "llmtel://llm_payloads/")
    ]
    assert not missing
    emitted = set()
    for source in INSTRUMENTATION.glob("*.py"):
        emitted |= set(re.findall(r'"(llmtel\.[a-z_]+\.[a-z_]+)"', source.read_text()))
    assert emitted and not {m for m in emitted if m.split(".")[-1] not in text}


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    variables = set(re.findall(r'"((?:LLMTEL|OTEL)_[A-Z_]+)"', Path(config.__file__).read_text()))
    assert variables and not {v for v in variables if v not in text}
    assert not {f.name for f in fields(Settings) if f"`{f.name}`" not in text}
