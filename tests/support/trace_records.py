"""Provider traces to write in the store tests."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import replace
from typing import Any

from llmtel.instrumentation.records import ProviderTrace

T0 = datetime.datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=datetime.timezone.utc)


def full_trace(**changes: Any) -> ProviderTrace:
    """Every field set, with unicode, arrays and nested JSON."""
    trace = ProviderTrace(
        id=str(uuid.uuid4()),
        trace_id=uuid.uuid4().hex,
        span_id=uuid.uuid4().hex[:16],
        parent_span_id=uuid.uuid4().hex[:16],
        created_at=T0,
        duration_ms=1234.567,
        provider="anthropic",
        operation="chat",
        time_to_first_token_ms=87.5,
        org_id="org-é",
        user_id="user-7",
        agent_id="planner",
        agent_tags=["prod", "ünïcode", "🚀"],
        extra={"team": "search", "ünï": "🚀"},
        run_id="run-1",
        step_id="step-3",
        call_type="plan",
        service_name="svc",
        request_model="claude-haiku-4-5",
        response_model="claude-haiku-4-5-20251001",
        response_id="msg_01",
        finish_reasons=["tool_use", "end_turn"],
        is_stream=True,
        input_tokens=1200,
        output_tokens=345,
        total_tokens=1545,
        cache_read_input_tokens=1000,
        cache_write_input_tokens=0,
        reasoning_tokens=0,
        cost_usd=0.0012345,
        is_error=True,
        error_type="RateLimitError",
        error_message="slow down — 429 ✋",
        request_json='{"messages":[{"role":"user","content":"héllo \\u0000 ✓"}],"max_tokens":5}',
        response_json='{"content":[{"type":"text","text":"日本語"}]}',
        request_bytes=80,
        response_bytes=50,
        request_params_json='{"max_tokens":5,"temperature":0.2}',
    )
    return replace(trace, **changes)


def bare_trace(**changes: Any) -> ProviderTrace:
    """Only the required fields: every optional one is null or empty."""
    trace = ProviderTrace(
        id=str(uuid.uuid4()),
        trace_id=uuid.uuid4().hex,
        span_id=uuid.uuid4().hex[:16],
        parent_span_id=None,
        created_at=T0,
        duration_ms=0.0,
        provider="openai",
        operation="embeddings",
    )
    return replace(trace, **changes)


def small_trace(n: int, payload: str = "") -> ProviderTrace:
    """A minimal row numbered ``n`` (its id and span id say which), for queue and sink tests."""
    return ProviderTrace(
        id=f"id-{n}",
        trace_id="0" * 32,
        span_id=f"{n:016x}",
        parent_span_id=None,
        created_at=datetime.datetime.now(datetime.timezone.utc),
        duration_ms=1.0,
        provider="openai",
        operation="chat",
        request_json=payload,
    )
