"""Where the store lives: one DSN names embedded ClickHouse (chdb) or a ClickHouse server.

``chdb:///abs/path`` or ``chdb://./relative/path`` (``?database=name``, default ``llmtel``) and
``http(s)://user:password@host:port/database``. Parsing fails early with a ConfigError; the
password never appears in a message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from llmtel.instrumentation.config import ConfigError

DEFAULT_DATABASE = "llmtel"
_IDENTIFIER_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class StoreLocked(RuntimeError):
    """A process that is not llmtel's store server holds the embedded store's directory."""


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


def connect(location: StoreLocation, *, settings: dict[str, Any] | None = None, database: bool = True) -> Any:
    """A clickhouse-connect client for ``location``; StoreLocked / StoreUnavailable otherwise.

    An embedded store is reached through its directory's engine owner (``store_server``),
    started here when none runs. ``database=False`` connects without selecting the database
    (to create it).
    """
    db = location.database if database else None
    if location.kind != "chdb":
        return _client(location, location.host, location.port, location.username, location.password, db, settings)
    from llmtel.exporters.clickhouse import store_server

    for attempt in (1, 2):  # an owner leaving as we arrive: the second try starts the next one
        try:
            address = store_server.serve(location.path)
        except store_server.OwnerFailed as exc:
            raise (StoreLocked if exc.locked else StoreUnavailable)(str(exc)) from exc
        except (OSError, TimeoutError) as exc:
            raise StoreUnavailable(f"cannot open {location.display}: {exc}") from exc
        try:
            return _client(location, "127.0.0.1", address.port, store_server.USER, address.password, db, settings)
        except StoreUnavailable:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _client(
    location: StoreLocation, host: str, port: int, username: str, password: str, database: str | None, settings: Any
) -> Any:
    """A client of the server at host:port; the errors name ``location``, never the password."""
    import clickhouse_connect

    try:
        return clickhouse_connect.get_client(
            host=host,
            port=port,
            secure=location.secure,
            username=username,
            password=password,
            database=database or "",
            settings=settings,
            connect_timeout=5,
            send_receive_timeout=60,
            query_retries=0,
            compress="lz4" if location.kind == "http" else False,  # to the local owner: costs more than it saves
            autogenerate_session_id=False,  # the writer's threads share the client: no session to lock
        )
    except Exception as exc:
        raise StoreUnavailable(f"cannot reach {location.display}: {type(exc).__name__}: {exc}") from exc
