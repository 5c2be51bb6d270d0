"""ProviderTraceProcessor: one record per finished LLM span, built from span + side channel."""

from __future__ import annotations

import json

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from llmtel.instrumentation import llm_context, sidechannel, trace_method
from llmtel.instrumentation.processor import trace_record_id
from llmtel.instrumentation.usage import Usage, anthropic_usage, openai_usage

from .conftest import Telemetry

tracer = trace.get_tracer("test")


def llm_span(call: sidechannel.LLMCall | None, error: bool = False, **attrs: object) -> trace.Span:
    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}
    with tracer.start_as_current_span(
        "chat gpt-4o", kind=SpanKind.CLIENT, attributes={**base, **attrs}, end_on_exit=False
    ) as span:
        pass
    if error:
        span.set_status(Status(StatusCode.ERROR, "rate limited"))
        span.set_attribute("error.type", "RateLimitError")
    if call is not None:
        sidechannel.hand_over(span.get_span_context().span_id, call)
    span.end()
    return span


def test_record_from_span_and_side_channel(tel: Telemetry) -> None:
    request = b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}'
    response = b'{"id":"chatcmpl-1","choices":[{"message":{"content":"hello"}}]}'
    # a call carries the llm_context in force where it is created
    with llm_context(
        agent_id="ag", run_id="r1", step_id="s1", org_id="org", user_id="u", tags=["a", "b"], call_type="agent_step"
    ):
        call = sidechannel.LLMCall(
            provider="openai",
            operation="chat",
            request_model="gpt-4o",
            request=request,
            response=response,
            request_params={"temperature": 0.2},
            usage=openai_usage(
                {
                    "prompt_tokens": 1000,
                    "completion_tokens": 100,
                    "prompt_tokens_details": {"cached_tokens": 400},
                    "completion_tokens_details": {"reasoning_tokens": 0},
                }
            ),
        )
        span = llm_span(
            call,
            **{
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.response.id": "chatcmpl-1",
                "gen_ai.response.finish_reasons": ("stop",),
            },
        )
    [record] = tel.traces()
    ctx = span.get_span_context()
    assert record.id == trace_record_id(ctx.trace_id, ctx.span_id)
    assert record.trace_id == f"{ctx.trace_id:032x}" and record.span_id == f"{ctx.span_id:016x}"
    assert (record.agent_id, record.run_id, record.step_id, record.org_id, record.user_id) == (
        "ag",
        "r1",
        "s1",
        "org",
        "u",
    )
    assert record.agent_tags == ["a", "b"] and record.call_type == "agent_step"
    assert record.service_name == "llmtel-tests"
    assert record.response_model == "gpt-4o-2024-08-06" and record.finish_reasons == ["stop"]
    assert (record.input_tokens, record.output_tokens, record.total_tokens) == (1000, 100, 1100)
    assert record.cache_read_input_tokens == 400
    assert record.cache_write_input_tokens is None  # not reported by OpenAI: null, not 0
    assert record.reasoning_tokens == 0  # reported as zero
    # 600 uncached * 2.50 + 400 cached * 1.25 + 100 out * 10.00, per million
    assert record.cost_usd is not None and abs(record.cost_usd - (600 * 2.5 + 400 * 1.25 + 100 * 10) / 1e6) < 1e-12
    assert json.loads(record.request_json)["messages"][0]["content"] == "hi"
    assert record.request_bytes == len(request) and record.response_bytes == len(response)
    assert json.loads(record.request_params_json) == {"temperature": 0.2}
    assert not record.is_error


def test_error_span_is_a_record_too(tel: Telemetry) -> None:
    llm_span(
        sidechannel.LLMCall(provider="openai", operation="chat", error_message="429 Too Many Requests"), error=True
    )
    [record] = tel.traces()
    assert record.is_error and record.error_type == "RateLimitError"
    assert record.error_message == "429 Too Many Requests"
    assert record.input_tokens is None and record.cost_usd is None


def test_span_from_another_instrumentation_still_makes_a_record(tel: Telemetry) -> None:
    llm_span(None, **{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5})
    [record] = tel.traces()
    assert (record.input_tokens, record.output_tokens, record.total_tokens) == (10, 5, 15)
    assert record.request_json == ""


def test_non_llm_spans_make_no_record(tel: Telemetry) -> None:
    @trace_method
    def plain() -> None:
        return None

    plain()
    assert tel.traces() == []


def test_store_content_off_keeps_no_payloads(tel: Telemetry) -> None:
    tel.configure(store_content=False)
    llm_span(sidechannel.LLMCall(provider="openai", operation="chat", request=b'{"secret":1}', response=b"{}"))
    [record] = tel.traces()
    assert record.request_json == "" and record.response_json == ""


def test_redaction_applies_to_stored_payloads(tel: Telemetry) -> None:
    tel.configure(redact=lambda kind, value: {"redacted": kind} if kind == "request" else value)
    llm_span(sidechannel.LLMCall(provider="openai", operation="chat", request=b'{"secret":1}', response=b'{"ok":1}'))
    [record] = tel.traces()
    assert json.loads(record.request_json) == {"redacted": "request"}
    assert json.loads(record.response_json) == {"ok": 1}


def test_anthropic_usage_counts_cache_in_input() -> None:
    usage = anthropic_usage(
        {"input_tokens": 10, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 200, "output_tokens": 50}
    )
    assert usage == Usage(
        input_tokens=1210,
        output_tokens=50,
        total_tokens=1260,
        cache_read_input_tokens=1000,
        cache_write_input_tokens=200,
        reasoning_tokens=None,
    )
    assert anthropic_usage(None) is None
