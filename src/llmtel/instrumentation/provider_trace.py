"""LLMCall → ProviderTrace: the one place a provider-trace row is built, on the sink's thread.

Every value is made to fit its column here, whatever the provider sent: a count that is
negative, fractional, not a number or past UInt64 is null; an id or model that is not a
string becomes its text (a number) or null (anything else); lone surrogates, which no
UTF-8 column can hold, are replaced in metadata and escaped in JSON text. The raw values
stay in ``response_json``. So no value from a provider can make the store reject a row.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from llmtel.instrumentation import active
from llmtel.instrumentation.budget import redact, redacted_text
from llmtel.instrumentation.context import LLMContext
from llmtel.instrumentation.encoding import encode, encode_bytes, utf8_len
from llmtel.instrumentation.records import LLMCall, ProviderTrace
from llmtel.instrumentation.usage import Usage

_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_NO_CONTEXT: Final = LLMContext()
_MASK64: Final = (1 << 64) - 1
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
CUT_MARKER: Final = "$llmtel.cut"
PREVIEW_BYTES: Final = 16384  # what a row keeps of a body too big to queue


def trace_record_id(trace_id: int, span_id: int) -> str:
    """Deterministic record id from the span's ids, so a replayed batch deduplicates."""
    return str(uuid.UUID(int=((trace_id & _MASK64) << 64) | span_id))


def count(value: Any) -> int | None:
    """A token count as a UInt64 column takes it, or None."""
    if type(value) is int:
        return value if 0 <= value <= _MASK64 else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return count(int(value))
    return None


def text(value: Any) -> str | None:
    """A metadata string as a String column takes it: numbers become their text, other
    non-strings None, lone surrogates U+FFFD."""
    if isinstance(value, str):
        out = str(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    else:
        return None
    if not out.isascii() and _SURROGATE.search(out):
        return _SURROGATE.sub("\ufffd", out)
    return out


def texts(values: Sequence[Any] | None) -> list[str]:
    return [t for t in (text(v) for v in values or ()) if t is not None]


def _extra(values: Mapping[str, Any]) -> dict[str, str]:
    """llm_context's extra keys as the Map(String, String) column takes them."""
    out = {}
    for key, value in values.items():
        name, content = text(key), text(value)
        if name and content is not None:
            out[name] = content
    return out


def json_text(value: str) -> str:
    """JSON text a String column takes: a lone surrogate (only ever inside a string literal)
    becomes its ``\\uXXXX`` escape, which decodes to the same string."""
    if value.isascii() or not _SURROGATE.search(value):
        return value
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def _json(value: Any, kind: str, wire: bool) -> tuple[str | bytes, int]:
    """JSON text and its byte size for a payload that may be raw JSON bytes from the wire; with
    ``wire``, ASCII bytes are returned as they are (a 5 MB body is not copied)."""
    if value is None:
        return "", 0
    hook_set = active.setup.settings.redact is not None
    if isinstance(value, (bytes, bytearray)):
        size = len(value)
        if not hook_set:
            if wire and type(value) is bytes and value.isascii():
                return value, size
            return bytes(value).decode("utf-8", "replace"), size
        try:
            value = json.loads(value)
        except ValueError:
            value = bytes(value).decode("utf-8", "replace")
    out = json_text(encode(redact(kind, value) if hook_set else value))
    return out, utf8_len(out)


def _checked(usage: Usage) -> Usage:
    return Usage(
        count(usage.input_tokens),
        count(usage.output_tokens),
        count(usage.total_tokens),
        count(usage.cache_read_input_tokens),
        count(usage.cache_write_input_tokens),
        count(usage.reasoning_tokens),
    )


def build(call: LLMCall, wire: bool = False) -> ProviderTrace:
    """The row for one finished call; ``wire`` keeps ASCII wire bodies as bytes (see _json)."""
    start, end = call.start_ns, max(call.end_ns, call.start_ns)
    usage = _checked(call.usage or Usage())
    total = usage.total_tokens
    if total is None and usage.input_tokens is not None:
        total = count(usage.input_tokens + (usage.output_tokens or 0))
    request_json: str | bytes = ""
    response_json: str | bytes = ""
    request_bytes = response_bytes = 0
    if active.setup.settings.store_content:
        request_json, request_bytes = _json(call.request, "request", wire)
        response_json, response_bytes = _json(call.response, "response", wire)
    if call.cut:  # the sizes of what was too big, not of its preview
        request_bytes = call.cut.get("request", (request_bytes, ""))[0]
        response_bytes = call.cut.get("response", (response_bytes, ""))[0]
    ctx = call.context or _NO_CONTEXT
    ttft = None if call.first_chunk_ns is None else max(0.0, (call.first_chunk_ns - start) / 1e6)
    provider = text(call.provider) or "unknown"
    request_model, response_model = text(call.request_model), text(call.response_model)
    params = call.request_params if call.params_of is None else call.params_of(call.request_params)
    return ProviderTrace(
        id=trace_record_id(call.trace_id, call.span_id),
        trace_id=f"{call.trace_id:032x}",
        span_id=f"{call.span_id:016x}",
        parent_span_id=None if call.parent_span_id is None else f"{call.parent_span_id:016x}",
        created_at=_EPOCH + datetime.timedelta(microseconds=start // 1000),
        duration_ms=(end - start) / 1e6,
        time_to_first_token_ms=ttft,
        org_id=text(ctx.org_id),
        user_id=text(ctx.user_id),
        agent_id=text(ctx.agent_id),
        agent_tags=texts(ctx.tags),
        run_id=text(ctx.run_id),
        step_id=text(ctx.step_id),
        call_type=text(ctx.call_type),
        service_name=text(call.service_name),
        provider=provider,
        operation=text(call.operation) or "unknown",
        request_model=request_model,
        response_model=response_model,
        response_id=text(call.response_id),
        finish_reasons=texts(call.finish_reasons),
        is_stream=bool(call.is_stream),
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=total,
        cache_read_input_tokens=usage.cache_read_input_tokens,
        cache_write_input_tokens=usage.cache_write_input_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        cost_usd=active.setup.prices.cost(provider, response_model or request_model, usage),
        is_error=bool(call.is_error),
        error_type=text(call.error_type),
        error_message=text(redacted_text("error", call.error_message)),
        request_json=request_json,
        response_json=response_json,
        request_bytes=request_bytes,
        response_bytes=response_bytes,
        request_params_json=json_text(encode(redact("request_params", params) if params else params)),
        extra=_extra(ctx.extra),
    )


def _body_preview(value: Any) -> str:
    """The start of a body as text: raw bytes are not parsed (a 100 MB parse would cost the
    request path seconds), a Python value is encoded and cut."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value[:PREVIEW_BYTES]).decode("utf-8", "ignore")
    return encode(value)[:PREVIEW_BYTES]


def _body_size_and_hash(value: Any) -> tuple[int, str]:
    data = bytes(value) if isinstance(value, (bytes, bytearray)) else encode_bytes(value)
    return len(data), hashlib.sha256(data).hexdigest()


def cut(call: LLMCall, reason: str) -> LLMCall:
    """The call with each body larger than a preview replaced by a preview saying what was cut
    (size, sha256, reason), for a call too big to queue whole: its row keeps metadata, usage
    and the bodies that were small."""
    bodies: dict[str, Any] = {"request": call.request, "response": call.response}
    sizes: dict[str, tuple[int, str]] = {}
    for kind, value in bodies.items():
        if value is None or (isinstance(value, (bytes, bytearray, str)) and len(value) <= PREVIEW_BYTES):
            continue
        size, sha = _body_size_and_hash(value)
        if size <= PREVIEW_BYTES:
            continue
        sizes[kind] = (size, sha)
        bodies[kind] = {CUT_MARKER: {"bytes": size, "sha256": sha, "reason": reason}, "head": _body_preview(value)}
    return replace(call, request=bodies["request"], response=bodies["response"], cut=sizes)
