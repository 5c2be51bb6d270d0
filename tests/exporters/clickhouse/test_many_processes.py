"""The embedded default store shared by many processes: two apps making real SDK calls into one
directory while ``llmtel tail`` follows it and ``llmtel traces`` runs every 2 s; the engine's
owner or a writer killed with -9 mid-way. Every call is stored exactly once, every CLI call works
during the writes, and nothing is left pending. Each process here is a real separate Python."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmtel.exporters.clickhouse.location import connect, parse_location
from llmtel.exporters.clickhouse.store_server import files_of, read_address
from llmtel.loopback import ProviderServer
from llmtel.loopback import openai_replies as ofx
from tests.support.paths import SUPPORT
from tests.support.store_cli import run_cli

APP = str(SUPPORT / "store_app.py")
CLI = "import sys; from llmtel.exporters.cli import main; sys.exit(main(sys.argv[1:]))"
STORE = "chdb://./.llmtel/chdb"  # the default, relative to each process's working directory


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        server.keep_requests = False
        server.always("/v1/chat/completions", ofx.chat("ok", prompt_tokens=3, completion_tokens=2))
        yield server


def app_env(provider: ProviderServer, agent: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LLMTEL_")) or k == "LLMTEL_STORE_IDLE_S"}
    return {
        **env,
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "PROVIDER_URL": provider.url,
        "AGENT_ID": agent,
        "LLMTEL_FLUSH_INTERVAL": "0.5",
    }


def start_app(cwd: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, APP, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def cli(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "--url", STORE, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stored(cwd: Path, by: str = "agent_id") -> dict[str, tuple[int, int]]:
    """(rows, distinct ids) per agent (or ``by``), read without FINAL: a row stored twice would show."""
    if not (cwd / ".llmtel" / "chdb").is_dir():
        return {}
    client = connect(parse_location(f"chdb://{cwd / '.llmtel' / 'chdb'}"), database=False)
    try:
        if not int(client.command("EXISTS TABLE llmtel.llm_traces")):
            return {}  # no app has written yet
        rows = client.query(f"SELECT {by}, count(), uniqExact(id) FROM llmtel.llm_traces GROUP BY {by}")
    finally:
        client.close()
    return {str(agent): (int(n), int(unique)) for agent, n, unique in rows.result_rows}


def wait_until(check: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.5)


@pytest.mark.slow
def test_two_apps_tail_and_traces_share_the_default_store(tmp_path: Path, provider: ProviderServer) -> None:
    tail = cli(tmp_path, "tail", "--interval", "0.5", "--follow-for", "45")  # first: it must make no app spool
    time.sleep(3)
    apps = [start_app(tmp_path, app_env(provider, agent), "calls", "20") for agent in ("app-a", "app-b")]
    wait_until(lambda: run_cli(tmp_path, "--url", STORE, "traces")[0] == 0)  # the apps' first flush creates it
    readers = []
    while any(app.poll() is None for app in apps):  # a `llmtel traces` every 2 s, each in its own process
        readers.append(cli(tmp_path, "traces", "--limit", "3"))
        time.sleep(2)
    cli_results = [("".join(r.communicate(timeout=120)), r.returncode) for r in readers]
    cli_results = [(code, out) for out, code in cli_results]
    made = {}
    for app in apps:
        out, err = app.communicate(timeout=120)
        assert app.returncode == 0, err
        made.update(json.loads(out.splitlines()[-1]))
    assert made["app-a"] > 20 and made["app-b"] > 20
    assert len(cli_results) >= 8 and [out for code, out in cli_results if code != 0] == []
    assert all("in use by another process" not in out for _, out in cli_results)
    wait_until(lambda: stored(tmp_path) == {agent: (n, n) for agent, n in made.items()})
    assert stored(tmp_path) == {agent: (n, n) for agent, n in made.items()}  # every call once
    tail_out, tail_err = tail.communicate(timeout=120)
    assert tail.returncode == 0, tail_err
    assert "app-a" in tail_out and "app-b" in tail_out
    code, status = run_cli(tmp_path, "--url", STORE, "db", "status")
    assert code == 0 and " 0 rows waiting for the store" in status, status


@pytest.mark.slow
def test_the_engine_owner_killed_mid_fold_loses_nothing(tmp_path: Path, provider: ProviderServer) -> None:
    app = start_app(tmp_path, app_env(provider, "survivor"), "calls", "12")
    path = str(tmp_path / ".llmtel" / "chdb")
    wait_until(lambda: read_address(path) is not None and stored(tmp_path).get("survivor", (0, 0))[0] > 0)
    owner = read_address(path)
    assert owner is not None
    os.kill(owner.pid, signal.SIGKILL)  # mid-fold: the app keeps inserting every half second
    out, err = app.communicate(timeout=120)
    assert app.returncode == 0, err
    made = json.loads(out.splitlines()[-1])["survivor"]
    wait_until(lambda: stored(tmp_path).get("survivor") == (made, made))
    assert stored(tmp_path)["survivor"] == (made, made)
    successor = read_address(path)
    assert successor is not None and successor.pid != owner.pid  # a new owner took over on demand
    assert Path(files_of(path)[2]).exists()  # and each owner said so in the store's log


@pytest.mark.slow
def test_a_writer_killed_mid_batch_loses_at_most_what_it_had_not_flushed(
    tmp_path: Path, provider: ProviderServer
) -> None:
    other = start_app(tmp_path, app_env(provider, "neighbour"), "calls", "10")
    victim = start_app(tmp_path, app_env(provider, "victim"), "calls", "30")
    wait_until(lambda: stored(tmp_path).get("victim", (0, 0))[0] > 0)  # it has flushed some
    victim.send_signal(signal.SIGKILL)  # and is making calls: those since its last flush die with it
    victim.communicate(timeout=60)
    out, err = other.communicate(timeout=120)
    assert other.returncode == 0, err
    made = json.loads(out.splitlines()[-1])["neighbour"]
    wait_until(lambda: stored(tmp_path).get("neighbour") == (made, made))
    rows = stored(tmp_path)
    assert rows["neighbour"] == (made, made)  # the other app is untouched
    victim_rows, victim_unique = rows.get("victim", (0, 0))
    assert victim_rows == victim_unique and victim_rows > 0  # what it flushed, once each


@pytest.mark.slow
def test_an_owner_that_stops_answering_makes_the_app_spool_not_drop(tmp_path: Path, provider: ProviderServer) -> None:
    """The owner frozen (SIGSTOP) for 6 s while an app makes 100 KB-prompt calls with an 8 MB
    queue: far more waits than the queue holds, yet every call is a whole row, once."""
    env = {**app_env(provider, "frozen"), "LLMTEL_QUEUE_MAX_BYTES": str(8 << 20), "LLMTEL_FLUSH_INTERVAL": "0.05"}
    app = start_app(tmp_path, env, "prompts", "2000", "100000")
    path = str(tmp_path / ".llmtel" / "chdb")
    wait_until(lambda: read_address(path) is not None and stored(tmp_path, "run_id").get("warm-up", (0, 0))[0] > 0)
    owner = read_address(path)
    assert owner is not None and app.poll() is None
    os.kill(owner.pid, signal.SIGSTOP)
    try:
        time.sleep(6)
    finally:
        os.kill(owner.pid, signal.SIGCONT)
    _, err = app.communicate(timeout=600)
    assert app.returncode == 0, err
    assert "slower than the calls" in err and "dropped" not in err and "did not fit" not in err, err
    rows = stored(tmp_path, "run_id")
    assert rows == {"warm-up": (100, 100), "prompts": (2000, 2000)}, (rows, err)
    client = connect(parse_location(f"chdb://{path}"), database=False)
    try:
        cut = client.command("SELECT count() FROM llmtel.llm_traces WHERE position(request_json, '$llmtel.cut') > 0")
    finally:
        client.close()
    assert int(cut) == 0  # whole rows, not previews
    code, status = run_cli(tmp_path, "--url", STORE, "db", "status")
    assert code == 0 and " 0 rows waiting for the store" in status, status
