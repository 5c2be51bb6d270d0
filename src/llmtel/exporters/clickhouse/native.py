"""An insert's body in ClickHouse's Native format, with the large values sent as they are.

clickhouse-connect writes each block into one growing buffer, so a 5 MB request body in a row
is copied once more (and the buffer reallocated as it grows), and its HTTP client copies each
chunk it sends. Here the column types still write every column, except those in ``big``: their
values (bytes, or a payload's :class:`~llmtel.instrumentation.encoding.EncodedJSON`) go out as
slices of themselves, with the length each needs before it. The format is the one
clickhouse-connect's ``NativeTransform.build_insert`` writes, block for block.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

SLICE = 1 << 18  # what the HTTP client copies per chunk
_SERIALISE_FAILED = b"INTERNAL EXCEPTION WHILE SERIALIZING"  # makes the store refuse the insert


def chunks(context: Any, big: frozenset[str]) -> Iterator[bytes | bytearray | memoryview]:
    """The insert's body for clickhouse-connect's ``raw_insert``. A value a column type cannot
    write ends the body with bytes the store refuses, and is left in ``context.insert_exception``
    (as clickhouse-connect does), so the caller raises that error, not the store's."""
    from clickhouse_connect.driver.common import write_leb128
    from clickhouse_connect.driver.compression import get_compressor

    compressor = get_compressor(context.compression if isinstance(context.compression, str) else None)
    for block in context.next_block():
        out = bytearray(block.prefix)
        write_leb128(block.column_count, out)
        write_leb128(block.row_count, out)
        for name, ch_type, data in zip(block.column_names, block.column_types, block.column_data, strict=True):
            for text in (name, ch_type.insert_name):
                encoded = text.encode()
                write_leb128(len(encoded), out)
                out += encoded
            if name in big:
                for value in data:
                    write_leb128(len(value), out)
                    if len(value) < SLICE:
                        out += value if isinstance(value, (bytes, bytearray)) else b"".join(value)
                        continue
                    yield from _compressed(compressor, _slices((out,)))
                    out = bytearray()
                    yield from _compressed(compressor, _slices(_parts(value)))
                continue
            context.start_column(name)
            try:
                ch_type.write_column(data, out, context)
            except Exception as exc:
                context.insert_exception = exc
                yield _SERIALISE_FAILED
                return
        yield from _compressed(compressor, _slices((out,)))
    footer = compressor.flush()  # type: ignore[no-untyped-call]
    if footer:
        yield footer


def _parts(value: Any) -> Iterable[bytes | bytearray]:
    return (value,) if isinstance(value, (bytes, bytearray)) else value


def _slices(parts: Iterable[bytes | bytearray]) -> Iterator[memoryview]:
    for part in parts:
        view = memoryview(part)
        for start in range(0, len(view), SLICE):
            yield view[start : start + SLICE]


def _compressed(compressor: Any, pieces: Iterable[memoryview]) -> Iterator[bytes | bytearray | memoryview]:
    for piece in pieces:
        packed = compressor.compress_block(piece)
        if packed:
            yield packed
