"""ProviderTraceProcessor: foreign GenAI spans become rows only when llmtel did not see their
call; agent and tool spans never."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from llmtel.instrumentation import trace_method
from tests.support.telemetry import Telemetry

tracer = trace.get_tracer("test")


def foreign_span(error: bool = False, **attrs: object) -> trace.Span:
    """A model-call span as another instrumentation makes it."""
    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}
    with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes={**base, **attrs}) as span:
        if error:
            span.set_status(Status(StatusCode.ERROR, "rate limited"))
            span.set_attribute("error.type", "RateLimitError")
    return span


def test_error_span_from_another_instrumentation_is_a_row(tel: Telemetry) -> None:
    foreign_span(error=True)
    [record] = tel.traces()
    assert record.is_error and record.error_type == "RateLimitError"
    assert record.error_message == "rate limited"
    assert record.input_tokens is None and record.cost_usd is None


def test_span_from_another_instrumentation_still_makes_a_record(tel: Telemetry) -> None:
    span = foreign_span(**{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5})
    [record] = tel.traces()
    assert (record.input_tokens, record.output_tokens, record.total_tokens) == (10, 5, 15)
    assert record.request_json == "" and record.span_id == f"{span.get_span_context().span_id:016x}"
    assert record.service_name == "llmtel-tests"


def test_agent_and_tool_spans_are_not_rows(tel: Telemetry) -> None:
    for operation in ("invoke_agent", "execute_tool", "create_agent"):
        with tracer.start_as_current_span(operation, attributes={"gen_ai.operation.name": operation}):
            pass
    assert tel.traces() == []


def test_non_llm_spans_make_no_record(tel: Telemetry) -> None:
    @trace_method
    def plain() -> None:
        return None

    plain()
    assert tel.traces() == []
