"""OpenAI chat messages and Responses items in the GenAI message shape (content capture)."""

from __future__ import annotations

from openai.types.chat import ChatCompletionMessage

from llmtel.instrumentation.openai.messages import chat_message, response_items


def test_a_tool_calling_turn_and_its_answer() -> None:
    assistant = ChatCompletionMessage.model_validate(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
            ],
        }
    )
    assert chat_message(assistant) == {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "c1", "name": "get_weather", "arguments": {"city": "Oslo"}}],
    }
    answer = chat_message({"role": "tool", "tool_call_id": "c1", "content": "-3 C"})
    assert answer == {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "-3 C"}]}


def test_content_parts_refusals_and_arguments_that_are_not_json() -> None:
    message = chat_message({"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url"}]})
    assert message["parts"][0] == {"type": "text", "content": "hi"}
    assert message["parts"][1]["type"] == "image_url"  # unknown parts pass through with their type
    bad_args = {"id": "c", "function": {"name": "f", "arguments": "{not json"}}
    assert chat_message({"role": "assistant", "tool_calls": [bad_args]})["parts"][0]["arguments"] == "{not json"
    assert chat_message({"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]})["parts"] == [
        {"type": "refusal", "content": "no"}
    ]


def test_responses_items() -> None:
    items = response_items(
        [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {"type": "reasoning", "summary": [{"text": "look it up"}]},
        ]
    )
    assert [m["parts"][0]["type"] for m in items] == ["text", "tool_call", "tool_call_response", "reasoning"]
    assert response_items("just text") == [{"role": "user", "parts": [{"type": "text", "content": "just text"}]}]
