"""GenAI metrics are queued by the call and recorded when a reader collects: every call is in
the next collection, exactly, with exemplars that point at its span."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from llmtel.instrumentation import genai_metrics
from llmtel.loopback import ProviderServer
from llmtel.loopback import openai_replies as fx
from tests.support.telemetry import Telemetry


def points(tel: Telemetry, name: str, model: str) -> list[Any]:
    return [p for p in tel.metric_points(name) if p.attributes.get("gen_ai.request.model") == model]


def calls(server: ProviderServer, model: str, n: int) -> None:
    server.always("/v1/chat/completions", fx.chat("ok", prompt_tokens=11, completion_tokens=5))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0)
    for _ in range(n):
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


def test_every_call_is_in_the_next_collection_with_exemplars(server: ProviderServer, tel: Telemetry) -> None:
    calls(server, "metrics-exact", 7)
    (duration,) = points(tel, "gen_ai.client.operation.duration", "metrics-exact")
    assert duration.count == 7 and 0 < duration.sum < 7 * 5  # seconds, each call well under 5 s
    tokens = {p.attributes["gen_ai.token.type"]: p for p in points(tel, "gen_ai.client.token.usage", "metrics-exact")}
    assert (tokens["input"].count, tokens["input"].sum) == (7, 77)
    assert (tokens["output"].count, tokens["output"].sum) == (7, 35)
    span_ids = {s.context.span_id for s in tel.spans() if s.attributes.get("gen_ai.request.model") == "metrics-exact"}
    assert duration.exemplars and {e.span_id for e in duration.exemplars} <= span_ids
    assert not any(m.waiting for m in genai_metrics._all.values())  # the collection took everything queued


def test_past_the_bound_calls_record_at_once_and_none_is_lost(
    server: ProviderServer, tel: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    tel.reader.collect()  # start from an empty queue
    monkeypatch.setattr(genai_metrics, "MAX_WAITING", 2)
    calls(server, "metrics-bounded", 5)
    assert max(len(m.waiting) for m in genai_metrics._all.values()) == 2  # bounded with no reader collecting
    (duration,) = points(tel, "gen_ai.client.operation.duration", "metrics-bounded")
    assert duration.count == 5


def test_each_instrument_keeps_the_attributes_the_conventions_give_it() -> None:
    """The duration keeps error.type and the provider's response attributes; the time to first
    chunk drops the latter; token usage drops error.type, which it does not define. None loses a
    key another instrument dropped (opentelemetry-sdk 1.30 keeps the very dict it is given as the
    point's attributes)."""
    reader = InMemoryMetricReader()
    recorder = genai_metrics.GenAIMetrics("llmtel-attr-test", MeterProvider(metric_readers=[reader]))
    pairs = (
        ("gen_ai.operation.name", "chat"),
        ("error.type", "APIConnectionError"),
        ("openai.response.service_tier", "default"),
        ("openai.response.system_fingerprint", "fp_1"),
    )
    recorder.record_call((0.5, 0.1, 12, 3, pairs, 1, 2, 1))
    data = reader.get_metrics_data()
    assert data is not None
    seen = {
        m.name: [dict(p.attributes) for p in m.data.data_points]
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name.startswith("gen_ai.")
    }
    assert seen["gen_ai.client.operation.duration"] == [dict(pairs)]
    assert seen["gen_ai.client.operation.time_to_first_chunk"] == [dict(pairs[:2])]
    usage = {k: v for k, v in pairs if k != "error.type"}
    assert sorted(seen["gen_ai.client.token.usage"], key=str) == sorted(
        [{**usage, "gen_ai.token.type": "input"}, {**usage, "gen_ai.token.type": "output"}], key=str
    )
