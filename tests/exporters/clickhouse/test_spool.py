"""Spool: crash-safe batch files on disk, bounded in bytes, claimed by one process at a time,
released when their process died, and a quarantine beside them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from llmtel.exporters.clickhouse.rows import trace_row
from llmtel.exporters.clickhouse.spool import Spool
from tests.support.trace_records import full_trace


def test_batches_come_back_whole_oldest_first_and_once(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), max_bytes=1 << 20)
    first, second = trace_row(full_trace()), trace_row(full_trace())
    assert spool.put("traces", "tok-1", [first]) and spool.put("traces", "tok-2", [second])
    assert spool.summary().batches == 2 and spool.summary().rows == 2
    group = spool.claim_group(max_rows=10, max_bytes=1 << 20)
    assert [b.token for b in group] == ["tok-1", "tok-2"]
    assert group[0].rows[0][0] == first[0] and group[0].rows[0][4] == first[4]  # id, created_at as datetime
    assert spool.claim_group(max_rows=10, max_bytes=1 << 20) == []  # claimed: nobody else gets them
    spool.unclaim(group[1])
    for batch in group[:1]:
        spool.done(batch)
    assert [b.token for b in spool.claim_group(10, 1 << 20)] == ["tok-2"]


def test_the_budget_refuses_a_batch_rather_than_grow(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), max_bytes=4096)
    big = [trace_row(full_trace()) for n in range(20)]
    assert not spool.put("traces", "too-big", big)
    assert spool.size() == 0 and spool.pending() == []


def test_a_dead_processs_claim_and_half_written_file_are_released(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), max_bytes=1 << 20)
    assert spool.put("traces", "tok", [trace_row(full_trace())])
    (path,) = spool.pending()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    os.replace(path, f"{path}.{pid}.claimed")  # claimed by a process that then died
    Path(tmp_path, f"half.{pid}.tmp").write_bytes(b'{"v": 1')  # and one it never finished writing
    assert spool.pending() == [path]  # the claim is released; the torn file is gone
    assert not list(tmp_path.glob("*.tmp"))


def test_quarantined_rows_keep_the_stores_reason(tmp_path: Path) -> None:
    quarantine = Spool(str(tmp_path), max_bytes=1 << 20).quarantine()
    assert quarantine.put("traces", "tok", [trace_row(full_trace())], reason="Code: 53. Type mismatch")
    assert quarantine.summary().reasons == {"Code: 53. Type mismatch": 1}
    (batch,) = quarantine.claim_group(10, 1 << 20)
    assert batch.reason == "Code: 53. Type mismatch"
