"""Turn any Python value into JSON text without ever raising, and make valid-JSON previews.

The fast path is one C-accelerated ``json`` call; only values it cannot take (cycles,
NaN, odd keys, deep nesting) go through the slower sanitising walk.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import itertools
import json
import math
import uuid
from collections.abc import Iterator, Mapping
from decimal import Decimal
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, Final

MAX_REPR_CHARS: Final = 1000
MAX_DEPTH: Final = 200
PIECE_CHARS: Final = 1 << 18  # of a large value's text, encoded to bytes at a time (EncodedJSON)
BYTES_MARKER: Final = "$llmtel.bytes_base64"
CYCLE_MARKER: Final = "[llmtel: cycle]"
DEPTH_MARKER: Final = "[llmtel: nested too deep]"


def _repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__qualname__}>"
    if len(text) > MAX_REPR_CHARS:
        return text[:MAX_REPR_CHARS] + f"…[llmtel: +{len(text) - MAX_REPR_CHARS} chars]"
    return text


def _bytes(value: bytes | bytearray | memoryview) -> Any:
    raw = bytes(value)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {BYTES_MARKER: base64.b64encode(raw).decode("ascii")}


def _float(value: float) -> Any:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _convert(value: Any) -> Any:
    """One step towards JSON for a value ``json`` does not know; never raises."""
    try:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return _bytes(value)
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
            return value.isoformat()
        if isinstance(value, datetime.timedelta):
            return value.total_seconds()
        if isinstance(value, (uuid.UUID, Decimal)):
            return str(value)
        if isinstance(value, (set, frozenset)):
            return list(value)
        dump = getattr(value, "model_dump", None)  # pydantic v2, and the SDKs' response models
        if callable(dump) and not isinstance(value, type):
            return dump(mode="json", warnings=False)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        if isinstance(value, Mapping):
            return dict(value)
        if isinstance(value, (list, tuple)):
            return list(value)
    except Exception:
        pass
    return _repr(value)


class _FastEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        return _convert(o)


_fast = _FastEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_plain = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


# The C encoder with the options of ``_fast``, made once: without a markers dict it keeps no
# state, so every thread can share it. It then has no cycle check: a cycle ends in
# RecursionError at the recursion limit, and ``encode`` takes the sanitising walk, which marks it.
_FAST_OPTIONS: Final = (None, _convert, encode_basestring, None, ":", ",", False, False, False)
_c_fast = None if c_make_encoder is None else c_make_encoder(*_FAST_OPTIONS)


def _pieces(value: Any) -> list[str]:
    """The compact JSON text of ``value`` as pieces whose join is the text: the C encoder's own
    when ``json`` has it and takes the value, else one piece from the sanitising walk."""
    try:
        return _c_fast(value, 0) if _c_fast is not None else [_fast.encode(value)]
    except (ValueError, TypeError, RecursionError):
        pass
    try:
        return [_plain.encode(sanitize(value))]
    except Exception:  # sanitize yields plain JSON types; this is belt and braces
        return [_plain.encode(_repr(value))]


def encode_bytes(value: Any) -> bytes:
    """``encode(value)`` as UTF-8 bytes, lone surrogates kept (they round-trip through ``surrogatepass``)."""
    return encode(value).encode("utf-8", "surrogatepass")


class EncodedJSON:
    """``encode_bytes(value)`` kept as the encoder's pieces of text, never joined: a large value
    is held once, as its text, and each piece becomes bytes only as it is read, a slice at a
    time. Joined and encoded at once, a 5 MB value would be three copies at the peak."""

    __slots__ = ("_pieces", "_size")

    def __init__(self, value: Any) -> None:
        self._pieces = _coalesced(_pieces(value))
        self._size = sum(len(p) if p.isascii() else sum(map(len, _utf8_slices(p))) for p in self._pieces)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._pieces:
            yield from _utf8_slices(piece)

    def __bytes__(self) -> bytes:
        return b"".join(self)


def _utf8_slices(text: str) -> Iterator[bytes]:
    for start in range(0, len(text), PIECE_CHARS):
        yield text[start : start + PIECE_CHARS].encode("utf-8", "surrogatepass")


def _coalesced(pieces: list[str]) -> list[str]:
    """Runs of small pieces joined into pieces of about PIECE_CHARS: 50,000 messages are some
    300,000 pieces, which would cost more as objects than their text."""
    out: list[str] = []
    run: list[str] = []
    run_chars = 0
    for piece in pieces:
        if len(piece) < PIECE_CHARS:
            run.append(piece)
            run_chars += len(piece)
            if run_chars < PIECE_CHARS:
                continue
        if run:
            out.append("".join(run))
            run, run_chars = [], 0
        if len(piece) >= PIECE_CHARS:
            out.append(piece)
    if run:
        out.append("".join(run))
    return out


def sanitize(value: Any, _depth: int = 0, _stack: set[int] | None = None) -> Any:
    """A JSON-safe copy of ``value``: markers for cycles and depth, strings for NaN and odd keys."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return _float(value)
    if _depth >= MAX_DEPTH:
        return DEPTH_MARKER
    stack = set() if _stack is None else _stack
    if isinstance(value, dict):
        if id(value) in stack:
            return CYCLE_MARKER
        stack.add(id(value))
        try:
            out: dict[str, Any] = {}
            for key, item in list(value.items()):
                name = key if isinstance(key, str) else encode(key)
                out[name] = sanitize(item, _depth + 1, stack)
            return out
        finally:
            stack.discard(id(value))
    if isinstance(value, (list, tuple)):
        if id(value) in stack:
            return CYCLE_MARKER
        stack.add(id(value))
        try:
            return [sanitize(item, _depth + 1, stack) for item in list(value)]
        finally:
            stack.discard(id(value))
    converted = _convert(value)
    if converted is value or isinstance(converted, str):
        return converted
    if id(value) in stack:
        return CYCLE_MARKER
    stack.add(id(value))
    try:
        return sanitize(converted, _depth + 1, stack)
    finally:
        stack.discard(id(value))


def encode(value: Any) -> str:
    """Compact JSON text for any value. Never raises."""
    kind = type(value)
    if kind is str:
        return _plain.encode(value)
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    return "".join(_pieces(value))


_END: Final = object()  # what an exhausted iterator yields in size_floor


def size_floor(value: Any, stop_at: int) -> int:
    """A lower bound on the UTF-8 size of ``encode(value)``, counted until it passes ``stop_at``:
    the characters of every string and key (escapes and multi-byte characters only add), one
    byte per other value, each container once (so a cycle ends), nothing below MAX_DEPTH (where
    ``encode`` may put a marker). It reads no string's contents and walks containers lazily, so
    the cost is what it counts: a 5 MB prompt is a few steps, 50,000 messages stop at stop_at."""
    size = 0
    seen: set[int] = set()
    stack: list[Iterator[Any]] = [iter((value,))]  # its depth is the depth of what it yields
    while stack and size <= stop_at:
        item: Any = next(stack[-1], _END)
        if item is _END:
            stack.pop()
            continue
        kind = type(item)
        if kind is str:
            size += len(item) + 2
        elif kind is dict or kind is list or kind is tuple:
            if id(item) in seen or len(stack) > MAX_DEPTH:
                continue
            seen.add(id(item))
            size += 1 + max(len(item), 1)  # brackets and the commas between items
            # a dict yields each key then its value: a key counted as a string is a lower bound too
            stack.append(itertools.chain.from_iterable(item.items()) if kind is dict else iter(item))
        else:
            size += 1
    return size


def utf8_len(text: str) -> int:
    """Byte length of ``text`` in UTF-8, without encoding when the answer is already known."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def cut_marker(cut_bytes: int) -> str:
    """The marker that ends a cut string, saying how many bytes were left out."""
    return f"…[llmtel: +{cut_bytes} bytes]"


def _cut_string(text: str, keep_chars: int) -> str:
    if len(text) <= keep_chars:
        return text
    head = text[:keep_chars]
    return head + cut_marker(utf8_len(text) - utf8_len(head))


def _shrink(value: Any, str_cap: int, item_cap: int, depth: int) -> Any:
    if isinstance(value, str):
        return _cut_string(value, str_cap)
    if isinstance(value, dict):
        if depth <= 0:
            return f"[llmtel: object with {len(value)} keys]"
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            if i >= item_cap:
                out["…"] = f"[llmtel: +{len(value) - item_cap} keys]"
                break
            out[_cut_string(key, str_cap)] = _shrink(item, str_cap, item_cap, depth - 1)
        return out
    if isinstance(value, list):
        if depth <= 0:
            return f"[llmtel: array of {len(value)} items]"
        items = [_shrink(item, str_cap, item_cap, depth - 1) for item in value[:item_cap]]
        if len(value) > item_cap:
            items.append(f"[llmtel: +{len(value) - item_cap} items]")
        return items
    return value


def preview(tree: Any, limit: int, total_bytes: int) -> str:
    """Valid JSON of at most ``limit`` bytes that keeps the shape of ``tree`` (any value; objects
    JSON does not know are converted as ``encode`` converts them).

    Long strings are cut with a marker saying how many bytes were cut; long arrays and
    objects keep their first items; deep levels collapse to a one-line summary. When not
    even that fits, a string saying how large the value was (``total_bytes``).
    """
    str_cap, item_cap, depth = max(16, limit // 2), 64, 12
    while True:
        text = encode(_shrink(tree, str_cap, item_cap, depth))
        if utf8_len(text) <= limit:
            return text
        if str_cap > 16:
            str_cap //= 2
        elif item_cap > 2:
            item_cap //= 2
        elif depth > 0:
            depth -= 1
        else:
            break
    for text in (_plain.encode(f"[llmtel: {total_bytes} bytes]"), '"…"', '""'):
        if utf8_len(text) <= limit:
            return text
    return "0"
