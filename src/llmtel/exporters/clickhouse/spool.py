"""Batches the store could not take, kept on disk until it can.

One file per batch, written to a temporary name, fsynced and renamed into place, so a file
is either whole or absent (a crash mid-write loses only that batch). Names sort oldest
first. A process replaying a file first claims it by renaming it, so two processes sharing
a spool directory never insert the same file at once; a claim left by a dead process is
released on the next scan. Batches keep their deduplication token, so a replay that is
retried after a lost reply is still stored once.

The same format, with the store's error in the header, holds the quarantine: rows the
store rejected (``quarantine/`` under the spool directory), kept for ``llmtel db replay``.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmtel.exporters.clickhouse.rows import from_spool, to_spool
from llmtel.instrumentation.selftelemetry import report_error

_SUFFIX = ".batch"
_FORMAT = 1


QUARANTINE = "quarantine"  # the subdirectory of rows the store rejected


@dataclass(frozen=True)
class SpooledBatch:
    path: str
    kind: str  # "traces" or "payloads"
    token: str
    rows: list[list[Any]]
    reason: str | None = None  # why the store rejected them (quarantined batches)


@dataclass(frozen=True)
class SpoolSummary:
    batches: int
    rows: int
    reasons: dict[str, int]  # rows by the store's error (quarantine)


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists (another user's included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    """A directory of batch files bounded by ``max_bytes`` in total."""

    def __init__(self, directory: str, max_bytes: int) -> None:
        self.directory = os.path.abspath(directory)
        self.max_bytes = max_bytes
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def _names(self) -> list[str]:
        try:
            return sorted(name for name in os.listdir(self.directory) if name != QUARANTINE)
        except FileNotFoundError:
            return []

    def size(self) -> int:
        """Bytes held, including batches being written or replayed."""
        total = 0
        for name in self._names():
            try:
                total += os.path.getsize(os.path.join(self.directory, name))
            except FileNotFoundError:
                continue
        return total

    def quarantine(self) -> Spool:
        """Where rows the store rejected are kept (same format, same budget)."""
        return Spool(os.path.join(self.directory, QUARANTINE), self.max_bytes)

    def summary(self) -> SpoolSummary:
        """Batches and rows waiting, read from the files' headers."""
        batches = rows = 0
        reasons: dict[str, int] = {}
        for path in self.pending():
            try:
                with open(path, "rb") as f:
                    header = json.loads(f.readline())
            except (OSError, ValueError):
                continue
            batches += 1
            rows += int(header.get("rows", 0))
            if header.get("reason"):
                reasons[header["reason"]] = reasons.get(header["reason"], 0) + int(header.get("rows", 0))
        return SpoolSummary(batches, rows, reasons)

    def put(self, kind: str, token: str, rows: Sequence[Sequence[Any]], reason: str | None = None) -> bool:
        """Write one batch; False (nothing written) when it would exceed the budget."""
        header: dict[str, Any] = {"v": _FORMAT, "kind": kind, "token": token, "rows": len(rows)}
        if reason is not None:
            header["reason"] = reason
        lines = [json.dumps(header)]
        lines += [json.dumps(to_spool(kind, row), allow_nan=True, default=repr) for row in rows]
        data = ("\n".join(lines) + "\n").encode("utf-8")
        with self._lock:
            if self.size() + len(data) > self.max_bytes:
                return False
            os.makedirs(self.directory, exist_ok=True)
            name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq):06d}-{kind}{_SUFFIX}"
            final = os.path.join(self.directory, name)
            temp = f"{final}.{os.getpid()}.tmp"
            with open(temp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, final)
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return True

    def pending(self) -> list[str]:
        """Whole batch files, oldest first; releases claims and temp files of dead processes."""
        out = []
        for name in self._names():
            path = os.path.join(self.directory, name)
            if name.endswith(_SUFFIX):
                out.append(path)
            elif name.endswith((".tmp", ".claimed")):
                pid = int(name.rsplit(".", 2)[-2]) if name.rsplit(".", 2)[-2].isdigit() else 0
                if pid and not pid_alive(pid):
                    released = self._release(path, name)
                    if released:  # pending from now on: this very scan returns it, in age order
                        out.append(released)
        return sorted(out)

    def _release(self, path: str, name: str) -> str | None:
        """Undo a dead process's claim (the batch file again) or drop its half-written temp file."""
        try:
            if name.endswith(".tmp"):
                os.unlink(path)  # never renamed into place: the batch was not whole
                return None
            batch = path.rsplit(".", 2)[0]
            os.replace(path, batch)
            return batch
        except FileNotFoundError:
            return None

    def claim_group(self, max_rows: int, max_bytes: int) -> list[SpooledBatch]:
        """Claim the oldest pending batches of one kind, up to ``max_rows`` rows and ``max_bytes``
        on disk (at least one batch), so a long outage's many small batches replay as few inserts.
        Each stays claimed by this process until :meth:`done` or :meth:`unclaim`. Unreadable
        files are moved aside as ``.bad`` and reported."""
        group: list[SpooledBatch] = []
        rows = size = 0
        for path in self.pending():
            kind = path[: -len(_SUFFIX)].rsplit("-", 1)[-1]
            try:
                file_size = os.path.getsize(path)
            except FileNotFoundError:
                continue
            if group and (kind != group[0].kind or size + file_size > max_bytes):
                break
            claimed = f"{path}.{os.getpid()}.claimed"
            try:
                os.replace(path, claimed)
            except FileNotFoundError:
                continue  # another process took it
            try:
                batch = self._load(claimed)
            except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError) as exc:
                os.replace(claimed, f"{path}.bad")  # kept for a human; never retried
                report_error("spool.load", exc)
                continue
            group.append(batch)
            rows += len(batch.rows)
            size += file_size
            if rows >= max_rows:
                break
        return group

    @staticmethod
    def _load(path: str) -> SpooledBatch:
        with open(path, "rb") as f:
            header_line, *row_lines = f.read().decode("utf-8").splitlines()
        header = json.loads(header_line)
        if header.get("v") != _FORMAT or len(row_lines) != header["rows"]:
            raise ValueError(f"{path}: not a whole llmtel spool batch")
        kind = header["kind"]
        rows = [from_spool(kind, json.loads(line)) for line in row_lines]
        return SpooledBatch(path, kind, header["token"], rows, header.get("reason"))

    @staticmethod
    def done(batch: SpooledBatch) -> None:
        os.unlink(batch.path)

    @staticmethod
    def unclaim(batch: SpooledBatch) -> None:
        os.replace(batch.path, batch.path.rsplit(".", 2)[0])
