"""A store being away: how long writers wait before trying it again (exponential backoff with
jitter), and telling the operator once per outage, and once it is back."""

from __future__ import annotations

import random
import threading
import time

from llmtel.exporters.clickhouse.location import StoreLocation, StoreLocked
from llmtel.instrumentation.selftelemetry import logger


class ThrottledLog:
    """Logs a message at most once per ``interval`` seconds per key."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def warn(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -self.interval) < self.interval:
                return
            self._last[key] = now
        logger.warning(message, *args)


class Outage:
    """Whether the store at ``location`` is known to be away, and until when writers leave it be."""

    def __init__(self, location: StoreLocation, spool_dir: str, retry_initial_s: float, retry_max_s: float) -> None:
        self.location = location
        self.spool_dir = spool_dir
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.log = ThrottledLog()
        self.down_until = 0.0  # monotonic; before it, batches go straight to the spool
        self._backoff = retry_initial_s
        self._down = False

    def waiting(self) -> bool:
        """True while the backoff after a failure has not passed."""
        return time.monotonic() < self.down_until

    def jitter(self, seconds: float) -> float:
        return min(self.retry_max_s, seconds) * random.uniform(0.5, 1.0)

    def went_down(self, exc: BaseException) -> None:
        self.down_until = time.monotonic() + self.jitter(self._backoff)
        self._backoff = min(self.retry_max_s, self._backoff * 2)
        if self._down:
            return
        self._down = True
        if isinstance(exc, StoreLocked):
            self.log.warn(
                "locked",
                "llmtel: %s. Provider traces are kept in the spool %s and written once llmtel's store server "
                "can open the store (stop the other process; `llmtel db replay` also stores them)",
                exc,
                self.spool_dir,
            )
        else:
            self.log.warn(
                "down",
                "llmtel: ClickHouse store %s is unavailable (%s: %s); spooling to %s and retrying with backoff",
                self.location.display,
                type(exc).__name__,
                exc,
                self.spool_dir,
            )

    def came_back(self) -> None:
        self._backoff = self.retry_initial_s
        self.down_until = 0.0
        if self._down:
            self._down = False
            logger.warning("llmtel: ClickHouse store %s is reachable again", self.location.display)
