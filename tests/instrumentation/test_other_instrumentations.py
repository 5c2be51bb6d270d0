"""One row per provider call when other code also emits GenAI spans for it (a framework's chat
span, another instrumentor's): llmtel's call is the row, its span nests under theirs, and a
foreign model-call span is a row only for a call llmtel did not see. Agent and tool spans
are never rows."""

from __future__ import annotations

import json

import openai
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from llmtel.loopback import ProviderServer
from llmtel.loopback import openai_replies as fx
from tests.support.telemetry import Telemetry

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "hi"}]
framework = trace.get_tracer("some.agent.framework")


def chat_span_attributes(model: str = "gpt-4o-mini") -> dict[str, object]:
    return {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": model}


def test_a_framework_chat_span_around_the_sdk_call_is_one_row(server: ProviderServer, tel: Telemetry) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    server.expect(CHAT, fx.chat("hello", prompt_tokens=11))
    with framework.start_as_current_span("invoke_agent helper", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with framework.start_as_current_span(
            "chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=chat_span_attributes()
        ) as outer:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            outer.set_attributes({"gen_ai.usage.input_tokens": 11, "gen_ai.usage.output_tokens": 3})
        with framework.start_as_current_span(
            "execute_tool get_weather", attributes={"gen_ai.operation.name": "execute_tool"}
        ):
            pass
    [row] = tel.traces()
    assert row.input_tokens == 11 and json.loads(row.request_json)["messages"] == MESSAGES  # llmtel's, with payloads
    ours = [s for s in tel.spans() if s.instrumentation_scope.name == "llmtel.instrumentation.openai"]
    assert len(ours) == 1 and ours[0].parent is not None
    assert ours[0].parent.span_id == outer.get_span_context().span_id  # nested under the framework's span
    assert row.parent_span_id == f"{outer.get_span_context().span_id:016x}"
    assert tel.counter("llmtel.provider_traces.deduplicated") >= 1


def test_a_call_beneath_several_foreign_levels_is_still_one_row(server: ProviderServer, tel: Telemetry) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    server.expect(CHAT, fx.chat("x"))
    with (
        framework.start_as_current_span("chat gpt-4o-mini", attributes=chat_span_attributes()),
        framework.start_as_current_span("retry wrapper"),
        framework.start_as_current_span("http session"),
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(tel.traces()) == 1


def test_a_foreign_model_call_llmtel_did_not_see_is_a_row(tel: Telemetry) -> None:
    """A provider llmtel does not instrument, traced by someone else: its span is the only record."""
    with framework.start_as_current_span(
        "chat gemini-2.5", attributes={**chat_span_attributes("gemini-2.5"), "gen_ai.provider.name": "gcp.gemini"}
    ) as span:
        span.set_attributes({"gen_ai.usage.input_tokens": 7, "gen_ai.usage.output_tokens": 2})
    [row] = tel.traces()
    assert (row.provider, row.request_model, row.input_tokens, row.output_tokens) == ("gcp.gemini", "gemini-2.5", 7, 2)


def test_sibling_calls_each_keep_their_row(server: ProviderServer, tel: Telemetry) -> None:
    """A framework span that covers one SDK call does not hide a sibling foreign call."""
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    server.expect(CHAT, fx.chat("x"))
    with framework.start_as_current_span("agent run"):
        with framework.start_as_current_span("chat gpt-4o-mini", attributes=chat_span_attributes()):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        with framework.start_as_current_span("chat other", attributes=chat_span_attributes("other-model")):
            pass  # a model llmtel did not see
    models = sorted(r.request_model or "" for r in tel.traces())
    assert models == ["gpt-4o-mini", "other-model"]
