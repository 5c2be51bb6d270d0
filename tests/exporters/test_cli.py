"""The ``llmtel`` command against a real embedded store."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llmtel
from llmtel.exporters.cli import main, parse_since
from llmtel.exporters.clickhouse.location import parse_location
from llmtel.exporters.clickhouse.migrations import LATEST_VERSION
from llmtel.exporters.clickhouse.rows import trace_row
from llmtel.exporters.clickhouse.spool import Spool
from llmtel.exporters.clickhouse.writer import ClickHouseWriter
from tests.support.trace_records import full_trace


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, out.getvalue()


@pytest.fixture
def stored(store_url: str, tmp_path: Path) -> tuple[str, list, bytes]:
    schema_json = json.dumps({"name": "search", "parameters": {"type": "object", "pad": "p" * 5000}}).encode()
    ref = "llmtel://llm_payloads/" + hashlib.sha256(schema_json).hexdigest()
    traces = [
        full_trace(agent_id="planner", response_model="gpt-4o", org_id=None, is_error=False, error_type=None),
        full_trace(
            agent_id="coder",
            response_model="claude-haiku-4-5-20251001",
            org_id=None,
            request_json=json.dumps({"tools": [{"_ref": ref}], "messages": []}),
        ),
    ]
    writer = ClickHouseWriter(parse_location(store_url), spool_dir=str(tmp_path / "spool"), flush_interval=0.05)
    for trace in traces:
        writer.offer(trace)
    writer.offer_payload(ref.rsplit("/", 1)[1], schema_json)
    writer.shutdown(30)
    return store_url, traces, schema_json


def test_traces_table_and_json(stored: tuple[str, list, bytes]) -> None:
    url, traces, _ = stored
    code, out = run("--url", url, "traces")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("time (UTC)") and len(lines) == 3
    assert all(len(line) <= 100 for line in lines)  # a 100-column terminal, no wrapping
    assert any("planner" in line and " ok " in line and traces[0].id[-12:] in line for line in lines)
    assert any("coder" in line and " error " in line for line in lines)
    code, out = run("--url", url, "traces", "--wide")
    assert any("coder" in line and "RateLimitError" in line and traces[1].id in line for line in out.splitlines())
    code, out = run("--url", url, "traces", "--errors", "--json")
    assert code == 0 and [json.loads(line)["id"] for line in out.splitlines()] == [traces[1].id]
    code, out = run("--url", url, "traces", "--agent", "nobody")
    assert code == 0 and out == "no provider traces match\n"


def test_show_resolves_payload_refs(stored: tuple[str, list, bytes]) -> None:
    url, traces, schema_json = stored
    code, out = run("--url", url, "show", traces[1].id, "--full")
    assert code == 0
    assert f"id: {traces[1].id}" in out and "agent_id: coder" in out
    request = out.split("--- request ---\n", 1)[1].split("\n--- response ---", 1)[0]
    assert json.loads(request)["tools"][0] == {"_ref": json.loads(schema_json)}
    code, out = run("--url", url, "show", traces[1].id[-12:])  # the id's end, as `traces` shows it
    request = out.split("--- request ---\n", 1)[1].split("\n--- response ---", 1)[0]
    assert code == 0 and json.loads(request)["tools"][0]["_ref"]["parameters"]["pad"].endswith(
        "…[5,000 chars; --full shows all]"
    )  # long strings cut, saying their size
    code, out = run("--url", url, "show", traces[0].trace_id)  # by OTel trace id
    assert code == 0 and traces[0].id in out
    assert run("--url", url, "show", "no-such-id")[0] == 1


def test_usage_by_agent(stored: tuple[str, list, bytes]) -> None:
    url, _, _ = stored
    code, out = run("--url", url, "usage", "--by", "agent")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert code == 0 and set(rows) == {"coder", "planner"}
    assert rows["coder"][1:3] == ["1", "1"]  # one call, one error
    assert rows["planner"][3] == "1,200"  # input tokens


def test_tail_follows_new_traces(stored: tuple[str, list, bytes], tmp_path: Path) -> None:
    url, traces, _ = stored
    code, out = run("--url", url, "tail", "--interval", "0.05", "--follow-for", "0.1")
    assert code == 0 and all(t.id[-12:] in out for t in traces)


def test_db_commands(stored: tuple[str, list, bytes]) -> None:
    url, _, _ = stored
    code, out = run("--url", url, "db", "status")
    assert code == 0 and f"schema version {LATEST_VERSION} of {LATEST_VERSION}" in out and "llm_traces: 2 rows" in out
    code, out = run("--url", url, "db", "migrate")
    assert code == 0 and "already current" in out
    code, out = run("--url", url, "db", "ddl", "--cluster", "prod")
    # database, 5 tables + 5 distributed, 2 ALTERs, otel_traces' materialized view
    assert code == 0 and out.count("ON CLUSTER `prod`") == 14


def test_since_accepts_durations_and_times() -> None:
    assert parse_since("2026-01-02T03:04:05").isoformat() == "2026-01-02T03:04:05+00:00"
    assert (parse_since("0d") - parse_since("1h")).total_seconds() == pytest.approx(3600, abs=5)


def test_traces_says_what_waits_outside_the_store(
    stored: tuple[str, list, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _, _ = stored
    spool = Spool(str(tmp_path / "waiting"), 1 << 20)
    assert spool.put("traces", "tok", [trace_row(full_trace()), trace_row(full_trace())])
    monkeypatch.setenv("LLMTEL_SPOOL_DIR", spool.directory)
    code, out = run("--url", url, "traces")
    assert code == 0 and len(out.splitlines()) == 3  # the listing is what the store holds
    assert "2 rows wait in the spool" in capsys.readouterr().err  # and the hint says what it does not


_HOSTILE = st.one_of(
    st.text(max_size=40),
    st.integers().map(str),
    st.sampled_from(
        [
            "-1",
            "0",
            "1e309",
            "nan",
            "inf",
            "-inf",
            "99999999999999999999d",
            "0d",
            "9999-12-31T23:59:59",
            "0001-01-01",
            "1969-12-31",
            "-5m",
            "llmtel://llm_payloads/zz",
            "'; DROP TABLE llm_traces --",
            "%s{}",
        ]
    ),
)
_OPTIONS = {
    "traces": ["--run", "--agent", "--model", "--since", "--limit", "--errors", "--json"],
    "show": ["--json"],
    "usage": ["--by", "--since", "--json"],
    "tail": ["--limit", "--interval", "--since"],
    "db": ["--cluster", "--spool-dir"],
}


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(sorted(_OPTIONS)))
    argv = [command]
    if command == "show":
        argv.append(draw(_HOSTILE))
    if command == "db":
        argv.append(draw(st.sampled_from(["status", "ddl", "replay", "migrate", "init", "bogus"])))
    for option in draw(st.lists(st.sampled_from(_OPTIONS[command]), max_size=4)):
        argv.append(option)
        if option not in ("--errors", "--json"):
            argv.append(draw(_HOSTILE))
    if command == "tail":
        argv += ["--follow-for", "0"]
    return argv


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=command_lines())
def test_no_user_input_makes_a_traceback(
    stored: tuple[str, list, bytes],
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever is typed, the command ends with a status and at most a line saying why."""
    monkeypatch.chdir(tmp_path)  # db --spool-dir makes folders where it is pointed
    url = stored[0]
    try:
        code = main(["--url", url, *argv], out=io.StringIO())
    except SystemExit as exc:  # argparse's usage error (2) or --help (0)
        code = exc.code
    err = capsys.readouterr().err
    assert code in (0, 1, 2), (argv, err)
    assert "Traceback" not in err


def test_version_is_the_package_version() -> None:
    code = "import sys; from llmtel.exporters.cli import main; sys.exit(main())"
    result = subprocess.run([sys.executable, "-c", code, "--version"], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, f"llmtel {llmtel.__version__}\n")
