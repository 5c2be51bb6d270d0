"""Every Grafana panel's SQL runs on real ClickHouse (chdb) over stored traces and returns rows."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any

import pytest

from llmtel.exporters.clickhouse.location import connect, parse_location
from llmtel.exporters.clickhouse.writer import ClickHouseWriter
from tests.support.paths import PACKAGE
from tests.support.trace_records import full_trace

DASHBOARDS = sorted((PACKAGE / "exporters" / "clickhouse" / "dashboards").glob("*.json"))
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def interpolate(sql: str, database: str, variables: dict[str, str]) -> str:
    """What Grafana and the ClickHouse datasource plugin do to a panel's SQL before sending it."""
    start, end = int((NOW - datetime.timedelta(hours=6)).timestamp()), int(NOW.timestamp())
    sql = re.sub(r"\$__timeFilter\((\w+)\)", rf"\1 >= toDateTime({start}) AND \1 <= toDateTime({end})", sql)
    sql = re.sub(r"\$__timeInterval\((\w+)\)", r"toStartOfInterval(toDateTime(\1), INTERVAL 60 second)", sql)
    for name, value in variables.items():
        quoted = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        sql = sql.replace(f"${{{name}:sqlstring}}", quoted)
    sql = sql.replace("${database}", database)
    assert "$" not in sql, f"uninterpolated variable left in {sql}"
    return sql


@pytest.fixture
def client(store_url: str, tmp_path: Path) -> Any:
    writer = ClickHouseWriter(parse_location(store_url), spool_dir=str(tmp_path / "spool"), flush_interval=0.05)
    for i in range(40):
        writer.offer(
            full_trace(
                created_at=NOW - datetime.timedelta(minutes=i * 5),
                agent_id=f"agent-{i % 2}",
                response_model=["gpt-4o", "claude-haiku-4-5-20251001"][i % 2],
                is_error=i % 7 == 0,
                duration_ms=100.0 + i,
            )
        )
    writer.shutdown(30)
    c = connect(parse_location(store_url))
    yield c
    c.close()


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.name for p in DASHBOARDS])
def test_every_panel_query_returns_rows(path: Path, client: Any, store_url: str) -> None:
    dashboard = json.loads(path.read_text())
    database = parse_location(store_url).database
    everything = {"agent": "", "model": ""}
    assert dashboard["panels"], "a dashboard without panels"
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            assert target["datasource"]["type"] == "grafana-clickhouse-datasource"
            rows = client.query(interpolate(target["rawSql"], database, everything)).result_rows
            assert rows, f"panel {panel['title']!r} returned nothing"
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            values = [r[0] for r in client.query(interpolate(variable["query"], database, {})).result_rows]
            assert len(values) == 2, variable["name"]


def test_filters_narrow_the_panels(client: Any, store_url: str) -> None:
    dashboard = json.loads(DASHBOARDS[0].read_text())
    database = parse_location(store_url).database
    [calls] = [p for p in dashboard["panels"] if p["title"] == "Calls"]
    sql = calls["targets"][0]["rawSql"]
    assert client.query(interpolate(sql, database, {"agent": "", "model": ""})).result_rows == [(40,)]
    assert client.query(interpolate(sql, database, {"agent": "agent-1", "model": ""})).result_rows == [(20,)]
    assert client.query(interpolate(sql, database, {"agent": "x' OR '1'='1", "model": ""})).result_rows == [(0,)]
    [slowest] = [p for p in dashboard["panels"] if p["title"] == "Slowest calls"]
    link = slowest["fieldConfig"]["overrides"][0]["properties"][0]["value"][0]["url"]
    assert link == "${tracing_url}/trace/${__value.raw}"
