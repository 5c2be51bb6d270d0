"""The embedded store's engine owner: one process per chdb directory runs the ClickHouse engine and
serves ClickHouse's HTTP interface on 127.0.0.1 to every process that uses the directory (apps'
writers, the CLI, readers), so none of them loads chdb, waits for its directory lock, or runs its
inserts and merges. ``connect()`` starts it on demand (``serve``); it leaves when nobody asked
anything for ``idle_s`` seconds, and the next client starts another.

Who owns a directory is decided by an ``flock`` on ``<dir>.owner.lock``, held for the owner's
life and released by the kernel when it dies, however it dies. The owner writes its port and a
fresh password to ``<dir>.server.json`` (mode 0600, so only the user who owns the store can
connect), and serves ClickHouse's HTTP interface on it (``engine_server``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from typing import Any, NamedTuple

from llmtel.exporters.clickhouse.engine_server import EngineServer
from llmtel.exporters.clickhouse.spool import pid_alive

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
    if not pid_alive(address.pid):
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
    return _flock_held(lock_file, os.O_RDWR | os.O_CREAT)


def _held_by_another_process(path: str) -> bool:
    """True when a process other than an owner holds chdb's lock on ``path`` (its status file)."""
    return _flock_held(os.path.join(path, "status"), os.O_RDONLY)


def _flock_held(path: str, flags: int) -> bool:
    """True when some process holds an ``flock`` on ``path``; False for a file that is not there."""
    try:
        fd = os.open(path, flags, 0o600)
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
