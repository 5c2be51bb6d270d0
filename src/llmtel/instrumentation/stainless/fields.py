"""Reading a field from a response that arrives as decoded JSON or as an SDK model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

_MISSING = object()
_PLACEHOLDERS: Final = frozenset({"NotGiven", "Omit"})  # the SDKs' markers for a parameter left out


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


def sent_params(body: Mapping[str, Any], leave_out: frozenset[str]) -> dict[str, Any]:
    """The request's parameters but ``leave_out``, without the SDKs' placeholders (``NotGiven``,
    ``Omit``) for parameters the app left out: the SDK drops those before sending."""
    return {k: v for k, v in body.items() if k not in leave_out and type(v).__name__ not in _PLACEHOLDERS}


def fields_of(obj: Any) -> Mapping[str, Any]:
    """Every field of ``obj`` as a mapping, for reading several at C speed: a dict as it is, an
    SDK (pydantic) model's field dict with any extra fields it kept, ``{}`` for None."""
    if type(obj) is dict:
        return obj
    if obj is None:
        return {}
    values = getattr(obj, "__dict__", None)
    if values is None:
        return obj if isinstance(obj, Mapping) else {}
    extra = getattr(obj, "__pydantic_extra__", None)
    return {**values, **extra} if extra else values
