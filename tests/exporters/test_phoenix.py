"""The agent-loop example over real OTLP into a real backend: Arize Phoenix, bound to 127.0.0.1.

Phoenix lives in its own virtualenv (its dependencies are not llmtel's); `.ci/run` creates
`.venv-phoenix`. Without it this test skips and says so."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO

ROOT = REPO
PHOENIX = os.environ.get("LLMTEL_PHOENIX_BIN") or str(ROOT / ".venv-phoenix" / "bin" / "phoenix")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def graphql(url: str, query: str) -> Any:
    request = urllib.request.Request(
        url + "/graphql", data=json.dumps({"query": query}).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not (os.path.exists(PHOENIX) or shutil.which("phoenix")):
        pytest.skip(f"Arize Phoenix is not installed ({PHOENIX}); .ci/run installs it")
    port = free_port()
    env = dict(
        os.environ,
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(port),
        PHOENIX_GRPC_PORT=str(free_port()),
        PHOENIX_WORKING_DIR=str(tmp_path_factory.mktemp("phoenix")),
    )
    binary = PHOENIX if os.path.exists(PHOENIX) else str(shutil.which("phoenix"))
    log = tmp_path_factory.mktemp("phoenix-log") / "phoenix.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([binary, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("phoenix did not start: " + log.read_text()[-2000:]) from None
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(30)


@pytest.mark.slow
def test_agent_loop_spans_arrive_in_phoenix(phoenix: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LLMTEL_", "OPENAI_", "ANTHROPIC_"))}
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = phoenix
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "agent_loop.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    query = (
        "{ projects { edges { node { spans(first: 50) { edges { node {"
        " name parentId attributes spanKind input { value } output { value } context { traceId spanId } } } }"
        " sessions(first: 10) { edges { node { sessionId } } } } } } }"
    )
    deadline = time.monotonic() + 60
    while True:
        projects = graphql(phoenix, query)["projects"]["edges"]
        spans = [e["node"] for p in projects for e in p["node"]["spans"]["edges"]]
        if len(spans) >= 5 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    by_id = {s["context"]["spanId"]: s for s in spans}
    [root] = [s for s in spans if s["name"] == "run_agent"]
    children = sorted(s["name"] for s in spans if s["parentId"] == root["context"]["spanId"])
    assert children == ["chat claude-haiku-4-5", "chat claude-haiku-4-5", "chat gpt-4o-mini", "get_weather"]
    assert len({s["context"]["traceId"] for s in spans}) == 1 and len(by_id) == 5
    llm = [json.loads(s["attributes"]) for s in spans if s["name"].startswith("chat ")]
    assert sorted(a["gen_ai"]["provider"]["name"] for a in llm) == ["anthropic", "anthropic", "openai"]
    assert {a["llmtel"]["step_id"] for a in llm} == {"plan", "answer", "summary"}
    assert all(a["gen_ai"]["usage"]["output_tokens"] > 0 for a in llm)
    # what Phoenix shows of the app's own spans: their kind, input and output, and the run as a session
    [tool] = [s for s in spans if s["name"] == "get_weather"]
    assert (root["spanKind"].lower(), tool["spanKind"].lower()) == ("agent", "tool")
    assert json.loads(tool["input"]["value"]) == {"location": "Paris", "unit": "c"}
    assert json.loads(tool["output"]["value"])["sky"] == "sunny"
    assert {s["spanKind"].lower() for s in spans if s["name"].startswith("chat ")} == {"llm"}
    sessions = {e["node"]["sessionId"] for p in projects for e in p["node"]["sessions"]["edges"]}
    assert sessions == {json.loads(root["attributes"])["llmtel"]["run_id"]}
