"""What llmtel knows about the OpenAI API: routes, request attributes, responses, streams."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.util.types import AttributeValue

from .. import semconv
from ..adapters import Accumulator, read_ids_and_usage, scalar_attributes
from ..fields import fields_of, get, sent_params
from ..messages import openai_chat_message, openai_response_items
from ..records import LLMCall
from ..usage import openai_usage

CONTENT_KEYS: Final = frozenset({"messages", "input", "instructions", "tools", "functions", "prompt"})
_SCALARS: Final = {
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "frequency_penalty": semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "seed": semconv.GEN_AI_REQUEST_SEED,
}
_OTHER_PARAMS: Final = frozenset(
    {"max_completion_tokens", "max_tokens", "max_output_tokens", "stop", "n", "response_format", "text"}
    | {"encoding_format", "dimensions"}
)


def _other_request_attributes(attrs: dict[str, AttributeValue], operation: str, body: Mapping[str, Any]) -> None:
    """The request attributes from parameters most calls leave out."""
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or body.get("max_output_tokens")
    if isinstance(max_tokens, int):
        attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    stop = body.get("stop")
    if isinstance(stop, str):
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = (stop,)
    elif isinstance(stop, list) and stop:
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(str(s) for s in stop)
    n = body.get("n")
    if isinstance(n, int) and n != 1:
        attrs[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = n
    fmt = get(body.get("response_format"), "type") or get(get(body.get("text"), "format"), "type")
    if fmt:
        attrs[semconv.GEN_AI_OUTPUT_TYPE] = "json" if str(fmt).startswith("json") else str(fmt)
    if operation == "embeddings":
        encoding = body.get("encoding_format")
        if encoding:
            attrs[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = (str(encoding),)
        if isinstance(body.get("dimensions"), int):
            attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = body["dimensions"]


def _is_responses(data: Any) -> bool:
    return bool(get(data, "object") == "response")


def _finish_reasons(choices: Any) -> tuple[str, ...]:
    return tuple(str(reason) for choice in choices or () if (reason := get(choice, "finish_reason")))


class OpenAIAdapter:
    provider = "openai"

    def operation(self, method: str, path: str) -> str | None:
        if method.lower() != "post":  # GET /chat/completions lists stored completions
            return None
        path = path.split("?", 1)[0]
        if path.endswith("/chat/completions"):
            return "chat"
        if path.endswith("/responses"):
            return "chat"
        if path.endswith("/embeddings"):
            return "embeddings"
        if path.endswith("/completions"):
            return "text_completion"
        return None

    def request_attributes(self, operation: str, body: Mapping[str, Any]) -> dict[str, AttributeValue]:
        attrs = scalar_attributes(body, _SCALARS)
        if not _OTHER_PARAMS.isdisjoint(body):
            _other_request_attributes(attrs, operation, body)
        return attrs

    @staticmethod  # no bound method per call: the call record keeps it until the writer runs
    def request_params(body: Mapping[str, Any]) -> dict[str, Any]:
        params = sent_params(body, CONTENT_KEYS)
        tools = body.get("tools")
        if tools:
            params["tool_names"] = [get(get(t, "function"), "name") or get(t, "name") or get(t, "type") for t in tools]
        return params

    def input_content(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        content: dict[str, Any] = {}
        if "messages" in body:
            content[semconv.GEN_AI_INPUT_MESSAGES] = [openai_chat_message(m) for m in body["messages"] or []]
        elif operation == "chat" and "input" in body:
            content[semconv.GEN_AI_INPUT_MESSAGES] = openai_response_items(body["input"])
        elif "input" in body or "prompt" in body:
            content[semconv.GEN_AI_INPUT_MESSAGES] = body.get("input", body.get("prompt"))
        if body.get("instructions"):
            content[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = [{"type": "text", "content": body["instructions"]}]
        if body.get("tools"):
            content[semconv.GEN_AI_TOOL_DEFINITIONS] = body["tools"]
        return content

    def read_response(self, call: LLMCall, data: Any) -> None:
        if data is None:
            return
        fields = read_ids_and_usage(call, data, openai_usage)
        if fields.get("object") == "response":
            incomplete = get(fields.get("incomplete_details"), "reason")
            status = fields.get("status")
            if incomplete or status:
                call.finish_reasons = (str(incomplete or status),)
        else:
            call.finish_reasons = _finish_reasons(fields.get("choices"))

    def output_messages(self, call: LLMCall, data: Any) -> list[dict[str, Any]]:
        if isinstance(data, (bytes, bytearray)):
            data = json.loads(data)
        if _is_responses(data):
            return openai_response_items(get(data, "output"))
        out = []
        for choice in get(data, "choices") or []:
            message = openai_chat_message(
                get(choice, "message") or {"role": "assistant", "content": get(choice, "text")}
            )
            message["finish_reason"] = get(choice, "finish_reason")
            out.append(message)
        return out

    def accumulator(self, operation: str) -> Accumulator:
        return OpenAIStreamAccumulator()


def _new_choice(index: Any) -> dict[str, Any]:
    return {"index": index, "text": [], "refusal": [], "tools": {}, "finish_reason": None, "role": "assistant"}


class OpenAIStreamAccumulator:
    """Chat Completions or legacy Completions chunks, or Responses API events; which one is
    seen from the first event. Chunks may be SDK models or decoded JSON (a stream the app read
    as bytes), and may be Azure's content-filter chunks (no id or model, no ``delta``, empty
    ``choices``), which neither set the response's ids nor lose the events around them."""

    def __init__(self) -> None:
        self.chunked: bool | None = None
        self.head: dict[str, Any] = {"id": None, "object": "chat.completion", "created": None, "model": None}
        self.choices: dict[Any, dict[str, Any]] = {}
        self.usage: Any = None
        self.final_response: Any = None
        self.response_snapshot: Any = None
        self.responses_text: dict[int, list[str]] = {}
        self.responses_items: dict[int, Any] = {}

    def add_all(self, events: list[Any]) -> None:
        if self.chunked is None:  # the first event says which API this stream speaks
            self.chunked = "choices" in fields_of(events[0])
        if self.chunked:
            self._add_chunks(events)
            return
        for event in events:
            kind = get(event, "type")
            if kind is not None and str(kind).startswith("response."):
                self._add_responses_event(str(kind), event)

    def _add_chunks(self, chunks: list[Any]) -> None:
        head, choices = self.head, self.choices
        for chunk in chunks:
            fields = fields_of(chunk)
            if not head["id"] and fields.get("id"):  # Azure's filter chunks have an empty id and model
                head["id"], head["created"] = fields.get("id"), fields.get("created")
                if fields.get("object") == "text_completion":
                    head["object"] = "text_completion"
            for key in ("model", "system_fingerprint", "service_tier"):
                if not head.get(key) and fields.get(key):
                    head[key] = fields[key]
            if fields.get("prompt_filter_results"):
                head["prompt_filter_results"] = fields["prompt_filter_results"]
            if fields.get("usage") is not None:
                self.usage = fields["usage"]
            for choice in fields.get("choices") or ():
                choice_fields = fields_of(choice)
                index = choice_fields.get("index") or 0
                slot = choices.get(index)
                if slot is None:
                    slot = choices[index] = _new_choice(index)
                delta = fields_of(choice_fields.get("delta"))
                content = delta.get("content") or choice_fields.get("text")  # legacy completions: text
                if content:
                    slot["text"].append(content)
                if delta.get("refusal"):
                    slot["refusal"].append(delta["refusal"])
                if delta.get("tool_calls"):
                    self._add_tool_deltas(slot["tools"], delta["tool_calls"])
                if choice_fields.get("finish_reason"):
                    slot["finish_reason"] = choice_fields["finish_reason"]

    @staticmethod
    def _add_tool_deltas(slots: dict[int, dict[str, Any]], tools: Any) -> None:
        for tool in tools:
            t_index = get(tool, "index") or 0
            entry = slots.setdefault(t_index, {"id": None, "type": "function", "name": None, "args": []})
            entry["id"] = get(tool, "id") or entry["id"]
            function = get(tool, "function")
            entry["name"] = get(function, "name") or entry["name"]
            arguments = get(function, "arguments")
            if arguments:
                entry["args"].append(arguments)

    def _add_responses_event(self, kind: str, event: Any) -> None:
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            self.final_response = get(event, "response")
        elif kind in ("response.created", "response.in_progress"):
            self.response_snapshot = get(event, "response")
        elif kind == "response.output_text.delta":
            self.responses_text.setdefault(get(event, "output_index") or 0, []).append(get(event, "delta") or "")
        elif kind == "response.output_item.done":
            self.responses_items[get(event, "output_index") or 0] = get(event, "item")

    def complete(self, call: LLMCall) -> None:
        if self.final_response is not None:
            call.response = self.final_response
            OpenAIAdapter().read_response(call, self.final_response)
            return
        if self.response_snapshot is not None:  # a Responses stream that ended early
            self._complete_early_response(call)
            return
        text_completion = self.head["object"] == "text_completion"
        choices = []
        for index in sorted(self.choices, key=str):
            slot = self.choices[index]
            if text_completion:
                choices.append({"index": index, "text": "".join(slot["text"]), "finish_reason": slot["finish_reason"]})
                continue
            message: dict[str, Any] = {"role": slot["role"], "content": "".join(slot["text"]) or None}
            if slot["refusal"]:
                message["refusal"] = "".join(slot["refusal"])
            if slot["tools"]:
                message["tool_calls"] = [
                    {"id": t["id"], "type": t["type"], "function": {"name": t["name"], "arguments": "".join(t["args"])}}
                    for _, t in sorted(slot["tools"].items(), key=lambda item: str(item[0]))
                ]
            choices.append({"index": index, "message": message, "finish_reason": slot["finish_reason"]})
        response: dict[str, Any] = {**self.head, "choices": choices}
        if self.usage is not None:  # the fields, not the model: one object for the writer, not three
            response["usage"] = fields_of(self.usage)
        call.response = response
        read_ids_and_usage(call, response, openai_usage)
        call.finish_reasons = _finish_reasons(choices)  # what the chunks said, read off the assembled choices

    def _complete_early_response(self, call: LLMCall) -> None:
        OpenAIAdapter().read_response(call, self.response_snapshot)
        output = [
            self.responses_items.get(i)
            or {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "".join(self.responses_text.get(i, []))}],
            }
            for i in sorted(set(self.responses_items) | set(self.responses_text))
        ]
        call.response = {
            "id": call.response_id,
            "object": "response",
            "model": call.response_model,
            "status": "incomplete",
            "output": output,
        }
        call.finish_reasons = ()
