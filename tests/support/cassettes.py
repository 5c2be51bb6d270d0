"""Replies from the recorded OpenAI exchanges in ``tests/fixtures/openai`` (VCR.py YAML)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from llmtel.loopback.server import Reply

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "openai"


@dataclass
class Exchange:
    path: str
    request: dict[str, Any]
    reply: Reply
    status: int


def load(name: str) -> list[Exchange]:
    """The exchanges of cassette ``name`` (file name without ``.yaml``)."""
    data = yaml.safe_load((FIXTURES / f"{name}.yaml").read_text())
    out = []
    for interaction in data["interactions"]:
        request = interaction["request"]
        response = interaction["response"]
        body: str = response["body"]["string"]
        status = int(response["status"]["code"])
        path = urlparse(request["uri"]).path
        headers = {k.lower(): v[0] if isinstance(v, list) else v for k, v in response["headers"].items()}
        if "text/event-stream" in headers.get("content-type", ""):
            events = [chunk for chunk in body.split("\n\n") if chunk.strip()]
            reply = Reply.sse(events, status=status)
        else:
            reply = Reply(status=status, body=body.encode(), headers={"content-type": "application/json"})
        out.append(Exchange(path, json.loads(request["body"]) if request.get("body") else {}, reply, status))
    return out


def sse_chunks(name: str) -> list[dict[str, Any]]:
    """The decoded ``data:`` objects of a streaming cassette (for expected values)."""
    chunks = []
    for exchange in load(name):
        for event in exchange.reply.events:
            for line in event.decode().splitlines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    chunks.append(json.loads(line[6:]))
    return chunks
