"""Small OpenAI replies built in the wire format of the recorded cassettes, for surface tests."""

from __future__ import annotations

import json
from typing import Any

from llmtel.loopback.server import Reply

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


_FILTER_SAFE = {name: {"filtered": False, "severity": "safe"} for name in ("hate", "self_harm", "sexual", "violence")}


def azure_stream(*texts: str) -> Reply:
    """An Azure OpenAI stream as Azure sends it: a prompt content-filter chunk first (no id, no
    model, ``object: ""``, no choices), chunks carrying ``content_filter_results``, an
    asynchronous-filter chunk after the finish (a choice with no ``delta``), then usage."""
    azure_id, model = "chatcmpl-AZ1", "gpt-4o-2024-08-06"
    head = {"created": 1731368639, "id": azure_id, "model": model, "object": "chat.completion.chunk"}

    def choice_chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice: dict[str, Any] = {
            "content_filter_results": _FILTER_SAFE if delta.get("content") else {},
            "delta": delta,
        }
        choice |= {"finish_reason": finish, "index": 0, "logprobs": None}
        return "data: " + json.dumps({"choices": [choice], **head, "system_fingerprint": "fp_az", "usage": None})

    prompt_filter = {"prompt_index": 0, "content_filter_results": {**_FILTER_SAFE, "jailbreak": {"filtered": False}}}
    events = [
        "data: "
        + json.dumps(
            {"choices": [], "created": 0, "id": "", "model": "", "object": "", "prompt_filter_results": [prompt_filter]}
        )
    ]
    events.append(choice_chunk({"content": "", "refusal": None, "role": "assistant"}))
    events += [choice_chunk({"content": t}) for t in texts]
    events.append(choice_chunk({}, finish="stop"))
    offsets = {"check_offset": 0, "start_offset": 0, "end_offset": sum(len(t) for t in texts)}
    async_filter = {"content_filter_offsets": offsets, "content_filter_results": _FILTER_SAFE, "finish_reason": None}
    events.append(
        "data: "
        + json.dumps({"choices": [{**async_filter, "index": 0}], "created": 0, "id": "", "model": "", "object": ""})
    )
    usage = {"completion_tokens": len(texts), "prompt_tokens": 12, "total_tokens": 12 + len(texts)}
    events.append("data: " + json.dumps({"choices": [], **head, "system_fingerprint": "fp_az", "usage": usage}))
    events.append("data: [DONE]")
    return Reply.sse(events)


def completions_stream(*texts: str) -> Reply:
    """A legacy ``/v1/completions`` stream (``stream_options.include_usage``): ``text`` in each
    choice, no ``delta``."""
    head = {"id": "cmpl-L1", "object": "text_completion", "created": 1731368700, "model": "gpt-3.5-turbo-instruct"}
    events = [
        "data: " + json.dumps({**head, "choices": [{"text": t, "index": 0, "logprobs": None, "finish_reason": None}]})
        for t in texts
    ]
    last = {"text": "", "index": 0, "logprobs": None, "finish_reason": "length"}
    events.append("data: " + json.dumps({**head, "choices": [last], "usage": None}))
    usage = {"prompt_tokens": 5, "completion_tokens": len(texts), "total_tokens": 5 + len(texts)}
    events.append("data: " + json.dumps({**head, "choices": [], "usage": usage}))
    events.append("data: [DONE]")
    return Reply.sse(events)
