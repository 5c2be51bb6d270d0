"""``llmtel ui``: a local, read-only web page over the store, served by the standard library.

One HTML file (``index.html``: no build step, no dependency) asks a few JSON routes for what
it shows: recent runs with filters, a run's or trace's span tree with its timeline, a call's
request and response in pages (the store sends a page, never a whole 5 MB body; ``_ref``
values are opened the same way), and cost and tokens over time. Only GET is answered; it listens
on loopback unless told otherwise. One reader serves every request, one at a time.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Final
from urllib.parse import parse_qs, urlparse

from llmtel.exporters.cli.format import parse_since
from llmtel.exporters.clickhouse.reader import StoreEmpty, TraceReader

PAGE_CHARS: Final = 20_000  # of a body or payload per request
logger = logging.getLogger("llmtel")


class Api:
    """The JSON routes, over one reader (its client is not shared between threads). The reader
    is opened at the first request that finds the store: the page may be started before any app
    has created it, as ``llmtel tail`` may, and says so until then."""

    def __init__(self, url: str, org_id: str | None = None) -> None:
        self.url = url
        self.org_id = org_id
        self._reader: TraceReader | None = None
        self.lock = threading.Lock()

    @property
    def reader(self) -> TraceReader:
        if self._reader is None:
            self._reader = TraceReader(self.url, org_id=self.org_id)
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    def answer(self, path: str, query: dict[str, str]) -> Any:
        with self.lock:
            return getattr(self, "route_" + path)(query)

    def route_runs(self, q: dict[str, str]) -> Any:
        since = parse_since(q["since"]) if q.get("since") else None
        return self.reader.runs(
            agent_id=q.get("agent") or None,
            run=q.get("run") or None,
            model=q.get("model") or None,
            since=since,
            errors_only=q.get("errors") == "1",
            limit=int(q.get("limit", 50)),
        )

    def route_tree(self, q: dict[str, str]) -> Any:
        key = q["key"]
        trace_ids = (
            [key[len("trace:") :]] if key.startswith("trace:") else self.reader.run_trace_ids(key)
        ) or self.reader.trace_ids_starting(key, limit=1)
        spans = self.reader.spans(trace_ids)
        by_trace = self.reader.by_traces(trace_ids)
        traces = []
        for trace_id in trace_ids:
            calls = {c.span_id: c for c in by_trace.get(trace_id, [])}
            items = [
                {
                    "span_id": s.span_id,
                    "parent": s.parent_span_id,
                    "name": s.name,
                    "start_ns": s.start_ns,
                    "duration_ns": s.duration_ns,
                    "error": s.status == "Error",
                    "events": [name for _, name, _ in s.events],
                    "call": _call(calls.pop(s.span_id, None)),
                }
                for s in spans
                if s.trace_id == trace_id
            ]
            items += [  # calls whose span is not stored (not sampled, or spans off)
                {
                    "span_id": c.span_id,
                    "parent": c.parent_span_id or "",
                    "name": f"{c.operation} {c.request_model or ''}".strip(),
                    "start_ns": int(c.created_at.timestamp() * 1e9),
                    "duration_ns": int(c.duration_ms * 1e6),
                    "error": c.is_error,
                    "events": [],
                    "call": _call(c),
                }
                for c in calls.values()
            ]
            traces.append({"trace_id": trace_id, "spans": items})
        return traces

    def route_body(self, q: dict[str, str]) -> Any:
        offset = max(0, int(q.get("offset", 0)))
        if q.get("ref"):
            text, total = self.reader.payload_page(q["ref"], offset, PAGE_CHARS)
        else:
            text, total = self.reader.body_page(q["id"], q.get("part", "request"), offset, PAGE_CHARS)
        return {"text": text, "offset": offset, "total": total}

    def route_usage(self, q: dict[str, str]) -> Any:
        since = parse_since(q["since"]) if q.get("since") else None
        rows = self.reader.usage_over_time(q.get("by", "model"), since=since, bucket=q.get("bucket", "hour"))
        return [{"at": at, "key": key, "cost_usd": c, "tokens": t} for at, key, c, t in rows]


def _call(trace: Any) -> dict[str, Any] | None:
    if trace is None:
        return None
    return {
        "id": trace.id,
        "model": trace.response_model or trace.request_model,
        "provider": trace.provider,
        "input_tokens": trace.input_tokens,
        "output_tokens": trace.output_tokens,
        "cost_usd": trace.cost_usd,
        "duration_ms": trace.duration_ms,
        "error_type": trace.error_type,
        "request_bytes": trace.request_bytes,
        "response_bytes": trace.response_bytes,
        "agent_id": trace.agent_id,
        "step_id": trace.step_id,
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("llmtel ui: " + format, *args)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path in ("/", "/index.html"):
            self._send(200, "text/html; charset=utf-8", self.server.page)
            return
        name = url.path.removeprefix("/api/")
        if url.path.startswith("/api/") and hasattr(Api, "route_" + name):
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                body = json.dumps(self.server.api.answer(name, query), default=str).encode()
            except StoreEmpty as exc:
                self._send(200, "application/json", json.dumps({"empty": str(exc)}).encode())
                return
            except (KeyError, ValueError) as exc:
                self._send(400, "application/json", json.dumps({"error": f"bad request: {exc}"}).encode())
                return
            except Exception as exc:  # the store went away: the page says so, the server stays up
                self._send(503, "application/json", json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
                return
            self._send(200, "application/json", body)
            return
        self._send(404, "text/plain", b"not found")

    def _refuse(self) -> None:
        self._send(405, "text/plain", b"read-only")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: Api) -> None:
        super().__init__(address, _Handler)
        self.api = api
        self.page = resources.files("llmtel.exporters.ui").joinpath("index.html").read_bytes()


def serve(url: str, host: str, port: int, org_id: str | None = None, ready: Any = None) -> None:
    """Serve the UI until interrupted; ``ready(address)`` is called once it listens."""
    api = Api(url, org_id)
    server = _Server((host, port), api)
    try:
        if ready is not None:
            ready(server.server_address)
        server.serve_forever()
    finally:
        server.server_close()
        api.close()
