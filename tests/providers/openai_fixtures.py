"""Small OpenAI replies built in the wire format of the recorded cassettes, for surface tests."""

from __future__ import annotations

import json
from typing import Any

from .server import Reply

MODEL = "gpt-4o-mini-2024-07-18"


def completion(
    text: str = "Hello there!",
    completion_id: str = "chatcmpl-1",
    prompt_tokens: int = 20,
    completion_tokens: int = 3,
    cached: int = 0,
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": 1731368630,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
        "system_fingerprint": "fp_1",
    }


def chat(text: str = "Hello there!", **kwargs: Any) -> Reply:
    return Reply.json(completion(text, **kwargs))


def chunk(
    delta: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None, chunk_id: str = "chatcmpl-s1"
) -> str:
    data = {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": 1731368639,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if usage is None else [],
        "usage": usage,
    }
    return "data: " + json.dumps(data)


def chat_stream(*texts: str, usage: bool = True, done: bool = True, **reply: Any) -> Reply:
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": t}) for t in texts]
    events.append(chunk({}, finish="stop"))
    if usage:
        events.append(
            chunk({}, usage={"prompt_tokens": 9, "completion_tokens": len(texts), "total_tokens": 9 + len(texts)})
        )
    if done:
        events.append("data: [DONE]")
    return Reply.sse(events, **reply)


def stream_error_event() -> Reply:
    """A stream that carries an error object mid-way, as the API does on server trouble."""
    return Reply.sse(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Part"}),
            "data: " + json.dumps({"error": {"message": "The server had an error", "type": "server_error"}}),
        ]
    )


def rate_limited() -> Reply:
    return Reply.json(
        {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
        status=429,
        headers={"retry-after-ms": "5"},
    )
