"""Anthropic stream events → the whole Message they add up to."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from llmtel.instrumentation.anthropic.response import read_response
from llmtel.instrumentation.records import LLMCall
from llmtel.instrumentation.stainless.fields import fields_of

_DELTA_FIELDS: Final = {  # content_block_delta type → (block field it extends, delta field)
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "thinking"),
    "signature_delta": ("signature", "signature"),
    "input_json_delta": ("input", "partial_json"),
}
_BLOCK_FIELDS: Final = ("id", "name", "text", "thinking", "input")  # what a content_block_start carries
USAGE_KEYS: Final = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


class AnthropicStreamAccumulator:
    """message_start + content_block_* + message_delta events → the whole Message."""

    def __init__(self) -> None:
        self.message: dict[str, Any] = {}
        self.usage: dict[str, Any] = {}
        self.blocks: dict[int, dict[str, Any]] = {}
        self.parts: dict[tuple[int, str], list[str]] = {}  # (block index, block field) → deltas

    def add_all(self, events: list[Any]) -> None:
        """Each event's field dict is read once, then a dict lookup per field: 10 to 15 % faster
        than attribute reads on the SDK models (docs/performance.md)."""
        parts = self.parts
        for event in events:
            fields = fields_of(event)
            kind = fields.get("type")
            if kind == "content_block_delta":  # most events
                delta = fields_of(fields.get("delta"))
                field = _DELTA_FIELDS.get(delta.get("type", ""))
                if field is not None:
                    block_key, delta_key = field
                    parts.setdefault((fields.get("index") or 0, block_key), []).append(delta.get(delta_key) or "")
            else:
                self._add(kind, fields)

    def _add(self, kind: Any, fields: Mapping[str, Any]) -> None:
        if kind == "message_start":
            message = fields_of(fields.get("message"))
            self.message = {
                "id": message.get("id"),
                "type": "message",
                "role": "assistant",
                "model": message.get("model"),
                "stop_reason": None,
                "stop_sequence": None,
            }
            self._merge_usage(message.get("usage"))
        elif kind == "content_block_start":
            block = fields_of(fields.get("content_block"))
            entry: dict[str, Any] = {"type": block.get("type")}
            for key in _BLOCK_FIELDS:
                value = block.get(key)
                if value is not None:
                    entry[key] = value
            self.blocks[fields.get("index") or 0] = entry
        elif kind == "message_delta":
            delta = fields_of(fields.get("delta"))
            for key in ("stop_reason", "stop_sequence"):
                value = delta.get(key)
                if value is not None:
                    self.message[key] = value
            self._merge_usage(fields.get("usage"))

    def _merge_usage(self, usage: Any) -> None:
        fields = fields_of(usage)
        for key in USAGE_KEYS:
            value = fields.get(key)
            if value is not None:
                self.usage[key] = value

    def complete(self, call: LLMCall) -> None:
        for (index, key), parts in self.parts.items():
            block = self.blocks.setdefault(index, {"type": "text"})
            text = "".join(parts)
            if key != "input":
                block[key] = block.get(key, "") + text
                continue
            try:
                block["input"] = json.loads(text) if text else {}
            except ValueError:
                block["input"] = text
        self.parts = {}  # merged into the blocks
        message = {**self.message, "content": [self.blocks[i] for i in sorted(self.blocks)]}
        if self.usage:
            message["usage"] = dict(self.usage)
        call.response = message
        read_response(call, message)
