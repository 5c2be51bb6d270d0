"""Every example runs end to end with no API key (loopback provider server) and stores what it
says; the Docker stack's files are checked here because the stack itself cannot run here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import EXAMPLES
from tests.support.store_cli import calls_by, run_cli

STACK = EXAMPLES / "stack"


def run_example(path: Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LLMTEL_", "OPENAI_", "ANTHROPIC_"))}
    done = subprocess.run([sys.executable, str(path)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "llmtel: internal error" not in done.stderr, done.stderr
    return done.stdout


def test_demo(tmp_path: Path) -> None:
    out = run_example(EXAMPLES / "demo.py", tmp_path)
    assert "app got: Hello from OpenAI / Hello! How can I help?" in out
    table = out.split("$ llmtel traces --limit 5\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert table[0].startswith("time (UTC)") and len(table) == 3
    assert all("demo-agent" in row and "run-1" in row for row in table[1:])
    assert "claude-haiku-4-5-20251001" in out.split("$ llmtel usage --by model")[1]


def test_quickstart(tmp_path: Path) -> None:
    out = run_example(EXAMPLES / "quickstart.py", tmp_path)
    assert "openai: Paris." in out and "anthropic: Hello! How can I help you today?" in out
    assert calls_by(tmp_path, "chdb://./.llmtel/chdb", "provider") == {"anthropic": 1, "openai": 1}


def test_agent_loop(tmp_path: Path) -> None:
    out = run_example(EXAMPLES / "agent_loop.py", tmp_path)
    run_id = out.split("$ llmtel tree ", 1)[1].split()[0]
    header, *tree = out.split(f"$ llmtel tree {run_id}\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert f"run {run_id}  5 spans  3 LLM calls  $" in header
    assert all(len(line) <= 100 for line in [header, *tree])  # a 100-column terminal
    assert [re.split(r"\s{2,}\d", line)[0] for line in tree] == [
        "run_agent",
        '│  · tool.result tool=get_weather result={"location":"Paris","temperature":18,"unit":"c","sky":"sun…',
        "├─ chat claude-haiku-4-5",
        "├─ get_weather",
        "├─ chat gpt-4o-mini",
        "└─ chat claude-haiku-4-5",
    ]
    assert "gpt-4o-mini-2024-07-18  20→3 tok  $0.000005" in tree[4]
    code, rows = run_cli(tmp_path, "traces", "--run", run_id, "--json")
    assert code == 0
    steps = sorted((r["step_id"], r["call_type"], r["agent_id"]) for r in map(json.loads, rows.splitlines()))
    assert steps == [
        ("answer", "answer", "weather-agent"),
        ("plan", "tool_choice", "weather-agent"),
        ("summary", "summary", "weather-agent"),
    ]


def test_zero_code(tmp_path: Path) -> None:
    out = run_example(EXAMPLES / "zero_code" / "run.py", tmp_path)
    assert "openai: Paris." in out and "anthropic: Hello! How can I help?" in out
    names = [line.split('"name": ')[1].strip(' ",') for line in out.splitlines() if line.startswith('    "name": ')]
    assert names == ["chat gpt-4o-mini", "chat claude-haiku-4-5"]  # console exporter, llmtel's spans
    assert calls_by(tmp_path, "chdb://./.llmtel/chdb", "provider") == {"anthropic": 1, "openai": 1}


# -- the Docker stack: files checked, not run (no Docker here) --------------------------------

# Settings of the collector components used, from the collector's documentation
# (receiver/otlpreceiver, processor/batchprocessor, processor/memorylimiterprocessor,
# exporter/otlpexporter, exporter/debugexporter, confighttp/configgrpc server settings).
COLLECTOR_SCHEMA: dict[str, set[str]] = {
    "otlp.protocols": {"grpc", "http"},
    "otlp.protocols.grpc": {
        "endpoint",
        "max_recv_msg_size_mib",
        "max_concurrent_streams",
        "read_buffer_size",
        "write_buffer_size",
        "keepalive",
        "tls",
        "auth",
        "include_metadata",
        "transport",
    },
    "otlp.protocols.http": {
        "endpoint",
        "max_request_body_size",
        "cors",
        "tls",
        "auth",
        "include_metadata",
        "traces_url_path",
        "metrics_url_path",
        "logs_url_path",
    },
    "memory_limiter": {"check_interval", "limit_mib", "spike_limit_mib", "limit_percentage", "spike_limit_percentage"},
    "batch": {"timeout", "send_batch_size", "send_batch_max_size", "metadata_keys", "metadata_cardinality_limit"},
    "otlp": {
        "endpoint",
        "tls",
        "compression",
        "timeout",
        "headers",
        "sending_queue",
        "retry_on_failure",
        "balancer_name",
        "auth",
        "keepalive",
        "read_buffer_size",
        "write_buffer_size",
        "wait_for_ready",
    },
    "debug": {"verbosity", "sampling_initial", "sampling_thereafter"},
}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_collector_config_matches_the_collector_schema() -> None:
    config = load(STACK / "otel-collector.yaml")
    assert set(config) <= {"receivers", "processors", "exporters", "extensions", "connectors", "service"}
    for kind in ("receivers", "processors", "exporters"):
        for name, settings in config[kind].items():
            component = name.split("/")[0]
            assert component in COLLECTOR_SCHEMA, f"{kind}.{name} is not a component we checked"
            if component == "otlp" and kind == "receivers":
                assert set(settings) == {"protocols"}
                assert set(settings["protocols"]) <= COLLECTOR_SCHEMA["otlp.protocols"]
                for proto, proto_settings in settings["protocols"].items():
                    assert set(proto_settings) <= COLLECTOR_SCHEMA[f"otlp.protocols.{proto}"], proto
            else:
                assert set(settings or {}) <= COLLECTOR_SCHEMA[component], name
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["max_recv_msg_size_mib"] == 4
    for pipeline, parts in config["service"]["pipelines"].items():
        for kind in ("receivers", "processors", "exporters"):
            for name in parts.get(kind, []):
                assert name in config[kind], f"pipeline {pipeline} uses undefined {kind}.{name}"
        assert parts["processors"][0] == "memory_limiter"  # the collector's documented order


def test_compose_and_grafana_provisioning() -> None:
    compose = load(STACK / "docker-compose.yml")
    assert set(compose["services"]) == {"otel-collector", "jaeger", "clickhouse", "grafana"}
    for name, service in compose["services"].items():
        assert ":" in service["image"] and not service["image"].endswith(":latest"), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (STACK / source).exists(), f"{name} mounts missing {source}"
    grafana = compose["services"]["grafana"]
    assert "grafana-clickhouse-datasource" in grafana["environment"]["GF_INSTALL_PLUGINS"]
    dashboards = next(v for v in grafana["volumes"] if "dashboards" in v).split(":")
    assert (STACK / dashboards[0] / "llmtel.json").exists()
    [provider] = load(STACK / "grafana/provisioning/dashboards/llmtel.yaml")["providers"]
    assert provider["options"]["path"] == dashboards[1]
    sources = {d["type"]: d for d in load(STACK / "grafana/provisioning/datasources/datasources.yaml")["datasources"]}
    clickhouse = sources["grafana-clickhouse-datasource"]["jsonData"]
    env = compose["services"]["clickhouse"]["environment"]
    assert (clickhouse["host"], clickhouse["defaultDatabase"], clickhouse["username"]) == (
        "clickhouse",
        env["CLICKHOUSE_DB"],
        env["CLICKHOUSE_USER"],
    )
    assert sources["jaeger"]["url"] == "http://jaeger:16686"


@pytest.mark.parametrize("path", sorted(STACK.rglob("*.y*ml")), ids=lambda p: p.name)
def test_every_stack_file_parses(path: Path) -> None:
    assert load(path)
