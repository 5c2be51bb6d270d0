"""The byte budget: previews, refs, offloaded payloads, per-span totals, odd values."""

from __future__ import annotations

import datetime
import enum
import hashlib
import json
import math
import tracemalloc
from dataclasses import dataclass
from typing import Any

import pydantic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmtel.instrumentation import log_attributes, log_event, trace_method
from llmtel.instrumentation.budget import LATE_BYTES
from llmtel.instrumentation.encoding import encode, preview, size_floor, utf8_len
from llmtel.instrumentation.semconv import PAYLOAD_REF_PREFIX
from tests.support.telemetry import Telemetry


def span_bytes(span: Any) -> int:
    """What a span's attributes and events weigh, as the budget counts them."""

    def size(key: str, value: Any) -> int:
        if isinstance(value, str):
            return len(key) + utf8_len(value)
        if isinstance(value, tuple):
            return len(key) + sum(utf8_len(v) if isinstance(v, str) else 8 for v in value)
        return len(key) + 8

    total = sum(size(k, v) for k, v in span.attributes.items())
    for event in span.events:
        total += len(event.name) + sum(size(k, v) for k, v in event.attributes.items())
    return total


def assert_within_budget(tel: Telemetry, span: Any, max_attr: int = 4096, max_span: int = 16384) -> None:
    assert span_bytes(span) <= max_span
    values = list(span.attributes.items()) + [kv for e in span.events for kv in e.attributes.items()]
    for key, value in values:
        if isinstance(value, str):
            assert utf8_len(value) <= max_attr, key
        if key.endswith("_ref"):
            key_of = value.removeprefix(PAYLOAD_REF_PREFIX)
            stored = tel.sink.payload(value)
            assert stored is not None, f"{key} points at nothing"
            json.loads(stored)
            if len(stored) < LATE_BYTES:  # content-addressed; bigger values get a random key
                assert hashlib.sha256(stored).hexdigest() == key_of


class Color(enum.Enum):
    RED = "red"


@dataclass
class Point:
    x: float
    y: float


class Message(pydantic.BaseModel):
    role: str
    content: str


def test_odd_values_encode_faithfully() -> None:
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)

    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert json.loads(encode(b"hello")) == "hello"
    assert json.loads(encode(b"\xff\x00")) == {"$llmtel.bytes_base64": "/wA="}
    assert json.loads(encode(math.nan)) == "NaN"
    assert json.loads(encode([math.inf, -math.inf])) == ["Infinity", "-Infinity"]
    assert json.loads(encode(cyclic)) == [1, "[llmtel: cycle]"]
    assert json.loads(encode(Color.RED)) == "red"
    assert json.loads(encode(Point(1.0, 2.0))) == {"x": 1.0, "y": 2.0}
    assert json.loads(encode(Message(role="user", content="hi"))) == {"role": "user", "content": "hi"}
    assert json.loads(encode(datetime.date(2024, 1, 2))) == "2024-01-02"
    assert json.loads(encode({(1, 2): "tuple key"})) == {"[1,2]": "tuple key"}
    assert json.loads(encode({1, 2})) in ([1, 2], [2, 1])
    assert (
        json.loads(encode(Unprintable())) == "<unrepresentable test_odd_values_encode_faithfully.<locals>.Unprintable>"
    )
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    assert "nested too deep" in encode(deep)


def test_preview_keeps_structure_and_says_what_was_cut() -> None:
    value = {"messages": [{"role": "user", "content": "x" * 100_000}], "model": "gpt-4o"}
    text = preview(value, 1024, len(encode(value)))
    assert utf8_len(text) <= 1024
    shown = json.loads(text)
    assert shown["model"] == "gpt-4o"
    assert shown["messages"][0]["role"] == "user"
    content = shown["messages"][0]["content"]
    assert content.startswith("xxxx")
    cut = int(content.rsplit("+", 1)[1].split(" ")[0])
    assert cut == 100_000 - content.index("…")


def test_huge_argument_becomes_preview_and_ref(tel: Telemetry) -> None:
    @trace_method
    def prompt(text: str) -> int:
        return len(text)

    big = "é" * 3_000_000  # 6 MB of UTF-8
    assert prompt(big) == 3_000_000
    span = tel.span("test_huge_argument_becomes_preview_and_ref.<locals>.prompt")
    assert_within_budget(tel, span)
    assert json.loads(span.attributes["parameter.text"]).startswith("ééé")
    stored = tel.sink.payload(span.attributes["parameter.text_ref"])
    assert stored is not None and json.loads(stored) == big


def test_span_total_budget_with_many_large_arguments(tel: Telemetry) -> None:
    @trace_method
    def many(a: str, b: str, c: str, d: str, e: str, f: str, g: str) -> None:
        log_event("progress", {"blob": "z" * 50_000, "n": 1})
        log_attributes({"extra": {"k": "v" * 20_000}})

    many(*["q" * 10_000] * 7)
    span = tel.span("test_span_total_budget_with_many_large_arguments.<locals>.many")
    assert_within_budget(tel, span)
    # the values that found no room are counted, not silently gone
    refs = [k for k in span.attributes if k.endswith("_ref")]
    assert len(refs) + span.attributes.get("llmtel.dropped_attributes", 0) >= 7


def test_identical_payloads_are_offered_once(tel: Telemetry) -> None:
    @trace_method
    def call(system: str) -> None:
        return None

    system = "You are a helpful assistant. " * 1000
    for _ in range(5):
        call(system)
    refs = {s.attributes["parameter.system_ref"] for s in tel.spans()}
    assert len(refs) == 1
    assert len(tel.sink.payloads) == 1


def test_log_event_keeps_small_plain_values(tel: Telemetry) -> None:
    @trace_method
    def work() -> None:
        log_event("step", {"n": 3, "ok": True, "ratio": 0.5, "who": "me", "data": {"a": [1]}})

    work()
    event = tel.span("test_log_event_keeps_small_plain_values.<locals>.work").events[0]
    assert dict(event.attributes) == {"n": 3, "ok": True, "ratio": 0.5, "who": "me", "data": '{"a":[1]}'}


def test_log_event_without_span_is_a_noop(tel: Telemetry) -> None:
    log_event("nothing", {"x": 1})
    log_attributes({"x": 1})
    assert tel.spans() == []


def test_redaction_hook_sees_values_and_fails_closed(tel: Telemetry) -> None:
    seen: list[tuple[str, Any]] = []

    def redact(kind: str, value: Any) -> Any:
        seen.append((kind, value))
        if value == "boom":
            raise ValueError("hook bug")
        return "[redacted]" if kind == "parameter" and value == "secret" else value

    tel.configure(redact=redact)

    @trace_method
    def login(user: str, password: str) -> None:
        log_event("attempt", {"password": "boom"})

    login("ann", "secret")
    span = tel.span("test_redaction_hook_sees_values_and_fails_closed.<locals>.login")
    assert span.attributes["parameter.password"] == '"[redacted]"'
    assert span.events[0].attributes["password"] == '"[llmtel: redaction failed]"'
    assert ("parameter", "ann") in seen
    assert tel.counter("llmtel.redaction.failures") >= 1


def test_smaller_configured_budgets_hold(tel: Telemetry) -> None:
    tel.configure(max_attribute_bytes=512, max_span_bytes=2048)

    @trace_method
    def f(a: Any, b: Any, c: Any) -> None:
        return None

    f({"k": "v" * 5000}, ["x" * 300] * 50, "y" * 10_000)
    span = tel.span("test_smaller_configured_budgets_hold.<locals>.f")
    assert_within_budget(tel, span, 512, 2048)


class RaisesInRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def cyclic(items: list[Any]) -> list[Any]:
    items.append(items)
    return items


def deep(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = {"d": [value]}
    return value


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary()
    | st.builds(RaisesInRepr)
    | st.text(alphabet=st.characters(codec="utf-8", categories=["Cs", "Co", "Cn", "Zl", "Zp", "Mn"])),
    lambda children: (
        st.lists(children, max_size=8)
        | st.dictionaries(st.text(max_size=20), children, max_size=8)
        | st.builds(cyclic, st.lists(children, max_size=3))
        | st.builds(deep, children, st.integers(min_value=50, max_value=400))
    ),
    max_leaves=60,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values, size=st.integers(min_value=0, max_value=20_000))
def test_any_value_stays_within_budget_and_previews_parse(tel: Telemetry, value: Any, size: int) -> None:
    tel.exporter.clear()

    @trace_method
    def target(value: Any, padding: str) -> Any:
        log_event("e", {"value": value})
        return value

    assert target(value, "p" * size) is value  # the app gets exactly what it would without llmtel
    span = tel.spans()[-1]
    assert_within_budget(tel, span)
    for key, text in list(span.attributes.items()) + list(span.events[0].attributes.items()):
        if key.startswith("parameter.") and not key.endswith("_ref"):
            json.loads(text)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_size_floor_never_exceeds_the_encoded_size(value: Any) -> None:
    """What decides that a value is encoded on the sink's thread is a lower bound: a value that
    would fit the span is never sent there by mistake."""
    assert size_floor(value, 1 << 62) <= utf8_len(encode(value))


def test_the_size_floor_of_many_messages_holds_only_what_it_counts() -> None:
    """50,000 messages: the floor stops once past what it was asked, holding a few frames of
    state, not a pending entry for every message (the request path paid for all of them)."""
    messages = [{"role": "user", "content": f"turn {i}: a short message"} for i in range(50_000)]
    tracemalloc.start()
    try:
        floor = size_floor(messages, 64 << 10)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 64 << 10 < floor < 70 << 10
    assert peak < 200_000  # the seen set of the ~1,500 messages read; a pending list of 50,000 was 4 MB


def test_a_huge_value_with_objects_round_trips_from_its_ref(tel: Telemetry) -> None:
    """A value past LATE_BYTES, holding objects JSON does not know, is previewed from the value
    and stored byte for byte as ``encode`` makes it, under the ref on the span."""

    class Part(pydantic.BaseModel):
        kind: str
        text: str

    value = {"parts": [Part(kind="text", text="ü" * 200_000), Point(1.5, 2.0)], "n": 3, "tail": "x" * 100_000}

    @trace_method
    def ask(prompt: Any) -> str:
        return "ok"

    assert ask(value) == "ok"
    span = tel.span("test_a_huge_value_with_objects_round_trips_from_its_ref.<locals>.ask")
    assert_within_budget(tel, span)
    assert json.loads(span.attributes["parameter.prompt"])["parts"][0]["kind"] == "text"
    stored = tel.sink.payload(span.attributes["parameter.prompt_ref"])
    assert stored == encode(value).encode("utf-8")
