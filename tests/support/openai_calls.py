"""Drive the real OpenAI SDK with a recorded request body, sync or async, and describe
what the app got back (so instrumented and uninstrumented runs can be compared)."""

from __future__ import annotations

import inspect
import json
from typing import Any

import openai

from tests.support.cassettes import Exchange


def method_for(client: Any, path: str) -> Any:
    if path.endswith("/chat/completions"):
        return client.chat.completions.create
    if path.endswith("/responses"):
        return client.responses.create
    return client.embeddings.create


def split_kwargs(method: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Named parameters as keywords; anything the SDK does not name goes in extra_body."""
    names = set(inspect.signature(method).parameters)
    kwargs = {k: v for k, v in body.items() if k in names}
    extra = {k: v for k, v in body.items() if k not in names}
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def outcome(result: Any) -> Any:
    """A comparable description of what the SDK returned."""
    if isinstance(result, (openai.Stream, list)):
        return [json.loads(chunk.model_dump_json(warnings=False)) for chunk in result]
    return json.loads(result.model_dump_json(warnings=False))


def run_sync(client: openai.OpenAI, exchange: Exchange) -> Any:
    method = method_for(client, exchange.path)
    try:
        return outcome(method(**split_kwargs(method, exchange.request)))
    except openai.APIStatusError as exc:
        return {"error": type(exc).__name__, "status": exc.status_code, "body": exc.body}


async def run_async(client: openai.AsyncOpenAI, exchange: Exchange) -> Any:
    method = method_for(client, exchange.path)
    try:
        result = await method(**split_kwargs(method, exchange.request))
        if isinstance(result, openai.AsyncStream):
            return outcome([chunk async for chunk in result])
        return outcome(result)
    except openai.APIStatusError as exc:
        return {"error": type(exc).__name__, "status": exc.status_code, "body": exc.body}
