"""Where the store lives: one DSN names embedded ClickHouse (chdb) or a ClickHouse server.

``chdb:///abs/path`` or ``chdb://./relative/path`` (``?database=name``, default ``llmtel``) and
``http(s)://user:password@host:port/database``. Parsing fails early with a ConfigError; the
password never appears in a message.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import os
import threading
import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from llmtel.exporters.background import flush_all_at_exit
from llmtel.instrumentation.config import ConfigError
from llmtel.instrumentation.selftelemetry import report_error

DEFAULT_DATABASE = "llmtel"
_IDENTIFIER_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class StoreLocked(RuntimeError):
    """Another process holds the embedded store (chdb locks its directory to one process)."""


class StoreUnavailable(RuntimeError):
    """The store could not be reached; the message says which one and why, without secrets."""


@dataclass(frozen=True)
class StoreLocation:
    """A parsed store DSN."""

    kind: str  # "chdb" or "http"
    database: str
    path: str = ""
    host: str = ""
    port: int = 0
    secure: bool = False
    username: str = "default"
    password: str = ""

    @property
    def display(self) -> str:
        """The DSN without its password, for messages."""
        if self.kind == "chdb":
            return f"chdb://{self.path}?database={self.database}"
        scheme = "https" if self.secure else "http"
        return f"{scheme}://{self.username}@{self.host}:{self.port}/{self.database}"


def _database(name: str, url: str) -> str:
    if not name or not set(name) <= _IDENTIFIER_CHARS:
        raise ConfigError(f"LLMTEL_CLICKHOUSE_URL: database {name!r} in {url!r} must be letters, digits or _")
    return name


def parse_location(url: str) -> StoreLocation:
    """Parse a store DSN or raise ConfigError saying what is wrong with it."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if scheme == "chdb":
        path = (parts.netloc + parts.path) or "./.llmtel/chdb"
        return StoreLocation(
            "chdb", _database(query.get("database", DEFAULT_DATABASE), url), path=os.path.abspath(path)
        )
    if scheme in ("http", "https"):
        secure = scheme == "https"
        if not parts.hostname:
            raise ConfigError("LLMTEL_CLICKHOUSE_URL: no host (expected http(s)://user:password@host:port/database)")
        try:
            port = parts.port or (8443 if secure else 8123)
        except ValueError:
            raise ConfigError("LLMTEL_CLICKHOUSE_URL: the port is not a number") from None
        return StoreLocation(
            "http",
            _database(parts.path.strip("/") or "default", url.split("@")[-1]),
            host=parts.hostname,
            port=port,
            secure=secure,
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
        )
    raise ConfigError(f"LLMTEL_CLICKHOUSE_URL: {scheme!r} is not a ClickHouse URL (use chdb:///path or http(s)://...)")


_engines_lock = threading.Lock()
_engines_opened: set[str] = set()  # chdb paths this process opened (its own lock must not count)
_engines_pid = os.getpid()
_embedded_clients: weakref.WeakSet[Any] = weakref.WeakSet()  # this process's open chdb clients
_closing_at_exit = False


def _close_embedded_at_exit() -> None:
    """A process that exits with a chdb connection open can die of SIGSEGV after the app is
    done (chdb's engine is torn down by static destructors while its threads still run). So at
    exit, before that: write what the writers hold (which closes their clients), then close
    every other embedded client this process opened (readers the app left open)."""
    flush_all_at_exit()
    for client in list(_embedded_clients):
        try:
            client.close()
        except Exception as exc:
            report_error("chdb.close_at_exit", exc)


def _forget_parent_clients() -> None:
    """In a forked child the parent's clients are the parent's: never closed here."""
    _embedded_clients.clear()


os.register_at_fork(after_in_child=_forget_parent_clients)


def _locked_by_other_process(path: str) -> bool:
    """True when another process holds chdb's lock on ``path``. Probing first keeps chdb from
    printing its own error to stderr and lets us say exactly what happened."""
    status = os.path.join(path, "status")
    try:
        fd = os.open(status, os.O_RDONLY)
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


def connect(location: StoreLocation, *, settings: dict[str, Any] | None = None, database: bool = True) -> Any:
    """A clickhouse-connect client for ``location``; StoreLocked / StoreUnavailable otherwise.

    ``database=False`` connects without selecting the database (to create it).
    """
    import clickhouse_connect

    db = location.database if database else None
    if location.kind == "chdb":
        global _engines_pid
        with _engines_lock:
            if _engines_pid != os.getpid():  # forked: the parent's engine is not ours to use
                _engines_opened.clear()
                _engines_pid = os.getpid()
            if location.path not in _engines_opened and _locked_by_other_process(location.path):
                raise StoreLocked(
                    f"the embedded store {location.path} is in use by another process "
                    "(chdb allows one process per directory)"
                )
            os.makedirs(location.path, exist_ok=True)
            try:
                client = clickhouse_connect.get_client(dsn=f"chdb://{location.path}", database=db, settings=settings)
            except Exception as exc:
                raise StoreUnavailable(f"cannot open {location.display}: {exc}") from exc
            _engines_opened.add(location.path)
            _embedded_clients.add(client)
            global _closing_at_exit
            if not _closing_at_exit:  # runs before earlier atexit hooks, the writers' flush among them
                atexit.register(_close_embedded_at_exit)
                _closing_at_exit = True
            return client
    try:
        return clickhouse_connect.get_client(
            host=location.host,
            port=location.port,
            secure=location.secure,
            username=location.username,
            password=location.password,
            database=db or "",
            settings=settings,
            connect_timeout=5,
            send_receive_timeout=60,
            query_retries=0,
            compress="lz4",
            autogenerate_session_id=False,  # the writer's threads share the client: no session to lock
        )
    except Exception as exc:
        raise StoreUnavailable(f"cannot reach {location.display}: {type(exc).__name__}: {exc}") from exc
