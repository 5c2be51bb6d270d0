"""ClickHouseWriter on real embedded ClickHouse (chdb): every field and payload stored, once."""

from __future__ import annotations

import gc
import hashlib
import time

from llmtel.exporters.clickhouse import schema
from llmtel.exporters.clickhouse.location import connect, parse_location
from llmtel.exporters.clickhouse.reader import TraceReader
from llmtel.exporters.clickhouse.writer import ClickHouseWriter
from llmtel.instrumentation import active, budget, llm_context
from llmtel.instrumentation.config import Settings
from tests.conftest import WriterFactory
from tests.support.telemetry import Telemetry
from tests.support.trace_records import bare_trace, full_trace


def test_every_field_round_trips(store_url: str, make_writer: WriterFactory) -> None:
    writer = make_writer(store_url)
    full, bare = full_trace(), bare_trace()
    assert writer.offer(full) and writer.offer(bare)
    assert writer.flush(30)
    with TraceReader(store_url) as reader:
        assert reader.get(full.id) == full
        assert reader.get(bare.id) == bare
        assert reader.by_trace(full.trace_id.upper()) == [full]


def test_queued_traces_wait_as_rows_the_garbage_collector_does_not_track(
    store_url: str, make_writer: WriterFactory
) -> None:
    writer = make_writer(store_url, flush_interval=60)  # no write while we look at the queue
    traces = [full_trace() for _ in range(ClickHouseWriter.prepare_every)]
    for trace in traces:
        assert writer.offer(trace)
    deadline = time.monotonic() + 10
    while not all(type(item) is tuple for item in list(writer._items)) and time.monotonic() < deadline:
        time.sleep(0.01)
    gc.collect()  # a collection stops tracking tuples of plain values: the tags and reasons first,
    gc.collect()  # then the rows that hold them (as a young row's next, generation-1 pass would)
    assert not [item for item in list(writer._items) if gc.is_tracked(item)]  # never promoted, never collected
    assert writer.flush(30)
    with TraceReader(store_url) as reader:
        assert [reader.get(trace.id) for trace in traces] == traces


def test_ten_megabyte_payloads_round_trip(store_url: str, make_writer: WriterFactory) -> None:
    writer = make_writer(store_url)
    big = '{"messages":[{"role":"user","content":"' + "ä" * (5 << 20) + '"}]}'  # 10 MiB of UTF-8
    trace = full_trace(request_json=big, request_bytes=len(big.encode()))
    data = big.encode()
    sha = hashlib.sha256(data).hexdigest()
    assert writer.offer(trace) and writer.offer_payload(sha, data)
    assert writer.flush(60)
    with TraceReader(store_url) as reader:
        stored = reader.get(trace.id)
        assert stored is not None and stored.request_json == big
        assert reader.payload(f"llmtel://llm_payloads/{sha}") == data


def test_identical_payloads_are_stored_once(store_url: str, make_writer: WriterFactory) -> None:
    writer = make_writer(store_url)
    data = b'{"tools":[{"name":"search","parameters":{"type":"object"}}]}'
    sha = hashlib.sha256(data).hexdigest()
    for _ in range(3):  # three batches, as three calls sending the same tool schema would
        assert writer.offer_payload(sha, data)
        assert writer.flush(30)
    assert writer.offer_payload(sha, data) and writer.offer_payload(sha, data)  # twice in one batch
    assert writer.flush(30)
    location = parse_location(store_url)
    client = connect(location)
    try:
        client.command(f"OPTIMIZE TABLE {schema.PAYLOADS} FINAL")
        assert client.query(f"SELECT count(), any(data) FROM {schema.PAYLOADS}").result_rows == [(1, data.decode())]
    finally:
        client.close()


def test_offloaded_span_values_land_in_the_store(store_url: str, make_writer: WriterFactory, tel: Telemetry) -> None:
    """A value too big for a span attribute is readable through the ref the span carries."""
    writer = make_writer(store_url)
    active.install(active.Setup(Settings(), payload_sink=writer, trace_sink=writer))
    budget.forget_offered()
    data = ('{"schema":"' + "s" * 9000 + '"}').encode()
    with llm_context(org_id="acme"):
        ref = budget.offload(data)
    assert writer.flush(30)
    with TraceReader(store_url, org_id="acme") as reader:
        assert reader.payload(ref) == data
    with TraceReader(store_url, org_id="other") as reader:
        assert reader.payload(ref) is None  # another tenant cannot resolve it
