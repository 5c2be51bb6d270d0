"""JsonlSink: provider traces and payloads as JSON lines, in batches, in a forked child too."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from llmtel.instrumentation import JsonlSink
from tests.support.trace_records import small_trace as record


def rows(path: Path) -> list[dict[str, Any]]:
    file = path / "traces.jsonl"
    return [json.loads(line) for line in file.read_text().splitlines()] if file.exists() else []


def test_jsonl_sink_writes_in_batches_and_flushes(tmp_path: Path) -> None:
    sink = JsonlSink(str(tmp_path), batch_max_rows=10, flush_interval=60)
    for n in range(25):
        assert sink.offer(record(n))
    assert sink.offer_payload("ab" * 32, b'{"big":true}', "acme")
    assert sink.flush(timeout=10)
    assert [r["id"] for r in rows(tmp_path)] == [f"id-{n}" for n in range(25)]
    payload = json.loads((tmp_path / "payloads.jsonl").read_text())
    assert payload == {"sha256": "ab" * 32, "org_id": "acme", "data": '{"big":true}'}
    sink.shutdown(timeout=5)
    assert not sink.offer(record(99))  # closed: refused and counted


def test_forked_child_gets_its_own_queue(tmp_path: Path) -> None:
    sink = JsonlSink(str(tmp_path), flush_interval=60)
    sink.offer(record(1))  # queued in the parent, not yet written
    pid = os.fork()
    if pid == 0:  # child: must write only its own record, with its own thread
        try:
            sink.offer(record(2))
            sink.flush(timeout=10)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert [r["id"] for r in rows(tmp_path)] == ["id-2"]
    sink.flush(timeout=10)
    assert sorted(r["id"] for r in rows(tmp_path)) == ["id-1", "id-2"]
    sink.shutdown(timeout=5)
