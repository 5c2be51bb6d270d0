"""OTLP end to end at the collector's default limits: real OTel SDK exporters (gRPC and
HTTP/protobuf) in an app process, a loopback receiver enforcing 4 MiB (gRPC) and 20 MiB (HTTP),
the real OpenAI SDK against the loopback provider, and the store behind the ClickHouse stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmtel.exporters.clickhouse.location import connect, parse_location
from llmtel.exporters.clickhouse.reader import TraceReader
from llmtel.instrumentation import genai_events
from llmtel.loopback import ProviderServer
from llmtel.loopback import openai_replies as ofx
from tests.support.clickhouse_standin import ClickHouseStandIn
from tests.support.otlp_receiver import OTLPReceiver
from tests.support.paths import SUPPORT

APP = str(SUPPORT / "otlp_app.py")
SECRET = "sk-llmtel-e2e-" + uuid.uuid4().hex
CALLS = 100


@pytest.fixture(scope="module")
def receiver() -> Iterator[OTLPReceiver]:
    r = OTLPReceiver()
    yield r
    r.close()


def run_app(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LLMTEL_", "OPENAI_", "ANTHROPIC_"))}
    return subprocess.run(
        [sys.executable, APP, *args], env={**base, **env}, capture_output=True, text=True, timeout=900
    )


def attribute(span: object, key: str) -> str | None:
    for kv in span.attributes:  # type: ignore[attr-defined]
        if kv.key == key:
            return str(kv.value.string_value)
    return None


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_five_megabyte_prompts_arrive_within_budget_and_stay_retrievable(
    protocol: str,
    receiver: OTLPReceiver,
    provider_server: ProviderServer,
    standin: ClickHouseStandIn,
    tmp_path: Path,
) -> None:
    receiver.reset()
    provider_server.reset()
    provider_server.keep_requests = False  # 500 MB of prompts need not stay in this process
    provider_server.always("/v1/chat/completions", ofx.chat("ok"))
    store = standin.url(f"e2e_{uuid.uuid4().hex[:8]}")
    try:
        done = run_app(
            ["budgeted", str(CALLS)],
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint(protocol),
                "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
                "LLMTEL_CLICKHOUSE_URL": store,
                "LLMTEL_SPOOL_DIR": str(tmp_path / "spool"),
                "LLMTEL_QUEUE_MAX_BYTES": str(2 << 30),  # 10 MB per call at full speed; see docs/reliability.md
                "LLMTEL_SHUTDOWN_TIMEOUT": "300",
                "PROVIDER_URL": provider_server.url,
                "SECRET_KEY": SECRET,
            },
        )
    finally:
        provider_server.keep_requests = True
        provider_server.reset()
    assert done.returncode == 0, done.stderr[-3000:]
    spans = [s for s in receiver.spans if s.name == "chat gpt-4o-mini"]
    assert len(spans) == CALLS  # every span arrived
    assert max(s.ByteSize() for s in spans) <= 16 * 1024
    refs = [attribute(s, "gen_ai.input.messages_ref") for s in spans]
    assert all(refs) and len(set(refs)) == CALLS
    with TraceReader(store) as reader:
        assert reader.count() == CALLS
        for i in (0, 37, CALLS - 1):  # the full values behind the refs (5 MB each)
            span = next(s for s in spans if f"call {i}: " in (attribute(s, "gen_ai.input.messages") or ""))
            data = reader.payload(str(attribute(span, "gen_ai.input.messages_ref")))
            assert data is not None and f"call {i}: lorem ipsum".encode() in data and len(data) > 5 << 20
        assert all(t.request_bytes > 5 << 20 for t in reader.traces(limit=CALLS).traces)
    # no secret anywhere: exported spans and metrics, the app's logs, stored rows
    assert receiver.raw and not any(SECRET.encode() in body or b"Bearer " in body for body in receiver.raw)
    assert SECRET not in done.stderr and SECRET not in done.stdout
    location = parse_location(store)
    client = connect(location)
    try:
        big = client.query("SELECT DISTINCT CAST(sha256, 'String') FROM llm_payloads WHERE size > 5000000").result_rows
        assert {row[0] for row in big} == {str(ref).rsplit("/", 1)[1] for ref in refs}  # every full value stored
        leaked = client.query(
            "SELECT (SELECT count() FROM llm_traces WHERE position(concat(request_json, response_json,"
            " request_params_json, ifNull(error_message, '')), {s:String}) > 0)"
            " + (SELECT count() FROM llm_payloads WHERE position(data, {s:String}) > 0)",
            parameters={"s": SECRET},
        ).result_rows[0][0]
    finally:
        client.close()
    assert leaked == 0


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_without_a_budget_the_collector_refuses_the_whole_batch(protocol: str, receiver: OTLPReceiver) -> None:
    """What llmtel's budget prevents: spans carrying whole prompts exceed the collector's limit
    and the batch, small spans included, is lost."""
    receiver.reset()
    done = run_app(
        ["unbudgeted"],
        {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint(protocol), "OTEL_EXPORTER_OTLP_PROTOCOL": protocol},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert receiver.spans == []  # nothing arrived, not even the small span
    if protocol == "grpc":
        assert "RESOURCE_EXHAUSTED" in done.stderr
    else:
        assert receiver.refused and receiver.refused[0] > 20 << 20


@pytest.mark.skipif(not genai_events.SUPPORTED, reason="GenAI events need opentelemetry-api >= 1.35")
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_genai_events_go_out_over_otlp_logs_within_budget(
    protocol: str, receiver: OTLPReceiver, provider_server: ProviderServer, tmp_path: Path
) -> None:
    """``configure()`` with the event content mode and an OTLP endpoint: a logger provider of its
    own exports each call's GenAI event, its 5 MB prompt a structured preview and a ``_ref``
    (the collector's 4 MiB limit holds for logs too), in the call's trace."""
    receiver.reset()
    provider_server.reset()
    provider_server.always("/v1/chat/completions", ofx.chat("ok"))
    done = run_app(
        ["budgeted", "3"],
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint(protocol),
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "event_only",
            "LLMTEL_CLICKHOUSE_URL": f"jsonl://{tmp_path / 'rows'}",
            "LLMTEL_SPOOL_DIR": str(tmp_path / "spool"),
            "PROVIDER_URL": provider_server.url,
            "SECRET_KEY": SECRET,
        },
    )
    provider_server.reset()
    assert done.returncode == 0, done.stderr[-3000:]
    events = [r for r in receiver.logs if r.event_name == "gen_ai.client.inference.operation.details"]
    assert len(events) == 3
    spans = {s.span_id: s for s in receiver.spans if s.name == "chat gpt-4o-mini"}
    for event in events:
        assert event.ByteSize() <= 16 * 1024
        values = {kv.key: kv.value for kv in event.attributes}
        assert values["gen_ai.input.messages_ref"].string_value.startswith("llmtel://llm_payloads/")
        [message] = values["gen_ai.input.messages"].array_value.values
        fields = {kv.key: kv.value for kv in message.kvlist_value.values}
        assert fields["role"].string_value == "user"
        [output] = values["gen_ai.output.messages"].array_value.values
        assert {kv.key: kv.value for kv in output.kvlist_value.values}["finish_reason"].string_value == "stop"
        assert "gen_ai.input.messages" not in {kv.key for kv in spans[event.span_id].attributes}
        assert event.trace_id == spans[event.span_id].trace_id
