"""OpenAI streams → the whole response they add up to (Chat Completions, legacy Completions, Responses)."""

from __future__ import annotations

from typing import Any

from llmtel.instrumentation.adapter import read_ids_and_usage
from llmtel.instrumentation.openai.response import finish_reasons, read_response, response_attributes
from llmtel.instrumentation.openai.usage import read_usage
from llmtel.instrumentation.records import LLMCall
from llmtel.instrumentation.stainless.fields import fields_of, get


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
            read_response(call, self.final_response)
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
        read_ids_and_usage(call, response, read_usage)
        call.response_attributes = response_attributes(self.head)
        call.finish_reasons = finish_reasons(choices)  # what the chunks said, read off the assembled choices

    def _complete_early_response(self, call: LLMCall) -> None:
        read_response(call, self.response_snapshot)
        call.response_attributes = ()  # a snapshot's service tier is the one asked for, not the one used
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
