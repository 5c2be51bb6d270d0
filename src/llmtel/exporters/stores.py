"""The sink a store URL names (``LLMTEL_CLICKHOUSE_URL``), opened by ``configure()``.

ClickHouse writers, JSON lines files, memory, or nothing; the directories they need are
checked here, so a bad path is a ConfigError naming its setting, not a writer-thread failure.
"""

from __future__ import annotations

import importlib.util
import logging
import os

from llmtel.exporters import at_exit
from llmtel.instrumentation.config import DEFAULT_STORE_URL, ConfigError, Settings, store_scheme
from llmtel.instrumentation.sinks import InMemorySink, TraceSink

FALLBACK_DIR = "./.llmtel/jsonl"
logger = logging.getLogger("llmtel")


def writable_dir(path: str, variable: str) -> str:
    """Create ``path`` if needed and make sure we can write there, or say which setting is wrong."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".llmtel-write-test-{os.getpid()}")
        with open(probe, "wb"):
            pass
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"{variable}={path!r} is not a writable directory: {exc.strerror or exc}") from None
    return path


def open_store(settings: Settings) -> TraceSink | None:
    """The sink ``settings.store_url`` names; its workers flush within ``shutdown_timeout_s`` at exit."""
    at_exit.shutdown_timeout = settings.shutdown_timeout_s
    url = settings.store_url
    scheme = store_scheme(url)
    if url == DEFAULT_STORE_URL and _missing(scheme):
        # The default, not a choice: an app installed without the [embedded] extra still starts,
        # and its rows go to files beside it, once said, rather than nowhere or a crash.
        url, scheme = "jsonl://" + FALLBACK_DIR, "jsonl"
        logger.warning(
            "llmtel: the default embedded store needs pip install 'llmtel[embedded]' (about 500 MB); "
            "provider traces go to %s as JSON lines instead (set LLMTEL_CLICKHOUSE_URL to choose)",
            FALLBACK_DIR,
        )
    if scheme == "none":
        return None
    if scheme == "memory":
        return InMemorySink()
    if scheme == "jsonl":
        from llmtel.exporters.jsonl import JsonlSink

        return JsonlSink(
            writable_dir(url.split("://", 1)[1] or FALLBACK_DIR, "LLMTEL_CLICKHOUSE_URL"),
            max_queue_bytes=settings.queue_max_bytes,
            batch_max_rows=settings.batch_max_rows,
            batch_max_bytes=settings.batch_max_bytes,
            flush_interval=settings.flush_interval_s,
        )
    missing = _missing(scheme)
    if missing:
        extra = "embedded" if scheme == "chdb" else "clickhouse"
        raise ConfigError(
            f"LLMTEL_CLICKHOUSE_URL={scheme}://...: {', '.join(missing)} is not installed "
            f"(pip install 'llmtel[{extra}]', or set LLMTEL_CLICKHOUSE_URL=none)"
        )
    from llmtel.exporters.clickhouse.location import parse_location
    from llmtel.exporters.clickhouse.writer import ClickHouseWriter

    location = parse_location(url)  # a malformed URL is a ConfigError here, not on the worker thread
    if location.kind == "chdb":
        writable_dir(location.path, "LLMTEL_CLICKHOUSE_URL")
    writable_dir(settings.spool_dir, "LLMTEL_SPOOL_DIR")
    return ClickHouseWriter.from_settings(settings, location)


def _missing(scheme: str) -> list[str]:
    """The modules a ClickHouse store of ``scheme`` needs that are not installed."""
    if scheme not in ("chdb", "http", "https"):
        return []
    needed = ["clickhouse_connect"] + (["chdb"] if scheme == "chdb" else [])
    return [name for name in needed if importlib.util.find_spec(name) is None]
