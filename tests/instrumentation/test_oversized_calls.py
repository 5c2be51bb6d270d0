"""A call bigger than the writer's queue still gets its row (metadata, usage, a preview, the
size and sha256 of what was too big), and no span names a payload that was not stored."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from llmtel.exporters.clickhouse.disk import Part
from llmtel.exporters.clickhouse.location import parse_location
from llmtel.exporters.clickhouse.reader import TraceReader
from llmtel.exporters.clickhouse.writer import ClickHouseWriter
from llmtel.instrumentation import active, provider_trace
from llmtel.instrumentation.provider_trace import CUT_MARKER
from llmtel.instrumentation.records import LLMCall
from llmtel.loopback import ProviderServer
from llmtel.loopback import openai_replies as fx
from tests.support.telemetry import Telemetry
from tests.support.trace_records import full_trace

CHAT = "/v1/chat/completions"
QUEUE = 1 << 20


@pytest.fixture
def small_writer(store_url: str, tmp_path: Path, tel: Telemetry) -> Iterator[ClickHouseWriter]:
    writer = ClickHouseWriter(
        parse_location(store_url), spool_dir=str(tmp_path / "spool"), flush_interval=0.05, max_queue_bytes=QUEUE
    )
    tel.configure(capture_content=True, queue_max_bytes=QUEUE)
    active.install(active.Setup(active.setup.settings, payload_sink=writer, trace_sink=writer))
    yield writer
    writer.shutdown(10)


def test_a_call_bigger_than_the_queue_is_a_row_with_what_was_cut(
    server: ProviderServer, small_writer: ClickHouseWriter, store_url: str, tel: Telemetry
) -> None:
    prompt = "lorem ipsum " * 300_000  # 3.6 MB: more than the whole queue
    server.expect(CHAT, fx.chat("short answer", prompt_tokens=900_000))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    result = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    assert result.choices[0].message.content == "short answer"
    sent = server.received[-1].body
    assert small_writer.flush(30)
    with TraceReader(store_url) as reader:
        [row] = reader.traces(limit=10).traces
    assert (row.input_tokens, row.output_tokens, row.response_id) == (900_000, 3, "chatcmpl-1")
    assert row.request_bytes == len(sent) and len(row.request_json) < 64_000
    cut = json.loads(row.request_json)
    assert cut[CUT_MARKER] == {"bytes": len(sent), "sha256": hashlib.sha256(sent).hexdigest(), "reason": "too_big"}
    assert len(cut["head"]) > 1000 and sent.decode().startswith(cut["head"][:1000])  # the body's first bytes
    assert json.loads(row.response_json)["choices"][0]["message"]["content"] == "short answer"  # small: kept whole
    span = tel.span("chat gpt-4o-mini")
    assert "gen_ai.input.messages" in span.attributes  # the budgeted preview
    assert "gen_ai.input.messages_ref" not in span.attributes  # the sink refused the 3.6 MB value: no dangling ref
    assert tel.counter("llmtel.provider_traces.bodies_cut", reason="too_big") >= 1
    assert tel.counter("llmtel.payloads.dropped", reason="rejected") >= 1


def test_big_bodies_are_stored_as_sent_beside_text_bodies_in_one_batch(
    server: ProviderServer, store_url: str, tmp_path: Path, tel: Telemetry
) -> None:
    """An ASCII wire body goes into its insert as the bytes the SDK sent (no decoded copy); a
    non-ASCII one and a trace built from spans (text) share the same insert."""
    writer = ClickHouseWriter(parse_location(store_url), spool_dir=str(tmp_path / "spool"), flush_interval=30)
    inserts: list[tuple[str, int]] = []
    insert = writer._insert

    def seen(part: Part) -> None:
        inserts.append((part[0], len(part[2])))
        insert(part)

    writer._insert = seen  # type: ignore[method-assign]
    tel.configure(capture_content=True)
    active.install(active.Setup(active.setup.settings, payload_sink=writer, trace_sink=writer))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    prompts = ["lorem ipsum " * 100_000, "crème brûlée " * 1000]  # 1.2 MB of ASCII, then UTF-8
    for prompt in prompts:
        server.expect(CHAT, fx.chat("ok"))
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    sent = [request.body for request in server.received[-2:]]
    spans_trace = full_trace(request_json='{"from":"spans","é":"ü"}')
    assert writer.offer(spans_trace)
    assert writer.flush(30)
    writer.shutdown(10)
    with TraceReader(store_url) as reader:
        rows = {row.id: row for row in reader.traces(limit=10).traces}
    assert len(rows) == 3
    assert [n for kind, n in inserts if kind == "traces"] == [3]  # one insert: none refused, none sent again
    assert rows.pop(spans_trace.id).request_json == '{"from":"spans","é":"ü"}'
    assert sorted(row.request_json for row in rows.values()) == sorted(body.decode() for body in sent)
    assert sorted(row.request_bytes for row in rows.values()) == sorted(len(body) for body in sent)


def test_a_wire_body_is_the_row_value_itself(tel: Telemetry) -> None:
    """``build(wire=True)`` hands the writer the body object the SDK sent, and text otherwise."""
    tel.configure(capture_content=True)
    body = b'{"model":"m","messages":[{"role":"user","content":"' + b"x" * 1_000_000 + b'"}]}'
    call = LLMCall(provider="openai", operation="chat", request=body, response=b'{"caf\xc3\xa9":1}')
    wired = provider_trace.build(call, wire=True)
    assert wired.request_json is body
    assert wired.response_json == '{"café":1}'  # not ASCII: decoded
    assert provider_trace.build(call).request_json == body.decode()  # what InMemorySink and users get
