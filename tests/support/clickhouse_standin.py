"""ClickHouseStandIn: the stand-in for a ClickHouse *server* in these tests.

No current ClickHouse server can be installed on this machine (Debian ships 18.16, which
clickhouse-connect cannot talk to), so this is a real HTTP server on 127.0.0.1 that speaks
the part of ClickHouse's HTTP interface clickhouse-connect uses (query in the URL or body,
``param_*`` bindings, settings as URL parameters, Native inserts with Content-Encoding,
``X-ClickHouse-*`` headers, errors as status 500 with an exception code) and executes every
statement on the real ClickHouse engine embedded by chdb. It injects faults: answer 503,
refuse service for a while, answer slowly, answer half a response, or store an insert and then
drop the connection (a lost reply).
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import chdb

# URL parameters that are transport options, not settings for the engine.
_TRANSPORT = {
    "query",
    "database",
    "query_id",
    "compress",
    "decompress",
    "wait_end_of_query",
    "session_id",
    "session_timeout",
    "session_check",
    "enable_http_compression",
    "client_protocol_version",
    "default_format",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "role",
}
_INSERT = re.compile(r"^\s*(INSERT\s+INTO\s+.+?)\s+FORMAT\s+(\w+)\s*", re.IGNORECASE | re.DOTALL)
_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_CODE = re.compile(r"Code: (\d+)")


@dataclass
class Seen:
    """One request as the stand-in understood it."""

    statement: str
    settings: dict[str, str]
    rows_inserted: bool = False


@dataclass
class Faults:
    fail_next: int = 0  # answer this many requests with 503
    down: bool = False  # answer every request with 503
    drop_after_insert: int = 0  # store this many inserts, then cut the connection without a reply
    delay_s: float = 0.0  # a slow server: wait this long before answering
    partial_next: int = 0  # answer this many requests with half a response, then cut the connection
    statements: list[Seen] = field(default_factory=list)


def _decode(body: bytes, encoding: str | None) -> bytes:
    if not encoding or not body:
        return body
    if encoding == "lz4":  # clickhouse-connect sends one LZ4 frame per block, back to back
        import lz4.frame

        out = []
        while body:
            frame = lz4.frame.LZ4FrameDecompressor()
            out.append(frame.decompress(body))
            body = frame.unused_data
        return b"".join(out)
    if encoding == "zstd":
        from backports import zstd  # clickhouse-connect's own dependency on this Python

        return bytes(zstd.decompress(body))
    if encoding == "gzip":
        return gzip.decompress(body)
    raise ValueError(f"stand-in: unsupported Content-Encoding {encoding}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(length)
        self._serve(body)

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _serve(self, body: bytes) -> None:
        standin = self.server.standin
        params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        with standin.lock:
            faults = standin.faults
            delay = faults.delay_s
            partial = faults.partial_next > 0
            faults.partial_next = max(0, faults.partial_next - 1)
        if delay:
            time.sleep(delay)
        if partial:
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"\x01\x02partial")
            self.close_connection = True
            return
        with standin.lock:
            if faults.down or faults.fail_next > 0:
                faults.fail_next = max(0, faults.fail_next - 1)
                self._reply(503, b"Code: 210. DB::NetException: stand-in outage (NETWORK_ERROR)\n")
                return
        try:
            body = _decode(body, self.headers.get("Content-Encoding"))
            result, fmt, inserted = standin.execute(params, body)
        except Exception as exc:
            message = str(exc)
            code = _CODE.search(message)
            self._reply(
                500,
                (message + "\n").encode(),
                {"X-ClickHouse-Exception-Code": code.group(1) if code else "1000"},
            )
            return
        with standin.lock:
            if inserted and standin.faults.drop_after_insert > 0:
                standin.faults.drop_after_insert -= 1
                self.close_connection = True
                self.connection.close()  # the rows are stored; the client never hears so
                return
        headers = {
            "X-ClickHouse-Query-Id": params.get("query_id", str(uuid.uuid4())),
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Server-Display-Name": "llmtel-standin",
            "X-ClickHouse-Summary": '{"read_rows":"0","written_rows":"0"}',
        }
        if fmt:
            headers["X-ClickHouse-Format"] = fmt
        self._reply(200, result, headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: ClickHouseStandIn


class ClickHouseStandIn:
    """Serve ClickHouse's HTTP interface on 127.0.0.1, backed by chdb at ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.engine_lock = threading.Lock()
        self.faults = Faults()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.standin = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, database: str, user: str = "default", password: str = "secret") -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def inserts(self, table: str) -> list[Seen]:
        """The inserts into ``table`` that reached the engine."""
        return [s for s in self.faults.statements if s.rows_inserted and table in s.statement]

    def execute(self, params: dict[str, str], body: bytes) -> tuple[bytes, str | None, bool]:
        query = params.get("query", "")
        data = b""
        if query:
            data = body
        else:
            match = _INSERT.match(body[:4096].decode("utf-8", "replace"))
            if match:
                head = match.group(0).encode()
                query, data = body[: len(head)].decode(), body[len(head) :]
            else:
                query = body.decode()
        settings = {k: v for k, v in params.items() if k not in _TRANSPORT and not k.startswith("param_")}
        bind = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        insert = _INSERT.match(query)
        conn = chdb.connect(self.path)
        try:
            with self.engine_lock:
                if params.get("database"):
                    conn.query(f"USE `{params['database']}`")
                for key, value in settings.items():
                    conn.query(f"SET {key} = '{value}'")
                if insert:
                    with tempfile.NamedTemporaryFile(suffix=".native", delete=False) as f:
                        f.write(data)
                    try:
                        conn.query(f"{insert.group(1)} FROM INFILE '{f.name}' FORMAT {insert.group(2)}")
                    finally:
                        os.unlink(f.name)
                    self.faults.statements.append(Seen(insert.group(1), settings, rows_inserted=True))
                    return b"", None, True
                fmt_match = _FORMAT.search(query)
                fmt = fmt_match.group(1) if fmt_match else "TabSeparated"
                result = conn.query(query, fmt, params=bind)
                self.faults.statements.append(Seen(query.strip()[:200], settings))
                return bytes(result.bytes()), fmt, False
        finally:
            conn.close()
