"""A call bigger than the writer's queue still gets its row (metadata, usage, a preview, the
size and sha256 of what was too big), and no span names a payload that was not stored."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from llmtel.exporters.clickhouse.location import parse_location
from llmtel.exporters.clickhouse.reader import TraceReader
from llmtel.exporters.clickhouse.writer import ClickHouseWriter
from llmtel.instrumentation import active
from llmtel.instrumentation.provider_trace import CUT_MARKER
from llmtel.loopback import ProviderServer
from llmtel.loopback import openai_replies as fx
from tests.support.telemetry import Telemetry

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
    assert cut["head"].startswith('{"model":"gpt-4o-mini","messages":')
    assert json.loads(row.response_json)["choices"][0]["message"]["content"] == "short answer"  # small: kept whole
    span = tel.span("chat gpt-4o-mini")
    assert "gen_ai.input.messages" in span.attributes  # the budgeted preview
    assert "gen_ai.input.messages_ref" not in span.attributes  # the sink refused the 3.6 MB value: no dangling ref
    assert tel.counter("llmtel.provider_traces.bodies_cut", reason="too_big") >= 1
    assert tel.counter("llmtel.payloads.dropped", reason="rejected") >= 1
