"""Cost in USD from a local price table; an unknown model costs ``None``, never a guess."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from llmtel.instrumentation.usage import Usage

_SUFFIX: Final = re.compile(r"^(-\d.*|-latest|@.*)?$")
PER_TOKENS: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float = 0.0
    cached_input: float | None = None
    cache_write: float | None = None


class PriceTable:
    """Provider → model → :class:`Price`, looked up exactly or by model-family prefix."""

    def __init__(self, models: Mapping[str, Mapping[str, Mapping[str, float]]]) -> None:
        self._models = {
            provider.lower(): {name.lower(): Price(**dict(p)) for name, p in table.items()}
            for provider, table in models.items()
        }
        self._cache: dict[tuple[str, str], Price | None] = {}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PriceTable:
        return cls(data["models"])

    def price(self, provider: str, model: str) -> Price | None:
        key = (provider.lower(), model.lower())
        if key not in self._cache:
            self._cache[key] = self._lookup(*key)
        return self._cache[key]

    def _lookup(self, provider: str, model: str) -> Price | None:
        table = self._models.get(provider, {})
        if model in table:
            return table[model]
        best = ""
        for name in table:
            if len(name) > len(best) and model.startswith(name) and _SUFFIX.match(model[len(name) :]):
                best = name
        return table[best] if best else None

    def cost(self, provider: str, model: str | None, usage: Usage | None) -> float | None:
        """USD for ``usage`` on ``model``; None when the model or the input count is unknown."""
        if not model or usage is None or usage.input_tokens is None:
            return None
        price = self.price(provider, model)
        if price is None:
            return None
        cache_read = usage.cache_read_input_tokens or 0
        cache_write = usage.cache_write_input_tokens or 0
        uncached = max(0, usage.input_tokens - cache_read - cache_write)
        total = (
            uncached * price.input
            + cache_read * (price.cached_input if price.cached_input is not None else price.input)
            + cache_write * (price.cache_write if price.cache_write is not None else price.input)
            + (usage.output_tokens or 0) * price.output
        )
        return total / PER_TOKENS


def load_prices(path: str | None = None) -> PriceTable:
    """The shipped table, or the JSON file at ``path`` (same shape as ``prices.json``)."""
    if path:
        with open(path, encoding="utf-8") as f:
            return PriceTable.from_json(json.load(f))
    text = resources.files(__package__).joinpath("prices.json").read_text(encoding="utf-8")
    return PriceTable.from_json(json.loads(text))
