"""provider_trace.build: the row made of a call, from the call alone (ids, times, usage,
payloads), every value fitted to its column."""

from __future__ import annotations

import json

from llmtel.instrumentation import llm_context, processor
from llmtel.instrumentation.openai.usage import read_usage as openai_usage
from llmtel.instrumentation.provider_trace import build, trace_record_id
from llmtel.instrumentation.records import LLMCall
from llmtel.instrumentation.usage import Usage
from tests.support.telemetry import Telemetry


def test_row_from_a_call(tel: Telemetry) -> None:
    request = b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}'
    response = b'{"id":"chatcmpl-1","choices":[{"message":{"content":"hello"}}]}'
    # a call carries the llm_context in force where it is created
    with llm_context(
        agent_id="ag", run_id="r1", step_id="s1", org_id="org", user_id="u", tags=["a", "b"], call_type="agent_step"
    ):
        call = LLMCall(
            provider="openai",
            operation="chat",
            request_model="gpt-4o",
            request=request,
            response=response,
            request_params={"temperature": 0.2},
            response_model="gpt-4o-2024-08-06",
            response_id="chatcmpl-1",
            finish_reasons=("stop",),
            usage=openai_usage(
                {
                    "prompt_tokens": 1000,
                    "completion_tokens": 100,
                    "prompt_tokens_details": {"cached_tokens": 400},
                    "completion_tokens_details": {"reasoning_tokens": 0},
                }
            ),
            trace_id=0xABC,
            span_id=0x12,
            parent_span_id=0x11,
            start_ns=1_700_000_000_000_000_000,
            end_ns=1_700_000_000_250_000_000,
            service_name="svc",
        )
    processor.submit(call)
    [record] = tel.traces()
    assert record.id == trace_record_id(0xABC, 0x12)
    assert record.trace_id == f"{0xABC:032x}" and record.span_id == f"{0x12:016x}"
    assert record.parent_span_id == f"{0x11:016x}" and record.duration_ms == 250.0
    assert (record.agent_id, record.run_id, record.step_id, record.org_id, record.user_id) == (
        "ag",
        "r1",
        "s1",
        "org",
        "u",
    )
    assert record.agent_tags == ["a", "b"] and record.call_type == "agent_step"
    assert record.service_name == "svc"
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


def test_values_no_column_can_hold_become_null_and_stay_in_the_payload() -> None:
    """Negative, huge, NaN and mistyped numbers, non-string ids, lone surrogates: the row takes
    what its columns can hold; the provider's bytes are kept as they came."""
    response = b'{"id": 42, "usage": {"prompt_tokens": -1, "completion_tokens": 1e20}}'
    call = LLMCall(
        provider="openai",
        operation="chat",
        response=response,
        response_id=42,
        response_model={"odd": True},
        finish_reasons=("stop", 7, None),
        usage=Usage(input_tokens=-1, output_tokens=10**20, total_tokens=None, reasoning_tokens=3),
        error_message="bad \ud800 char",
        request={"text": "lone \udfff surrogate"},
    )
    row = build(call)
    assert (row.input_tokens, row.output_tokens, row.total_tokens, row.reasoning_tokens) == (None, None, None, 3)
    assert row.response_id == "42" and row.response_model is None
    assert row.finish_reasons == ["stop", "7"]
    assert row.error_message == "bad \ufffd char"
    assert json.loads(row.request_json) == {"text": "lone \udfff surrogate"}  # escaped, not replaced
    row.request_json.encode("utf-8")  # a String column takes it
    assert row.response_json == response.decode()


def test_store_content_off_keeps_no_payloads(tel: Telemetry) -> None:
    tel.configure(store_content=False)
    record = build(LLMCall(provider="openai", operation="chat", request=b'{"secret":1}', response=b"{}"))
    assert record.request_json == "" and record.response_json == ""


def test_redaction_applies_to_stored_payloads(tel: Telemetry) -> None:
    tel.configure(redact=lambda kind, value: {"redacted": kind} if kind == "request" else value)
    record = build(LLMCall(provider="openai", operation="chat", request=b'{"secret":1}', response=b'{"ok":1}'))
    assert json.loads(record.request_json) == {"redacted": "request"}
    assert json.loads(record.response_json) == {"ok": 1}
