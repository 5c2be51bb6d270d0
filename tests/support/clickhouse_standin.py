"""ClickHouseStandIn: the stand-in for a ClickHouse *server* in these tests.

No current ClickHouse server can be installed on this machine (Debian ships 18.16, which
clickhouse-connect cannot talk to), so this is the embedded store's own server
(``llmtel.exporters.clickhouse.engine_server.EngineServer``: ClickHouse's HTTP interface executing
on the real engine embedded by chdb) run in the test process, with faults: answer 503, refuse
service for a while, answer slowly, answer half a response, or store an insert and then drop the
connection (a lost reply). It keeps every statement the engine ran.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from llmtel.exporters.clickhouse.engine_server import EngineServer, RequestHandler


@dataclass
class Seen:
    """One statement the engine ran."""

    statement: str
    settings: dict[str, str]
    rows_inserted: bool = False


@dataclass
class Faults:
    fail_next: int = 0  # answer this many requests with 503
    down: bool = False  # answer every request with 503
    drop_after_insert: int = 0  # store this many inserts, then cut the connection without a reply
    delay_s: float = 0.0  # a slow server: wait this long before answering
    partial_next: int = 0  # answer this many requests with half a response, then cut the connection
    statements: list[Seen] = field(default_factory=list)


class ClickHouseStandIn(EngineServer):
    """A ClickHouse server on 127.0.0.1, backed by chdb at ``path`` in this process, with faults."""

    def __init__(self, path: str) -> None:
        self.lock = threading.Lock()
        self.faults = Faults()
        super().__init__(path)

    def url(self, database: str, user: str = "default", password: str = "secret") -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def inserts(self, table: str) -> list[Seen]:
        """The inserts into ``table`` that reached the engine."""
        return [s for s in self.faults.statements if s.rows_inserted and table in s.statement]

    def executed(self, statement: str, settings: dict[str, str], inserted: bool) -> None:
        self.faults.statements.append(Seen(statement, settings, rows_inserted=inserted))

    def before(self, handler: RequestHandler) -> bool:
        with self.lock:
            faults = self.faults
            delay = faults.delay_s
            partial = faults.partial_next > 0
            faults.partial_next = max(0, faults.partial_next - 1)
        if delay:
            time.sleep(delay)
        if partial:
            handler.send_response(200)
            handler.send_header("Content-Length", "1000")
            handler.end_headers()
            handler.wfile.write(b"\x01\x02partial")
            handler.close_connection = True
            return False
        with self.lock:
            if faults.down or faults.fail_next > 0:
                faults.fail_next = max(0, faults.fail_next - 1)
                handler.reply(503, b"Code: 210. DB::NetException: stand-in outage (NETWORK_ERROR)\n")
                return False
        return True

    def after_insert(self, handler: RequestHandler) -> bool:
        with self.lock:
            if self.faults.drop_after_insert > 0:
                self.faults.drop_after_insert -= 1
                handler.close_connection = True
                handler.connection.close()  # stored; the client never hears so
                return False
        return True
