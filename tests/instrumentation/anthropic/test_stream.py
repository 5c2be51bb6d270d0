"""The Anthropic stream accumulator: events, as SDK models or decoded JSON, add up to the Message."""

from __future__ import annotations

from typing import Any

from llmtel.instrumentation.anthropic.messages import block_part
from llmtel.instrumentation.anthropic.stream import AnthropicStreamAccumulator
from llmtel.instrumentation.records import LLMCall


def events() -> list[dict[str, Any]]:
    usage = {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 100}
    start = {"id": "msg_1", "model": "claude-sonnet-4-5", "usage": usage}
    return [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "the user "}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "wants Oslo"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t1", "name": "w"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"ci'}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": 'ty": 1}'}},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 42}},
        {"type": "message_stop"},
    ]


def test_thinking_and_tool_input_add_up_whatever_the_batches() -> None:
    whole, batched = AnthropicStreamAccumulator(), AnthropicStreamAccumulator()
    whole.add_all(events())
    for event in events():  # one event per batch: the fold boundaries do not matter
        batched.add_all([event])
    for acc in (whole, batched):
        call = LLMCall(provider="anthropic", operation="chat")
        acc.complete(call)
        thinking, tool = call.response["content"]
        assert thinking == {"type": "thinking", "thinking": "the user wants Oslo", "signature": "sig"}
        assert block_part(tool) == {"type": "tool_call", "id": "t1", "name": "w", "arguments": {"city": 1}}
        assert call.finish_reasons == ("tool_calls",) and call.response_id == "msg_1"
        assert call.usage is not None and (call.usage.input_tokens, call.usage.output_tokens) == (110, 42)


def test_a_stream_cut_short_keeps_what_arrived() -> None:
    acc = AnthropicStreamAccumulator()
    acc.add_all(events()[:8])  # ends inside the tool's input
    call = LLMCall(provider="anthropic", operation="chat")
    acc.complete(call)
    assert call.response["content"][1]["input"] == '{"ci'  # not JSON yet: kept as the text that came
    assert call.finish_reasons == ()
