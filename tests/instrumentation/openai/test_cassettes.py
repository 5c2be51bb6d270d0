"""Every recorded OpenAI exchange, replayed through the real SDK (sync and async) over HTTP:
the app gets exactly what it gets uninstrumented, and the provider trace matches what the
provider reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from llmtel.loopback import ProviderServer
from tests.support.cassettes import FIXTURES, Exchange, load
from tests.support.openai_calls import run_async, run_sync
from tests.support.telemetry import Telemetry, uninstrumented

CASSETTES = sorted(p.stem for p in Path(FIXTURES).glob("*.yaml"))


def sse_objects(exchange: Exchange) -> list[dict[str, Any]]:
    out = []
    for event in exchange.reply.events:
        for line in event.decode().splitlines():
            if line.startswith("data: ") and line != "data: [DONE]":
                out.append(json.loads(line[6:]))
    return out


def expected(exchange: Exchange) -> dict[str, Any]:
    """What the provider reported, read straight from the recorded bytes."""
    if exchange.status >= 400:
        return {"is_error": True}
    if exchange.reply.events:
        objects = sse_objects(exchange)
        completed = [o["response"] for o in objects if o.get("type") == "response.completed"]
        if completed:
            return response_fields(completed[0])
        usage = next((o["usage"] for o in objects if o.get("usage")), None)
        by_choice: dict[int, list[str]] = {}
        tools: dict[tuple[int, int], dict[str, Any]] = {}
        finish: dict[int, str] = {}
        for o in objects:
            for c in o.get("choices", []):
                by_choice.setdefault(c["index"], []).append(c["delta"].get("content") or "")
                for t in c["delta"].get("tool_calls") or []:
                    slot = tools.setdefault((c["index"], t["index"]), {"name": "", "arguments": ""})
                    slot["name"] += t.get("function", {}).get("name") or ""
                    slot["arguments"] += t.get("function", {}).get("arguments") or ""
                if c.get("finish_reason"):
                    finish[c["index"]] = c["finish_reason"]
        return {
            "response_id": objects[0]["id"],
            "response_model": objects[0]["model"],
            "finish_reasons": [finish[i] for i in sorted(finish)] or ["incomplete"],
            "input_tokens": usage["prompt_tokens"] if usage else None,
            "output_tokens": usage["completion_tokens"] if usage else None,
            "texts": ["".join(by_choice[i]) for i in sorted(by_choice)],
            "tools": [tools[k] for k in sorted(tools)],
        }
    return response_fields(json.loads(exchange.reply.body))


def responses_finish_reason(data: dict[str, Any]) -> str:
    """docs/semantic-conventions.md: a Responses API status in Chat Completions' finish reasons."""
    if data["status"] == "incomplete":
        reason = (data.get("incomplete_details") or {}).get("reason")
        return {"max_output_tokens": "length", "content_filter": "content_filter"}.get(reason, "incomplete")
    return {"completed": "stop"}.get(data["status"], data["status"])


def response_fields(data: dict[str, Any]) -> dict[str, Any]:
    usage = data.get("usage") or {}
    fields: dict[str, Any] = {
        "response_model": data["model"],
        "input_tokens": usage.get("prompt_tokens", usage.get("input_tokens")),
        "output_tokens": usage.get("completion_tokens", usage.get("output_tokens")),
    }
    if data.get("object") == "response":
        fields["response_id"] = data["id"]
        fields["finish_reasons"] = [responses_finish_reason(data)]
        details = usage.get("output_tokens_details") or {}
        fields["reasoning_tokens"] = details.get("reasoning_tokens")
        fields["cache_read_input_tokens"] = (usage.get("input_tokens_details") or {}).get("cached_tokens")
    elif data.get("object") == "chat.completion":
        fields["response_id"] = data["id"]
        fields["finish_reasons"] = [c["finish_reason"] for c in data["choices"]]
        fields["texts"] = [c["message"].get("content") or "" for c in data["choices"]]
        fields["tools"] = [
            {"name": t["function"]["name"], "arguments": t["function"]["arguments"]}
            for c in data["choices"]
            for t in c["message"].get("tool_calls") or []
        ]
    return fields


def check_trace(record: Any, exchange: Exchange, sent: bytes) -> None:
    want = expected(exchange)
    assert record.provider == "openai"
    assert record.request_model == exchange.request.get("model")
    assert record.request_json.encode() == sent  # exactly the bytes the SDK sent, not re-encoded
    if want.get("is_error"):
        assert record.is_error and record.error_type and hasattr(openai, record.error_type)  # the SDK's class
        assert json.loads(record.response_json)  # the error body is kept
        return
    assert not record.is_error
    for key in (
        "response_id",
        "response_model",
        "finish_reasons",
        "input_tokens",
        "output_tokens",
        "reasoning_tokens",
        "cache_read_input_tokens",
    ):
        if key in want:
            assert getattr(record, key) == want[key], key
    response = json.loads(record.response_json)
    if "texts" in want:
        texts = [c["message"].get("content") or "" for c in response["choices"]]
        assert texts == want["texts"]
    if "tools" in want:
        tools = [
            {"name": t["function"]["name"], "arguments": t["function"]["arguments"]}
            for c in response["choices"]
            for t in c["message"].get("tool_calls") or []
        ]
        assert tools == want["tools"]
    assert record.is_stream == bool(exchange.request.get("stream"))
    if record.is_stream:
        assert record.time_to_first_token_ms is not None and record.time_to_first_token_ms >= 0


@pytest.mark.parametrize("name", CASSETTES)
def test_cassette_sync(name: str, server: ProviderServer, tel: Telemetry, instrumentors: Any) -> None:
    exchanges = load(name)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test-secret", max_retries=0)
    with uninstrumented(instrumentors):
        for exchange in exchanges:
            server.expect(exchange.path, exchange.reply)
        plain = [run_sync(client, e) for e in exchanges]
    assert tel.traces() == []
    for exchange in exchanges:
        server.expect(exchange.path, exchange.reply)
    server.received.clear()
    traced = [run_sync(client, e) for e in exchanges]
    assert traced == plain
    records = tel.traces()
    assert len(records) == len(exchanges)
    for record, exchange, sent in zip(records, exchanges, server.received, strict=True):
        check_trace(record, exchange, sent.body)
    for span in tel.spans():
        assert "sk-test-secret" not in json.dumps(dict(span.attributes))


@pytest.mark.parametrize("name", [c for c in CASSETTES if "async" in c or "responses" in c])
async def test_cassette_async(name: str, server: ProviderServer, tel: Telemetry, instrumentors: Any) -> None:
    exchanges = load(name)
    client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0)
    with uninstrumented(instrumentors):
        for exchange in exchanges:
            server.expect(exchange.path, exchange.reply)
        plain = [await run_async(client, e) for e in exchanges]
    for exchange in exchanges:
        server.expect(exchange.path, exchange.reply)
    server.received.clear()
    traced = [await run_async(client, e) for e in exchanges]
    assert traced == plain
    records = tel.traces()
    assert len(records) == len(exchanges)
    for record, exchange, sent in zip(records, exchanges, server.received, strict=True):
        check_trace(record, exchange, sent.body)


CONTENT = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions")


def check_content_shape(span: Any) -> None:
    """What the conventions' message and tool-definition JSON schemas require of captured content."""
    attrs = dict(span.attributes)
    content = {key: json.loads(str(attrs[key])) for key in CONTENT if key in attrs}
    if attrs.get("gen_ai.operation.name") == "embeddings":  # the embeddings span defines no messages
        assert "gen_ai.input.messages" not in content and "gen_ai.output.messages" not in content
    for message in content.get("gen_ai.input.messages", []):
        assert isinstance(message["role"], str) and isinstance(message["parts"], list)
        assert all(isinstance(part["type"], str) for part in message["parts"])
    for message in content.get("gen_ai.output.messages", []):
        assert isinstance(message["role"], str) and isinstance(message["parts"], list)
        assert isinstance(message["finish_reason"], str), message
    for part in content.get("gen_ai.system_instructions", []):
        assert isinstance(part["type"], str)
    for tool in content.get("gen_ai.tool.definitions", []):
        assert isinstance(tool["type"], str) and isinstance(tool["name"], str), tool
        assert "function" not in tool  # flat, as the schema has it
        if tool["type"] == "function":
            assert "parameters" in tool


def replay_spans(name: str, server: ProviderServer, tel: Telemetry) -> tuple[list[Exchange], list[Any]]:
    """Replay cassette ``name`` through the sync SDK: its exchanges and their LLM spans, in order."""
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0)
    exchanges = load(name)
    for exchange in exchanges:
        server.expect(exchange.path, exchange.reply)
    for exchange in exchanges:
        run_sync(client, exchange)
    spans = [s for s in tel.spans() if s.attributes and "gen_ai.operation.name" in s.attributes]
    assert len(spans) == len(exchanges)
    return exchanges, spans


@pytest.mark.parametrize("name", CASSETTES)
def test_captured_content_has_the_conventions_shape(
    name: str, server: ProviderServer, tel: Telemetry, instrumentors: Any
) -> None:
    tel.configure(capture_content=True)
    _, spans = replay_spans(name, server, tel)
    for span in spans:
        check_content_shape(span)


def reported_openai_attributes(exchange: Exchange) -> dict[str, str]:
    """The ``openai.response.*`` values the provider reported: the whole response's, a Responses
    stream's final response's, or the first a chat stream's chunks gave."""
    if exchange.status >= 400:
        return {}
    if exchange.reply.events:
        objects = sse_objects(exchange)
        final = [o["response"] for o in objects if o.get("type") in ("response.completed", "response.incomplete")]
        if final:
            objects = final
        elif any("type" in o for o in objects):  # a Responses stream that never finished
            return {}
    else:
        objects = [json.loads(exchange.reply.body)]
    found: dict[str, str] = {}
    for key in ("service_tier", "system_fingerprint"):
        value = next((o[key] for o in objects if o.get(key)), None)
        if value:
            found[f"openai.response.{key}"] = value
    return found


@pytest.mark.parametrize("name", CASSETTES)
def test_openai_attributes_say_what_was_asked_and_reported(
    name: str, server: ProviderServer, tel: Telemetry, instrumentors: Any
) -> None:
    """docs/semantic-conventions.md: ``openai.api.type``, ``openai.request.service_tier`` (unless
    ``auto``) and the response's service tier and fingerprint, on the span; the response's two on
    the duration and token usage metrics (OpenAI's refinements of both), not the time to first chunk."""
    exchanges, spans = replay_spans(name, server, tel)
    for span, exchange in zip(spans, exchanges, strict=True):
        attrs = dict(span.attributes or {})
        api_type = {"/v1/chat/completions": "chat_completions", "/v1/responses": "responses"}.get(exchange.path)
        assert attrs.get("openai.api.type") == api_type
        tier = exchange.request.get("service_tier")
        assert attrs.get("openai.request.service_tier") == (None if tier == "auto" else tier)
        reported = reported_openai_attributes(exchange)
        assert {k: v for k, v in attrs.items() if k.startswith("openai.response.")} == reported
    # the metric reader is the session's: each reported pair must be among its points
    for metric in ("gen_ai.client.operation.duration", "gen_ai.client.token.usage"):
        seen = {
            frozenset((k, v) for k, v in p.attributes.items() if k.startswith("openai.response."))
            for p in tel.metric_points(metric)
        }
        for span, exchange in zip(spans, exchanges, strict=True):
            if metric == "gen_ai.client.operation.duration" or "gen_ai.usage.input_tokens" in (span.attributes or {}):
                assert frozenset(reported_openai_attributes(exchange).items()) in seen, metric
    for point in tel.metric_points("gen_ai.client.operation.time_to_first_chunk"):
        assert not any(k.startswith("openai.response.") for k in point.attributes), point.attributes
