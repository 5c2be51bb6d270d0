"""The byte budget: every value llmtel puts on a span fits, and what does not is offloaded.

A value that fits goes on the span as is. A larger one becomes a valid-JSON preview plus
``<key>_ref`` = ``llmtel://llm_payloads/<key>``, and the full bytes go to the ``PayloadSink``
(no ``_ref`` when the sink refused them). The key is the sha256 of the bytes, so a repeated
system prompt is stored once; a value of more than ``LATE_BYTES`` is not encoded or hashed on
the request path at all: it gets a random key and the sink's thread encodes it. Each span also
has a total budget for everything llmtel adds to it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, Final

from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

from llmtel.instrumentation import active
from llmtel.instrumentation.context import current as current_context
from llmtel.instrumentation.encoding import encode, preview, size_floor, utf8_len
from llmtel.instrumentation.records import LateJSON
from llmtel.instrumentation.selftelemetry import (
    attributes_dropped,
    content_redaction_failures,
    payloads_dropped,
    payloads_offloaded,
    report_error,
)
from llmtel.instrumentation.semconv import LLMTEL_DROPPED_ATTRIBUTES, PAYLOAD_REF_PREFIX, REF_SUFFIX

RESERVE: Final = 64  # kept free on every span for the dropped-attributes counter
# Values at least this big are encoded on the sink's thread, not the request path's: encoding and
# hashing cost it about 10 ms per MB (docs/performance.md), and such values are rarely sent twice.
LATE_BYTES: Final = 256 * 1024
REDACTION_FAILED: Final = "[llmtel: redaction failed]"


class SpanBudget:
    """Bytes llmtel may still add to one span (attribute keys + values, event names + attributes)."""

    __slots__ = ("dropped", "remaining")

    def __init__(self, remaining: int) -> None:
        self.remaining = remaining
        self.dropped = 0


_budgets: weakref.WeakKeyDictionary[Span, SpanBudget] = weakref.WeakKeyDictionary()


def attribute_bytes(key: str, value: Any) -> int:
    """Approximate exported size of one attribute."""
    if isinstance(value, str):
        return len(key) + utf8_len(value)
    if isinstance(value, (tuple, list)):
        return len(key) + sum(utf8_len(v) if isinstance(v, str) else 8 for v in value)
    return len(key) + 8


def new_budget(used: int) -> SpanBudget:
    """A budget for a span whose attributes so far cost ``used`` bytes. Spans llmtel starts use
    it unregistered; a later :func:`budget_for` on them recounts from what the span holds."""
    return SpanBudget(active.setup.settings.max_span_bytes - RESERVE - used)


def budget_for(span: Span) -> SpanBudget:
    """The budget of any recording span; for one llmtel did not start, what it holds counts."""
    budget = _budgets.get(span)
    if budget is None:
        used = 0
        attributes: Mapping[str, Any] = getattr(span, "attributes", None) or {}
        for key, value in attributes.items():
            used += attribute_bytes(key, value)
        for event in getattr(span, "events", ()) or ():
            used += len(event.name) + sum(attribute_bytes(k, v) for k, v in (event.attributes or {}).items())
        budget = _budgets[span] = new_budget(used)
    return budget


class _RecentShas:
    """Shas offered lately, so a repeated system prompt is not re-sent to the sink each call."""

    def __init__(self, size: int = 4096) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def __contains__(self, sha: str) -> bool:
        with self._lock:
            if sha in self._seen:
                self._seen.move_to_end(sha)
                return True
            return False

    def add(self, sha: str) -> None:
        with self._lock:
            self._seen[sha] = None
            if len(self._seen) > self._size:
                self._seen.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


recent = _RecentShas()


def offload(data: bytes) -> str | None:
    """Hand ``data`` to the payload sink; its ``llmtel://llm_payloads/<sha256>`` ref, or None
    when nothing will store it (no sink, content storage off, queue full): a span never
    names a payload that is not on its way to the store.

    The payload is stored under the current ``llm_context`` org, so one tenant's reader never
    resolves another tenant's values."""
    sha = hashlib.sha256(data).hexdigest()
    org_id = _org()
    key = sha if org_id is None else f"{org_id}/{sha}"
    if key in recent:
        return PAYLOAD_REF_PREFIX + sha
    if not _offer(sha, data, org_id):
        return None
    recent.add(key)
    return PAYLOAD_REF_PREFIX + sha


def offload_late(value: Any, floor: int) -> str | None:
    """Like :func:`offload` for a value of at least ``floor`` bytes that the sink's thread will
    encode (see LATE_BYTES), under a random key: its hash would cost the request path a full read."""
    key = os.urandom(32).hex()
    return PAYLOAD_REF_PREFIX + key if _offer(key, LateJSON(value, floor), _org()) else None


def _org() -> str | None:
    """The current ``llm_context`` org, under which a payload is stored."""
    scope = current_context()
    return scope.org_id if scope is not None else None


def _offer(key: str, data: bytes | LateJSON, org_id: str | None) -> bool:
    """Offer one payload to the sink; False (and counted) when nothing will store it."""
    sink = active.setup.payload_sink
    accepted = False
    if sink is not None and active.setup.settings.store_content:
        try:
            accepted = sink.offer_payload(key, data, org_id)
        except Exception as exc:
            report_error("payload_sink.offer_payload", exc)
    if accepted:
        payloads_offloaded.add(len(data))
        return True
    reason = "no_sink" if sink is None else "rejected" if active.setup.settings.store_content else "content_off"
    payloads_dropped.add(1, {"reason": reason})
    return False


def redact(kind: str, value: Any) -> Any:
    """Run the configured redaction hook; a hook that raises drops the content (fails closed)."""
    hook = active.setup.settings.redact
    if hook is None:
        return value
    try:
        return hook(kind, value)
    except Exception as exc:
        content_redaction_failures.add(1, {"kind": kind})
        report_error("redaction_hook", exc)
        return REDACTION_FAILED


def redacted_text(kind: str, value: str | None) -> str | None:
    """A text (an error message, a stack trace) through the redaction hook, given back as text."""
    if value is None or active.setup.settings.redact is None:
        return value
    out = redact(kind, value)
    return out if isinstance(out, str) or out is None else encode(out)


def fit(
    out: MutableMapping[str, Any],
    key: str,
    text: str,
    budget: SpanBudget,
    tree: Callable[[], Any] | None = None,
    structured: bool = False,
) -> None:
    """Put JSON ``text`` under ``key`` in ``out`` within both budgets, offloading if it is too big.

    ``tree`` gives the JSON-safe value for the preview when it is cheaper than parsing ``text``.
    ``structured`` puts the value (or its preview) as the JSON it holds, not as text: a log
    event's attributes take maps and lists, and parsed text is only what the SDK accepts.
    """
    size = utf8_len(text)
    max_attr = active.setup.settings.max_attribute_bytes
    if size <= max_attr and len(key) + size <= budget.remaining:
        out[key] = json.loads(text) if structured else text
        budget.remaining -= len(key) + size
        return
    try:
        ref = offload(text.encode("utf-8", "surrogatepass"))
    except Exception as exc:
        report_error("budget.offload", exc)
        ref = None

    def tree_of() -> Any:
        try:
            return tree() if tree is not None else json.loads(text)
        except Exception:
            return text

    _put_preview(out, key, ref, budget, tree_of, size, structured)


def fit_tree(out: MutableMapping[str, Any], key: str, value: Any, budget: SpanBudget, structured: bool = False) -> None:
    """Encode and :func:`fit` one Python value; one of at least LATE_BYTES is previewed from the
    value itself and offloaded to be encoded on the sink's thread, never read whole here. Its
    queue charge is the floor counted up to there (one long string: its whole length): counting
    all of 50,000 messages would cost the request path as much as encoding them, and the call's
    request body, which holds them, is charged whole on the same queue."""
    floor = size_floor(value, LATE_BYTES)
    if floor < LATE_BYTES:
        fit(out, key, encode(value), budget, structured=structured)
        return
    ref = offload_late(value, floor)
    _put_preview(out, key, ref, budget, lambda: value, floor, structured)


def _put_preview(
    out: MutableMapping[str, Any],
    key: str,
    ref: str | None,
    budget: SpanBudget,
    tree: Callable[[], Any],
    size: int,
    structured: bool = False,
) -> None:
    """An offloaded value's preview under ``key`` and its ``ref`` under ``<key>_ref``, in what the
    budget has left; counted as dropped when not even a short preview fits."""
    ref_key = key + REF_SUFFIX
    ref_cost = 0 if ref is None else len(ref_key) + len(ref)
    room = min(active.setup.settings.max_attribute_bytes, budget.remaining - len(key) - ref_cost)
    if room < 8:
        budget.dropped += 1
        attributes_dropped.add(1)
        return
    shown = preview(tree(), room, size)
    out[key] = json.loads(shown) if structured else shown
    if ref is not None:
        out[ref_key] = ref
    budget.remaining -= len(key) + utf8_len(shown) + ref_cost


def fit_value(out: MutableMapping[str, AttributeValue], key: str, value: Any, budget: SpanBudget, kind: str) -> None:
    """Redact, encode and :func:`fit` one Python value."""
    fit_tree(out, key, redact(kind, value), budget)


def plain_attribute(value: Any) -> bool:
    """True for values OTel takes natively and that are small: kept as they are, not JSON."""
    if isinstance(value, (bool, int, float)):
        return True
    return isinstance(value, str) and len(value) <= 256


def budgeted(attributes: Mapping[str, Any], budget: SpanBudget, kind: str) -> dict[str, AttributeValue]:
    """User-given ``attributes`` made to fit ``budget``: small plain values as they are,
    everything else as JSON (previewed and offloaded when too big)."""
    out: dict[str, AttributeValue] = {}
    hook = active.setup.settings.redact
    for key, value in attributes.items():
        if hook is None and plain_attribute(value):
            cost = len(key) + (utf8_len(value) if isinstance(value, str) else 8)
            if cost <= budget.remaining:
                out[key] = value
                budget.remaining -= cost
                continue
        fit_value(out, key, value, budget, kind)
    return out


def mark_dropped(span: Span, budget: SpanBudget) -> None:
    """Say on the span how many values its budget had no room for (uses the reserve)."""
    if budget.dropped:
        span.set_attribute(LLMTEL_DROPPED_ATTRIBUTES, budget.dropped)


def forget_offered() -> None:
    """Forget which payloads were offered, so a newly configured sink receives them again."""
    recent.clear()
