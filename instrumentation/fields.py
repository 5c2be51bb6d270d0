"""Reading a field from a response that arrives as decoded JSON or as an SDK model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MISSING = object()


def get(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for mappings, ``obj.key`` for SDK models.

    Plain dicts and attributes are tried before ``isinstance(obj, Mapping)``: that check is an
    ABC lookup, and the SDKs register new virtual subclasses as they run, which empties the
    ABC caches, so on an SDK model it costs more than the read itself. No key read here is
    also a Mapping method name, so an attribute found is the field."""
    if type(obj) is dict:
        return obj.get(key, default)
    if obj is None:  # an absent parent: its fields are absent too
        return default
    value = getattr(obj, key, _MISSING)
    if value is not _MISSING:
        return value
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return default
