"""ClickHouse's HTTP interface on 127.0.0.1, executing on the chdb engine of one directory: what
the embedded store's owner process serves (``store_server``), and the test suite's stand-in for
a ClickHouse server. It speaks the subset clickhouse-connect uses: the query in the URL or body,
``param_*`` bindings in the URL (or, when long, a multipart form), settings as URL parameters,
Native inserts (lz4, zstd or gzip), errors as status 500 with the ClickHouse exception code.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hmac
import os
import re
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# URL parameters that are transport options, not settings for the engine.
_TRANSPORT = frozenset(
    {
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
)
_INSERT = re.compile(r"^\s*(INSERT\s+INTO\s+.+?)\s+FORMAT\s+(\w+)\s*", re.IGNORECASE | re.DOTALL)
_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_CODE = re.compile(r"Code: (\d+)")
_SETTING = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def decode_body(body: bytes, encoding: str | None) -> bytes:
    """An insert's body as clickhouse-connect compressed it."""
    if not encoding or not body:
        return body
    if encoding == "lz4":  # one LZ4 frame per block, back to back
        import lz4.frame  # type: ignore[import-untyped]

        out = []
        while body:
            frame = lz4.frame.LZ4FrameDecompressor()
            out.append(frame.decompress(body))
            body = frame.unused_data
        return b"".join(out)
    if encoding == "zstd":
        from backports import zstd  # clickhouse-connect's own dependency before Python 3.14

        return bytes(zstd.decompress(body))
    if encoding == "gzip":
        return gzip.decompress(body)
    raise ValueError(f"unsupported Content-Encoding {encoding}")


def form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The fields of a ``multipart/form-data`` body: clickhouse-connect sends the query and its
    ``param_*`` bindings this way once they would make the URL longer than 4 KiB."""
    from email.parser import BytesParser
    from email.policy import HTTP

    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            data = part.get_payload(decode=True)
            fields[name] = data.decode() if isinstance(data, bytes) else ""
    return fields


def _literal(value: str) -> str:
    """A setting's value as a ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class EngineServer:
    """ClickHouse's HTTP interface on 127.0.0.1, executing on the chdb engine at ``path``. Each
    statement runs under one lock: the engine serves one process's statements at a time either way."""

    def __init__(self, path: str, password: str | None = None, port: int = 0) -> None:
        self.path = path
        self.password = password
        self.engine_lock = threading.Lock()
        self.last_request = time.monotonic()
        self.in_flight = 0  # requests being served, under ``counting``: the owner leaves only at 0
        self.counting = threading.Lock()
        self._conn: Any = None
        self._set: set[str] = set()  # settings an earlier request set on the connection
        self._database = "default"
        self._server = _Server(("127.0.0.1", port), RequestHandler)
        self._server.engine = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="llmtel-store", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        """Stop serving and close the engine connection: a process that exits with one open can
        die of SIGSEGV in chdb's static teardown after everything else is done."""
        self._server.shutdown()
        self._server.server_close()
        with self.engine_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def allowed(self, headers: Any) -> bool:
        if self.password is None:
            return True
        given = headers.get("X-ClickHouse-Key")
        auth = headers.get("Authorization", "")
        if given is None and auth.startswith("Basic "):
            with contextlib.suppress(ValueError):
                given = base64.b64decode(auth[6:]).decode().partition(":")[2]
        return given is not None and hmac.compare_digest(given, self.password)

    def before(self, handler: RequestHandler) -> bool:
        """A hook run before each statement; False when it already answered (test faults)."""
        return True

    def after_insert(self, handler: RequestHandler) -> bool:
        """A hook run after an insert is stored; False when it already answered (test faults)."""
        return True

    def execute(self, params: dict[str, str], body: bytes) -> tuple[bytes, str | None, bool]:
        """Run one request's statement: (result bytes, their format, whether rows were inserted)."""
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
        with self.engine_lock:
            conn = self._connection()
            self._apply(conn, params.get("database") or "default", settings)
            if insert:
                spill = os.path.dirname(self.path)  # beside the store, not in a small /tmp
                with tempfile.NamedTemporaryFile(suffix=".native", dir=spill, delete=False) as f:
                    f.write(data)
                try:
                    conn.query(f"{insert.group(1)} FROM INFILE '{f.name}' FORMAT {insert.group(2)}")
                finally:
                    os.unlink(f.name)
                self.executed(insert.group(1), settings, True)
                return b"", None, True
            fmt_match = _FORMAT.search(query)
            fmt = fmt_match.group(1) if fmt_match else "TabSeparated"
            result = conn.query(query, fmt, params=bind)
            self.executed(query.strip()[:200], settings, False)
            return bytes(result.bytes()), fmt, False

    def _connection(self) -> Any:
        """The one engine connection, kept: opening one costs 40 ms, a statement 1 ms."""
        if self._conn is None:
            import chdb

            self._conn = chdb.connect(self.path)
        return self._conn

    def _apply(self, conn: Any, database: str, settings: dict[str, str]) -> None:
        """This request's database and settings on the shared connection, and the defaults back
        for what an earlier request set: a deduplication token left over would drop the next insert."""
        for key in self._set - settings.keys():
            conn.query(f"SET {key} = DEFAULT")
        self._set = set(settings)  # before setting them: a SET that fails half way is reset next time
        for key, value in settings.items():
            if not _SETTING.match(key):
                raise ValueError(f"Code: 115. DB::Exception: Unknown setting {key!r}. (UNKNOWN_SETTING)")
            conn.query(f"SET {key} = {_literal(value)}")
        if database != self._database:
            conn.query(f"USE `{database.replace('`', '``')}`")
            self._database = database

    def executed(self, statement: str, settings: dict[str, str], inserted: bool) -> None:
        """Called after each statement the engine ran (tests keep a record)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    engine: EngineServer


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: without this, 40 ms each reply
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            body = b"".join(parts)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._serve(body)

    def reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """A result goes out chunked, as ClickHouse sends it (clickhouse-connect 0.8.0 reads
        nothing else); an error with its length."""
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if status != 200:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if len(body) > 1 << 16:  # a large result is not copied to be framed
            self.wfile.write(b"%x\r\n" % len(body))
            self.wfile.write(body)
            self.wfile.write(b"\r\n0\r\n\r\n")
        else:
            self.wfile.write(b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n")

    def _serve(self, body: bytes) -> None:
        engine = self.server.engine
        with engine.counting:
            engine.in_flight += 1
        try:
            engine.last_request = time.monotonic()
            if not engine.allowed(self.headers):
                self.reply(401, b"Code: 516. DB::Exception: llmtel store: wrong password. (AUTHENTICATION_FAILED)\n")
                return
            if not engine.before(self):
                return
            params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            content_type = self.headers.get("Content-Type", "")
            try:
                if content_type.startswith("multipart/form-data"):
                    params.update(form_fields(content_type, body))
                    body = b""
                result, fmt, inserted = engine.execute(params, decode_body(body, self.headers.get("Content-Encoding")))
            except Exception as exc:
                message = str(exc)
                code = _CODE.search(message)
                exception_code = code.group(1) if code else "1000"
                self.reply(500, (message + "\n").encode(), {"X-ClickHouse-Exception-Code": exception_code})
                return
            if inserted and not engine.after_insert(self):
                return
            headers = {
                "X-ClickHouse-Query-Id": params.get("query_id", str(uuid.uuid4())),
                "X-ClickHouse-Timezone": "UTC",
                "X-ClickHouse-Server-Display-Name": "llmtel-store",
                "X-ClickHouse-Summary": '{"read_rows":"0","written_rows":"0"}',
            }
            if fmt:
                headers["X-ClickHouse-Format"] = fmt
            self.reply(200, result, headers)
        finally:
            with engine.counting:
                engine.in_flight -= 1
            engine.last_request = time.monotonic()
