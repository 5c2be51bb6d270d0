"""Anthropic Messages API replies written from Anthropic's documented wire format
(JSON messages, and the ``event:``/``data:`` stream with ping, content_block_*,
input_json_delta, thinking_delta, message_delta and error events)."""

from __future__ import annotations

import json
from typing import Any

from llmtel.loopback.server import Reply

MODEL = "claude-haiku-4-5-20251001"


def usage(input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
    }


def message(
    content: list[dict[str, Any]], stop_reason: str = "end_turn", msg_id: str = "msg_01Plain", **usage_kwargs: int
) -> dict[str, Any]:
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage(
            usage_kwargs.get("input_tokens", 25),
            usage_kwargs.get("output_tokens", 12),
            usage_kwargs.get("cache_read", 0),
            usage_kwargs.get("cache_write", 0),
        ),
    }


def plain() -> Reply:
    return Reply.json(message([{"type": "text", "text": "Hello! How can I help you today?"}]))


def tool_use() -> Reply:
    return Reply.json(
        message(
            [
                {"type": "text", "text": "I'll check the weather."},
                {
                    "type": "tool_use",
                    "id": "toolu_01A",
                    "name": "get_weather",
                    "input": {"location": "Paris", "unit": "c"},
                },
            ],
            stop_reason="tool_use",
            msg_id="msg_01Tool",
            input_tokens=380,
            output_tokens=70,
        )
    )


def prompt_caching() -> Reply:
    return Reply.json(
        message(
            [{"type": "text", "text": "Cached answer."}],
            msg_id="msg_01Cache",
            input_tokens=14,
            output_tokens=9,
            cache_read=2048,
            cache_write=512,
        )
    )


def error(status: int, kind: str, text: str) -> Reply:
    return Reply.json(
        {"type": "error", "error": {"type": kind, "message": text}}, status=status, headers={"request-id": "req_err"}
    )


def bad_request() -> Reply:
    return error(400, "invalid_request_error", "max_tokens: Field required")


def rate_limited() -> Reply:
    return error(429, "rate_limit_error", "Number of requests has exceeded your rate limit")


def overloaded() -> Reply:
    return error(529, "overloaded_error", "Overloaded")


def event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}"


def stream_events(
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]],
    stop_reason: str = "end_turn",
    msg_id: str = "msg_01Stream",
    input_tokens: int = 472,
    output_tokens: int = 89,
    cache_read: int = 0,
    cache_write: int = 0,
) -> list[str]:
    """A full stream: message_start, a ping, each block's start/deltas/stop, message_delta, message_stop."""
    start: dict[str, Any] = {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage(input_tokens, 1, cache_read, cache_write),
    }
    events = [event("message_start", {"type": "message_start", "message": start}), event("ping", {"type": "ping"})]
    for index, (block, deltas) in enumerate(blocks):
        events.append(
            event("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})
        )
        for delta in deltas:
            events.append(event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        events.append(event("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        )
    )
    events.append(event("message_stop", {"type": "message_stop"}))
    return events


def text_deltas(*texts: str) -> list[dict[str, Any]]:
    return [{"type": "text_delta", "text": t} for t in texts]


def json_deltas(*parts: str) -> list[dict[str, Any]]:
    return [{"type": "input_json_delta", "partial_json": p} for p in parts]


def streaming_text() -> Reply:
    return Reply.sse(stream_events([({"type": "text", "text": ""}, text_deltas("Hello", "! How", " can I help?"))]))


def streaming_parallel_tools() -> Reply:
    return Reply.sse(
        stream_events(
            [
                ({"type": "text", "text": ""}, text_deltas("Checking both cities.")),
                (
                    {"type": "tool_use", "id": "toolu_01P", "name": "get_weather", "input": {}},
                    json_deltas('{"locat', 'ion": "Par', 'is"}'),
                ),
                (
                    {"type": "tool_use", "id": "toolu_01L", "name": "get_weather", "input": {}},
                    json_deltas("", '{"location": ', '"London"}'),
                ),
            ],
            stop_reason="tool_use",
            msg_id="msg_01Tools",
            output_tokens=120,
        )
    )


def streaming_thinking() -> Reply:
    return Reply.sse(
        stream_events(
            [
                (
                    {"type": "thinking", "thinking": "", "signature": ""},
                    [
                        {"type": "thinking_delta", "thinking": "Let me work out 27 * 453."},
                        {"type": "thinking_delta", "thinking": " That is 12231."},
                        {
                            "type": "signature_delta",
                            "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
                        },
                    ],
                ),
                ({"type": "text", "text": ""}, text_deltas("27 * 453 = 12,231")),
            ],
            msg_id="msg_01Think",
            output_tokens=300,
        )
    )


def streaming_cached() -> Reply:
    return Reply.sse(
        stream_events(
            [({"type": "text", "text": ""}, text_deltas("From cache."))],
            msg_id="msg_01SCache",
            input_tokens=10,
            output_tokens=4,
            cache_read=1800,
            cache_write=200,
        )
    )


def streaming_error_mid_stream() -> Reply:
    events = stream_events([({"type": "text", "text": ""}, text_deltas("Partial ", "answer"))])[:5]
    events.append(event("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
    return Reply.sse(events)
