"""The store across processes: SIGTERM, kill -9, fork, and an embedded store locked by
another process. Each app is a real separate Python process (tests/support/store_app.py) with its
own embedded ClickHouse directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from llmtel.exporters.cli import main as cli
from llmtel.loopback import ProviderServer
from llmtel.loopback import openai_replies as ofx
from tests.support.clickhouse_standin import ClickHouseStandIn
from tests.support.paths import SUPPORT
from tests.support.store_cli import calls_by, run_cli

APP = str(SUPPORT / "store_app.py")


def app_env(store: str, spool: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LLMTEL_")) or k == "LLMTEL_STORE_IDLE_S"}
    env.update(
        LLMTEL_CLICKHOUSE_URL=store,
        LLMTEL_SPOOL_DIR=str(spool),
        LLMTEL_FLUSH_INTERVAL="0.05",
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
    )
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, APP, *args], env=env, capture_output=True, text=True, timeout=timeout)


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, APP, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() in ("ready", "holding"), line + proc.stderr.read() if proc.stderr else ""
    return proc


def test_sigterm_flushes_before_exit(tmp_path: Path) -> None:
    store = f"chdb://{tmp_path}/store"
    proc = start(["serve", "7"], app_env(store, tmp_path / "spool", LLMTEL_FLUSH_INTERVAL="30"))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == -signal.SIGTERM  # still dies of SIGTERM, as the app would have
    assert calls_by(tmp_path, store) == {"before-signal": 7}


def test_exit_with_the_embedded_store_open_is_clean(tmp_path: Path) -> None:
    """A script that leaves a reader open and traces queued: at exit llmtel writes what is queued,
    then closes its embedded clients (chdb can die of SIGSEGV at exit with a connection open).
    Without that hook the traces queued at exit were spooled, not stored, until the next start."""
    store = f"chdb://{tmp_path}/store"
    for n in range(3):
        done = run(["leave-open", "5"], app_env(store, tmp_path / f"spool-{n}"))
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split() == ["read", str(10 * n + 5)]  # the earlier runs, all of them stored
    assert calls_by(tmp_path, store) == {"left-open": 15, "at-exit": 15}


def test_kill_9_loses_at_most_the_batch_in_flight(tmp_path: Path) -> None:
    store = f"chdb://{tmp_path}/store"
    # No timed flush: the 300 in-flight calls are one batch, written when the app wakes the writer
    # (with a 0.05 s interval the writer could take them as two batches while they are emitted).
    proc = start(["kill-mid-batch", "20", "300"], app_env(store, tmp_path / "spool", LLMTEL_FLUSH_INTERVAL="30"))
    proc.kill()
    proc.wait(30)
    runs = calls_by(tmp_path, store)  # the store opens cleanly after the crash
    assert runs["flushed"] == 20
    assert runs.get("in-flight", 0) in (0, 300)  # the batch being written is all there or not at all


def test_forked_child_writes_through_its_own_connection(tmp_path: Path, standin: ClickHouseStandIn) -> None:
    store = standin.url("forked")
    result = run(["fork", "5"], app_env(store, tmp_path / "spool"))
    assert result.returncode == 0, result.stderr
    assert "child exit 0" in result.stdout
    assert calls_by(tmp_path, store) == {"parent-before": 1, "child": 5, "parent-after": 1}


def test_pre_fork_app_on_the_embedded_store(tmp_path: Path) -> None:
    """chdb cannot cross a fork: a child forked after its parent opened the embedded engine
    hangs at exit inside chdb (reproducible without llmtel). llmtel opens the store lazily, so
    a pre-fork server whose parent writes nothing before forking works: the child opens it."""
    store = f"chdb://{tmp_path}/store"
    result = run(["fork", "5", "lazy"], app_env(store, tmp_path / "spool"))
    assert result.returncode == 0, result.stderr
    assert calls_by(tmp_path, store) == {"child": 5, "parent-after": 1}


def test_locked_store_keeps_traces_safe_and_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store = f"chdb://{path}"
    holder = start(["hold"], {**os.environ, "STORE_PATH": str(path), "HOLD_SECONDS": "60"})
    try:
        result = run(["emit", "4"], app_env(store, tmp_path / "spool", RUN_ID="while-locked"))
        assert result.returncode == 0, result.stderr
        assert "in use by another process" in result.stderr and "llmtel db replay" in result.stderr
        assert "Traceback" not in result.stderr
        assert list((tmp_path / "spool").glob("*.batch"))
        code, out = run_cli(tmp_path, "--url", store, "traces")
        assert code == 2 and out.count("\n") == 1 and "in use by another process" in out
    finally:
        holder.kill()
        holder.wait(30)
    code, out = run_cli(tmp_path, "--url", store, "db", "replay", "--spool-dir", str(tmp_path / "spool"))
    assert code == 0 and "batches left" in out and out.startswith("replayed 8 rows")  # 4 calls, their 4 spans
    assert calls_by(tmp_path, store) == {"while-locked": 4}


def test_cli_says_one_line_for_an_unreachable_server(tmp_path: Path) -> None:
    code, out = run_cli(tmp_path, "--url", "http://u:hunter2@127.0.0.1:9/db", "traces")
    assert code == 2 and out.count("\n") == 1
    assert out.startswith("llmtel: cannot reach http://u@127.0.0.1:9/db") and "hunter2" not in out


@pytest.mark.parametrize("url", ["chdb:///nonexistent/llmtel", "bogus://x"])
def test_cli_one_line_errors_in_process(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["--url", url, "traces"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("llmtel: ")


def test_multiprocessing_fork_pool_children_write_their_traces(tmp_path: Path, standin: ClickHouseStandIn) -> None:
    store = standin.url("mp_pool")
    result = run(["mp", "12"], app_env(store, tmp_path / "spool"))
    assert result.returncode == 0, result.stderr
    assert calls_by(tmp_path, store) == {"parent": 1, "pool-child": 12}


def test_killed_while_the_store_was_down_the_next_start_replays(tmp_path: Path, standin: ClickHouseStandIn) -> None:
    store = standin.url("kill_restart")
    standin.faults.down = True
    try:
        proc = start(["serve", "7"], app_env(store, tmp_path / "spool"))
        deadline = time.monotonic() + 30
        while not list((tmp_path / "spool").glob("*.batch")) and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.kill()
        proc.wait(30)
    finally:
        standin.faults.down = False
    assert list((tmp_path / "spool").glob("*.batch"))
    # The deadline is for the replay, not for the test: on a loaded machine connecting and
    # migrating can take most of the default 10 s, and the batch would wait for the next start.
    env = app_env(store, tmp_path / "spool", RUN_ID="after-restart", LLMTEL_SHUTDOWN_TIMEOUT="120")
    result = run(["emit", "1"], env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert calls_by(tmp_path, store) == {"before-signal": 7, "after-restart": 1}
    assert not list((tmp_path / "spool").glob("*"))


@pytest.mark.slow
def test_store_down_for_a_minute_under_load(
    tmp_path: Path, standin: ClickHouseStandIn, provider_server: ProviderServer
) -> None:
    """20 threads of real OpenAI calls for 75 s; the store is down for the first 60 s."""
    store = standin.url("outage_load")
    provider_server.reset()
    provider_server.keep_requests = False
    provider_server.always("/v1/chat/completions", ofx.chat("ok"))
    standin.faults.down = True
    back = threading.Timer(60, lambda: setattr(standin.faults, "down", False))
    back.start()
    try:
        env = app_env(
            store,
            tmp_path / "spool",
            LLMTEL_QUEUE_MAX_BYTES=str(8 << 20),
            LLMTEL_SHUTDOWN_TIMEOUT="120",  # time to finish replaying the outage before exit
            PROVIDER_URL=provider_server.url,
        )
        result = run(["load", "75", "20"], env, timeout=300)
    finally:
        back.cancel()
        standin.faults.down = False
        provider_server.keep_requests = True
        provider_server.reset()
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["exceptions"] == 0 and summary["calls"] > 1000
    assert summary["rss_growth_mb"] < 8 + 56  # the 8 MiB queue plus the interpreter's own churn
    assert calls_by(tmp_path, store) == {"load": summary["calls"]}  # every call, exactly once
    assert not list((tmp_path / "spool").glob("*.batch"))
    (tmp_path / "outage_summary.json").write_text(json.dumps(summary))
    print("outage under load:", summary)
