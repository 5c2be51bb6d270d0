"""Every background worker of this process: flushed at interpreter exit and when a multiprocessing
child leaves (which skips atexit), and listed for the queue gauges."""

from __future__ import annotations

import atexit
import os
import sys
import weakref
from typing import TYPE_CHECKING

from llmtel.instrumentation.selftelemetry import report_error

if TYPE_CHECKING:  # workers register themselves here
    from llmtel.exporters.background import BatchWorker

_workers: weakref.WeakSet[BatchWorker] = weakref.WeakSet()


def register(worker: BatchWorker) -> None:
    _workers.add(worker)


def live_workers() -> list[BatchWorker]:
    """Every worker of this process, for the queue gauges in ``self_metrics``."""
    return list(_workers)


@atexit.register
def flush_all_at_exit() -> None:
    """Write what every worker holds, within its deadline, and stop it (idempotent)."""
    for worker in list(_workers):
        try:
            worker.shutdown(timeout=shutdown_timeout)
        except Exception as exc:  # pragma: no cover - exit path, best effort
            report_error("atexit.shutdown", exc)


shutdown_timeout = 10.0  # seconds each worker gets at exit (LLMTEL_SHUTDOWN_TIMEOUT, set by open_store)
_mp_hooked_pid = 0


class _AfterForkToken:
    """multiprocessing keeps after-fork callbacks by weak reference to an object: this one."""


_after_fork_token = _AfterForkToken()


def flush_at_multiprocessing_exit() -> None:
    """multiprocessing's forked workers leave with ``os._exit``, skipping atexit; its own exit
    finalizers do run. A Process clears the finalizers it inherited and then runs its after-fork
    callbacks, so register one that adds our flush (once per child process)."""
    global _mp_hooked_pid
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is None or _mp_hooked_pid == os.getpid():
        return
    _mp_hooked_pid = os.getpid()
    mp_util.register_after_fork(
        _after_fork_token, lambda _: mp_util.Finalize(None, flush_all_at_exit, exitpriority=100)
    )
