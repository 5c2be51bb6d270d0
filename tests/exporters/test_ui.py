"""``llmtel ui`` over a real embedded store: its JSON routes, read-only and on loopback, and the
page itself in headless Chromium (Debian's), which also takes the screenshots in docs/
(LLMTEL_UPDATE_SCREENSHOTS=1 writes them there)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
import pytest

from llmtel.exporters.clickhouse.reader import TraceReader
from llmtel.instrumentation import llm_context
from llmtel.loopback import ProviderServer
from llmtel.loopback import openai_replies as fx
from tests.conftest import WriterFactory
from tests.exporters.clickhouse.test_many_processes import STORE, app_env, start_app
from tests.exporters.clickhouse.test_spans import plan, store_spans
from tests.support.paths import DOCS
from tests.support.store_cli import run_cli
from tests.support.telemetry import Telemetry

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BIG = "lorem ipsum " * 5_000  # 60,000 characters: three pages of the call's request
CLI = "import sys; from llmtel.exporters.cli import main; sys.exit(main(sys.argv[1:]))"


@contextmanager
def serving(url: str, cwd: Path | None = None) -> Iterator[str]:
    """``llmtel ui`` on a free port in a process of its own, as a user starts it; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "--url", url, "ui", "--port", "0"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("llmtel ui: http://127.0.0.1:"), line + (proc.stderr.read() if proc.stderr else "")
        yield line.split()[2].rstrip("/")
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(params=["embedded", "server"])
def ui(
    request: pytest.FixtureRequest,
    server: ProviderServer,
    client: openai.OpenAI,
    tel: Telemetry,
    make_writer: WriterFactory,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """A store (the embedded default, or a ClickHouse server by URL) with two agents' runs (one with
    a failed call and a 60,000-character prompt) and ``llmtel ui`` serving it on a free port."""
    url = request.getfixturevalue("store_url" if request.param == "embedded" else "server_url")
    writer = make_writer(url)
    store_spans(tel, writer)
    server.expect("/v1/chat/completions", fx.chat("Hello!"), fx.chat("Hi again"), fx.rate_limited())
    with llm_context(agent_id="greeter", run_id="run-a"):
        plan(client)
    with llm_context(agent_id="writer", run_id="run-b"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": BIG}])
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "again"}])
    assert writer.flush(30)
    with serving(url) as base:
        with TraceReader(url) as reader:
            traces = reader.traces(limit=10).traces
        yield base, {"calls": {t.run_id: t for t in traces if not t.is_error}, "traces": traces}


def get(base: str, path: str) -> Any:
    """A route's JSON; an error reply fails with what the server said."""
    try:
        with urllib.request.urlopen(base + path, timeout=30) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{path}: {exc.code} {exc.read().decode()}") from None


def test_routes_list_runs_trees_and_page_bodies(ui: tuple[str, dict[str, Any]]) -> None:
    base, data = ui
    runs = {r["run"]: r for r in get(base, "/api/runs")}
    assert set(runs) == {"run-a", "run-b"}
    assert (runs["run-b"]["calls"], runs["run-b"]["errors"], runs["run-b"]["agent"]) == (2, 1, "writer")
    assert [r["run"] for r in get(base, "/api/runs?agent=greeter")] == ["run-a"]
    assert [r["run"] for r in get(base, "/api/runs?errors=1")] == ["run-b"]
    assert [r["run"] for r in get(base, "/api/runs?run=N-A")] == ["run-a"]  # part of a run id, any case
    [trace] = get(base, "/api/tree?key=run-a")
    names = {s["name"]: s for s in trace["spans"]}
    assert set(names) == {"plan", "chat gpt-4o-mini"} and names["plan"]["events"] == ["plan.start"]
    assert names["chat gpt-4o-mini"]["parent"] == names["plan"]["span_id"]
    assert names["chat gpt-4o-mini"]["call"]["model"].startswith("gpt-4o-mini")
    big = next(t for t in data["traces"] if t.run_id == "run-b" and not t.is_error)
    first = get(base, f"/api/body?id={big.id}&part=request")
    assert first["total"] > len(BIG) and len(first["text"]) == 20_000  # a page, not the whole body
    rest = get(base, f"/api/body?id={big.id}&part=request&offset=20000")
    joined = first["text"][-10:] + rest["text"][:10]
    assert rest["offset"] == 20_000 and joined in big.request_json


def test_it_is_read_only_and_says_what_is_wrong(ui: tuple[str, dict[str, Any]]) -> None:
    base, _ = ui
    request = urllib.request.Request(base + "/api/runs", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 405
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(base + "/api/body?ref=not-a-ref", timeout=30)
    assert bad.value.code == 400 and "payload reference" in json.loads(bad.value.read())["error"]
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(base + "/api/drop_tables", timeout=30)
    assert missing.value.code == 404


def browser(url: str, out: Path, *, screenshot: bool) -> str:
    """What headless Chromium shows at ``url`` after its scripts ran: the DOM, or a screenshot."""
    assert CHROMIUM is not None
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={out.parent / 'chromium-profile'}",
        "--window-size=1400,1000",
        "--virtual-time-budget=10000",
        f"--screenshot={out}" if screenshot else "--dump-dom",
        url,
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
@pytest.mark.parametrize("ui", ["embedded"], indirect=True)  # the routes are tested on both stores above
def test_the_page_in_a_real_browser(ui: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    base, data = ui
    home = browser(base + "/", tmp_path / "runs.png", screenshot=False)
    assert 'data-ready="1"' in home and "run-a" in home and "run-b" in home and "greeter" in home
    assert "Cost over time by model" in home and "<svg" in home and "gpt-4o" in home
    call = data["calls"]["run-a"]
    page = browser(f"{base}/#run=run-a&call={call.id}", tmp_path / "x.png", screenshot=False)
    assert "plan.start" in page and "chat gpt-4o-mini" in page and "LLM call" in page
    assert "Hello!" in page and '"role": "user"' in page  # the call's response and request, indented
    shots = {
        "ui-runs.png": base + "/",
        "ui-trace.png": f"{base}/#run=run-a&call={call.id}",
        "ui-big-call.png": f"{base}/#run=run-b&call={data['calls']['run-b'].id}",
    }
    for name, url in shots.items():
        browser(url, tmp_path / name, screenshot=True)
        assert (tmp_path / name).stat().st_size > 10_000
        if os.environ.get("LLMTEL_UPDATE_SCREENSHOTS") == "1":
            shutil.copy(tmp_path / name, DOCS / name)


def test_it_answers_while_an_app_writes_to_the_default_store(tmp_path: Path) -> None:
    """Started first, as a user would, on the embedded default while an app makes real SDK calls:
    every request answers, the app never spools, and the page sees each call soon after its flush."""
    with ProviderServer() as provider, serving(STORE, cwd=tmp_path) as base:
        provider.always("/v1/chat/completions", fx.chat("ok", prompt_tokens=3, completion_tokens=2))
        app = start_app(tmp_path, app_env(provider, "busy"), "calls", "8")
        answers = []
        while app.poll() is None:
            answers.append(get(base, "/api/runs"))  # raises on any error reply
            time.sleep(1)
        out, err = app.communicate(timeout=120)
        assert app.returncode == 0, err
        made = json.loads(out.splitlines()[-1])["busy"]
        assert len(answers) >= 5 and any(isinstance(runs, list) and runs for runs in answers)  # calls while made
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and [r["calls"] for r in get(base, "/api/runs?agent=busy")] != [made]:
            time.sleep(0.5)
        [run] = get(base, "/api/runs?agent=busy")
        assert run["calls"] == made and run["errors"] == 0
        [trace, *_] = get(base, f"/api/tree?key={run['run']}")
        assert any(s["name"] == "chat m" and s["call"] for s in trace["spans"])
    code, status = run_cli(tmp_path, "--url", STORE, "db", "status")
    assert code == 0 and " 0 rows waiting for the store" in status, status
