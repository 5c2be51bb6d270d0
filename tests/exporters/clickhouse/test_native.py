"""The insert body llmtel sends (native.chunks) against clickhouse-connect's own Native writer,
and a large payload and body through the real store, read back byte for byte."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import lz4.frame
import pytest
from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.insert import InsertContext
from clickhouse_connect.driver.transform import NativeTransform

from llmtel.exporters.clickhouse import native
from llmtel.exporters.clickhouse.reader import TraceReader
from llmtel.instrumentation.encoding import EncodedJSON, encode_bytes
from llmtel.instrumentation.records import LateJSON
from tests.conftest import WriterFactory
from tests.support.trace_records import full_trace

BIG = frozenset({"body"})
VALUE = {"role": "user", "content": "lorem ipsum " * 60_000, "note": "crème brûlée " * 30_000}


def _context(rows: list[list[Any]], compression: str | None = None) -> InsertContext:
    names = ["id", "body", "tags"]
    types = [get_from_name(t) for t in ("UInt64", "String", "Array(LowCardinality(String))")]
    context = InsertContext("db.t", names, types, data=rows)
    context.compression = compression
    return context


def _rows() -> list[list[Any]]:
    big = b"x" * (3 * native.SLICE + 17)
    return [
        [1, big, ["a"]],
        [2, b"", []],
        [3, EncodedJSON(VALUE), ["b", "c"]],
        [4, b'{"small":"\xc3\xa9"}', ["d"]],
    ]


def _sent(pieces: Any) -> bytes:
    return b"".join(bytes(piece) for piece in pieces)


def test_the_body_is_what_clickhouse_connect_writes_with_large_values_sent_as_themselves() -> None:
    rows = _rows()
    expected_rows = [[r[0], bytes(r[1]), r[2]] for r in rows]
    expected = _sent(NativeTransform.build_insert(_context(expected_rows)))
    pieces = list(native.chunks(_context(rows), BIG))
    assert _sent(pieces) == expected
    assert all(len(piece) <= native.SLICE for piece in pieces)  # what the HTTP client copies per chunk
    big = rows[0][1]
    assert any(isinstance(p, memoryview) and p.obj is big for p in pieces)  # sent from itself, not a copy


def test_compressed_bodies_decompress_to_the_same_native_bytes() -> None:
    rows = _rows()
    expected = _sent(NativeTransform.build_insert(_context([[r[0], bytes(r[1]), r[2]] for r in rows])))
    frames = list(native.chunks(_context(rows, "lz4"), BIG))
    assert len(frames) > 1
    assert b"".join(lz4.frame.decompress(bytes(frame)) for frame in frames) == expected


def test_a_value_a_column_cannot_write_fails_the_insert_with_its_own_error() -> None:
    context = _context([[1, b"x", ["a"]], ["not a number", b"y", ["b"]]])
    body = _sent(native.chunks(context, BIG))
    assert body.endswith(b"INTERNAL EXCEPTION WHILE SERIALIZING")
    assert context.insert_exception is not None


@pytest.mark.parametrize("value", [VALUE, "\ud800 lone", {"n": float("nan")}, [1, 2, 3]])
def test_an_encoded_value_is_the_bytes_of_its_json(value: Any) -> None:
    encoded = EncodedJSON(value)
    assert bytes(encoded) == encode_bytes(value) and len(encoded) == len(bytes(encoded))


def test_large_payloads_and_bodies_round_trip_through_the_store(store_url: str, make_writer: WriterFactory) -> None:
    writer = make_writer(store_url)
    key = secrets.token_hex(32)
    body = b'{"model":"m","messages":[' + b'"' + b"y" * (2 * native.SLICE) + b'"]}'
    trace = full_trace(request_json=body.decode())
    assert writer.offer_payload(key, LateJSON(VALUE, 1000)) and writer.offer(trace)
    assert writer.flush(30)
    with TraceReader(store_url) as reader:
        assert reader.payload(key) == encode_bytes(VALUE)
        stored = reader.get(trace.id)
    assert stored is not None and hashlib.sha256(stored.request_json.encode()).digest() == hashlib.sha256(body).digest()
