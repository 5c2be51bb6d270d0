"""Reading a field from a response that arrives as decoded JSON or as an SDK model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def get(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for mappings, ``obj.key`` for SDK models. Plain dicts are checked first:
    they are the common case and the cheapest test."""
    if type(obj) is dict:
        return obj.get(key, default)
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)
