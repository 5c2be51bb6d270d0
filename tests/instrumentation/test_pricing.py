"""Cost from the price table: exact or dated names, cache reads and writes at their own prices,
an unknown model or count costs None (never a guess), and a table of one's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmtel.instrumentation.pricing import load_prices
from llmtel.instrumentation.usage import Usage


def test_a_dated_model_costs_what_its_family_costs() -> None:
    prices = load_prices()
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert prices.cost("openai", "gpt-4o-2024-08-06", usage) == prices.cost("openai", "gpt-4o", usage)
    assert prices.cost("openai", "gpt-4o", usage) == pytest.approx(2.5 + 10.0)
    assert prices.cost("openai", "gpt-4o-mini", usage) == pytest.approx(0.15 + 0.6)  # the longest prefix wins


def test_cache_reads_and_writes_are_priced_apart_from_fresh_input() -> None:
    usage = Usage(input_tokens=1_000_000, cache_read_input_tokens=600_000, cache_write_input_tokens=200_000)
    cost = load_prices().cost("anthropic", "claude-sonnet-4-5-20250929", usage)
    assert cost == pytest.approx(0.2 * 3.0 + 0.6 * 0.3 + 0.2 * 3.75)


def test_unknown_models_and_counts_cost_nothing() -> None:
    prices = load_prices()
    assert prices.cost("openai", "my-finetune", Usage(input_tokens=10)) is None
    assert prices.cost("openai", "gpt-4o", Usage(output_tokens=10)) is None  # no input count: no cost
    assert prices.cost("openai", None, Usage(input_tokens=10)) is None
    assert prices.cost("openai", "gpt-4o-turbo", Usage(input_tokens=10)) is None  # not a dated suffix


def test_a_price_file_replaces_the_table(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {"openai": {"my-finetune": {"input": 1.0, "output": 2.0}}}}))
    prices = load_prices(str(path))
    assert prices.cost("openai", "my-finetune", Usage(input_tokens=1_000_000, output_tokens=500_000)) == 2.0
    assert prices.cost("openai", "gpt-4o", Usage(input_tokens=1)) is None
