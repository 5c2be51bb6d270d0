"""ProviderServer: a real HTTP server on 127.0.0.1 that answers like the OpenAI and Anthropic APIs.

Replies are queued per request path (``expect``) or given per path as a default
(``always``). A reply is JSON or a server-sent-event stream written chunk by chunk, and
can carry faults: a delay, a connection reset after N bytes, a hang, a truncated body.
Every request is kept (method, path, headers, body) so tests can check what the SDK sent.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One HTTP answer. ``events`` (SSE) wins over ``body``."""

    status: int = 200
    body: bytes = b""
    events: list[bytes] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    event_delay_s: float = 0.0
    reset_after_events: int | None = None
    hang_s: float = 0.0

    @classmethod
    def json(cls, data: Any, status: int = 200, **kwargs: Any) -> Reply:
        return cls(status=status, body=json.dumps(data).encode(), **kwargs)

    @classmethod
    def sse(cls, events: Iterable[str | bytes], **kwargs: Any) -> Reply:
        """``events`` are complete SSE events (``data: ...`` / ``event: ...\\ndata: ...``)."""
        chunks = [(e if isinstance(e, bytes) else e.encode()).rstrip(b"\n") + b"\n\n" for e in events]
        return cls(events=chunks, **kwargs)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        request = Received(self.command, path, {k.lower(): v for k, v in self.headers.items()}, body)
        self.server.owner._record(request)
        reply = self.server.owner._next(request)
        if reply.hang_s:
            time.sleep(reply.hang_s)
            self.close_connection = True
            return
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.events:
            self._stream(reply)
        else:
            self.send_response(reply.status)
            self.send_header("content-type", reply.headers.get("content-type", "application/json"))
            for key, value in reply.headers.items():
                if key.lower() != "content-type":
                    self.send_header(key, value)
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

    def _stream(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        for i, event in enumerate(reply.events):
            if reply.reset_after_events is not None and i >= reply.reset_after_events:
                self._reset()
                return
            if reply.event_delay_s:
                time.sleep(reply.event_delay_s)
            try:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            except OSError:  # the client went away mid-stream
                self.close_connection = True
                return
        self.wfile.write(b"0\r\n\r\n")

    def _reset(self) -> None:
        """Drop the connection with a TCP RST, as a failing proxy or provider would."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    do_POST = _serve
    do_GET = _serve
    do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # many concurrent clients connect at once in the concurrency tests
    owner: ProviderServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a test closing a stream early) is normal here, not an error."""


class ProviderServer:
    """Start with ``with ProviderServer() as server:``; point an SDK at ``server.url``."""

    def __init__(self) -> None:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._queues: defaultdict[str, deque[Reply]] = defaultdict(deque)
        self._defaults: dict[str, Reply | Callable[[Received], Reply]] = {}
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.keep_requests = True  # benchmarks turn this off to keep memory flat
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="provider-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ProviderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def expect(self, path: str, *replies: Reply) -> ProviderServer:
        """Answer the next requests to ``path`` with ``replies``, in order."""
        with self._lock:
            self._queues[path].extend(replies)
        return self

    def always(self, path: str, reply: Reply | Callable[[Received], Reply]) -> ProviderServer:
        """Answer every request to ``path`` with ``reply`` (or ``reply(request)``) once its queue is empty."""
        with self._lock:
            self._defaults[path] = reply
        return self

    def reset(self) -> None:
        with self._lock:
            self._queues.clear()
            self._defaults.clear()
            self.received.clear()

    def _record(self, request: Received) -> None:
        if not self.keep_requests:
            return
        with self._lock:
            self.received.append(request)

    def _next(self, request: Received) -> Reply:
        path = request.path
        with self._lock:
            queue = self._queues.get(path)
            if queue:
                return queue.popleft()
            default = self._defaults.get(path)
        if default is not None:
            return default(request) if callable(default) else default
        return Reply.json({"error": {"type": "not_found", "message": f"no reply queued for {path}"}}, status=404)
