"""The embedded store's engine owner: one process per chdb directory runs the ClickHouse engine and
serves ClickHouse's HTTP interface on 127.0.0.1 to every process that uses the directory (apps'
writers, the CLI, readers), so none of them loads chdb, waits for its directory lock, or runs its
inserts and merges. ``connect()`` starts it on demand (``serve``); it leaves when nobody asked
anything for ``idle_s`` seconds, and the next client starts another.

Who owns a directory is decided by an ``flock`` on ``<dir>.owner.lock``, held for the owner's
life and released by the kernel when it dies, however it dies. The owner writes its port and a
fresh password to ``<dir>.server.json`` (mode 0600, so only the user who owns the store can
connect), and serves the subset of the HTTP interface clickhouse-connect uses: the query in the
URL or body, ``param_*`` bindings, settings as URL parameters, Native inserts (lz4, zstd or gzip),
errors as status 500 with the ClickHouse exception code.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import gzip
import hmac
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
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
USER = "llmtel"
IDLE_S = 120.0


class Address(NamedTuple):
    """Where a directory's engine owner answers, and the password it expects."""

    pid: int
    port: int
    password: str


def files_of(path: str) -> tuple[str, str, str]:
    """The owner's lock, address and log files for the chdb directory ``path`` (beside it, not in
    it: the engine's directory is the engine's)."""
    return f"{path}.owner.lock", f"{path}.server.json", f"{path}.server.log"


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
        self._server.shutdown()
        self._server.server_close()

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

            self._conn = chdb.connect(self.path)  # type: ignore[no-untyped-call]
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
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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
            try:
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


# -- the owner process ---------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OwnerFailed(RuntimeError):
    """The engine owner could not open the store; ``locked``: another process holds its directory."""

    def __init__(self, message: str, locked: bool) -> None:
        super().__init__(message)
        self.locked = locked


def read_address(path: str) -> Address | None:
    """The address of ``path``'s owner, if one is running and answers; OwnerFailed when the last
    one started could not open the store."""
    _, address_file, _ = files_of(path)
    try:
        with open(address_file, encoding="utf-8") as f:
            data = json.load(f)
        if "error" in data:
            raise OwnerFailed(str(data["error"]), bool(data.get("locked")))
        address = Address(int(data["pid"]), int(data["port"]), str(data["password"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(address.pid):
        return None
    try:
        with socket.create_connection(("127.0.0.1", address.port), timeout=1.0):
            return address
    except OSError:
        return None


def serve(path: str, wait_s: float = 30.0) -> Address:
    """The address of ``path``'s engine owner, starting one if none runs; TimeoutError when none
    answers within ``wait_s`` (its log, ``<dir>.server.log``, says why)."""
    lock_file, _, log_file = files_of(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    deadline = time.monotonic() + wait_s
    try:
        address = read_address(path)
    except OwnerFailed:  # how the last attempt ended: try again
        address = None
    while address is None:
        if not _owner_alive(lock_file):  # none running, or the last one is leaving: start one
            with contextlib.suppress(FileNotFoundError):  # what a dead owner left says nothing now
                os.unlink(files_of(path)[1])
            _start_owner(path, log_file)
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the embedded store's server for {path} did not start within {wait_s:.0f} s (see {log_file})"
            )
        time.sleep(0.05)
        address = read_address(path)  # an owner started since that could not open the store: OwnerFailed
    return address


def _start_owner(path: str, log_file: str) -> None:
    """A detached owner process. Isolated (``-I``) and without the app's OTEL_* and LLMTEL_*
    settings: under ``opentelemetry-instrument`` the app's PYTHONPATH would instrument, configure
    and so write to the very store the owner is opening."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LLMTEL_", "PYTHON"))}
    if "LLMTEL_STORE_IDLE_S" in os.environ:
        env["LLMTEL_STORE_IDLE_S"] = os.environ["LLMTEL_STORE_IDLE_S"]
    with open(log_file, "ab") as log:
        subprocess.Popen(
            [sys.executable, "-I", "-m", "llmtel.exporters.clickhouse.store_server", path],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # not the app's: a Ctrl-C or the app's exit leaves it be
            close_fds=True,
        )
    time.sleep(0.2)  # it takes the lock first thing; do not start a crowd meanwhile


def _owner_alive(lock_file: str) -> bool:
    """True when a process holds the owner lock (one is starting or running)."""
    try:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _write_json(path: str, data: dict[str, Any]) -> None:
    """Write ``path`` whole or not at all, readable by its owner only (it holds a password)."""
    temp = f"{path}.{os.getpid()}.tmp"
    with open(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(temp, path)


def _held_by_another_process(path: str) -> bool:
    """True when a process other than an owner holds chdb's lock on ``path`` (its status file)."""
    try:
        fd = os.open(os.path.join(path, "status"), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def own(path: str, idle_s: float = IDLE_S) -> int:
    """Be ``path``'s engine owner until idle for ``idle_s`` seconds (or the directory is gone).
    Exits at once, status 0, when another process already owns it."""
    lock_file, address_file, _ = files_of(path)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another owner: the client reads its address
    try:
        if _held_by_another_process(path):
            raise OwnerFailed(
                f"the embedded store {path} is in use by another process that is not llmtel's store server "
                "(an older llmtel, or chdb opened directly)",
                locked=True,
            )
        os.makedirs(path, exist_ok=True)
        engine = EngineServer(path, password=secrets.token_urlsafe(24))
        engine.execute({"query": "SELECT 1"}, b"")  # the engine is up before anyone is told the port
    except Exception as exc:
        locked = isinstance(exc, OwnerFailed) and exc.locked
        _write_json(address_file, {"pid": os.getpid(), "error": f"{exc}", "locked": locked})
        print(f"llmtel store: cannot open {path}: {exc}", flush=True)
        os._exit(1)
    _write_json(address_file, {"pid": os.getpid(), "port": engine.port, "password": engine.password})
    print(f"llmtel store: serving {path} on 127.0.0.1:{engine.port} (pid {os.getpid()})", flush=True)
    try:
        while os.path.isdir(path):
            time.sleep(min(1.0, idle_s / 4))
            if engine.in_flight == 0 and time.monotonic() - engine.last_request > idle_s:
                break
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(address_file)
        engine.close()
        print(f"llmtel store: idle for {idle_s:.0f} s, leaving {path}", flush=True)
    os._exit(0)  # chdb's engine torn down by static destructors while its threads run can crash


if __name__ == "__main__":
    sys.exit(own(os.path.abspath(sys.argv[1]), float(os.environ.get("LLMTEL_STORE_IDLE_S", IDLE_S))))
