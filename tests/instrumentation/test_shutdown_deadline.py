"""One deadline for the whole shutdown (LLMTEL_SHUTDOWN_TIMEOUT): span flush, metrics and the
store's writer together, with the store and the collector both hung, through ``shutdown()``,
interpreter exit and SIGTERM; the rows the store never took are in the spool."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmtel.exporters.clickhouse.spool import Spool

TIMEOUT_S = 3.0
MARGIN_S = 3.0  # interpreter start-up is outside the measure; this covers teardown at load
CALLS = 50


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A TCP port that accepts connections and reads, and never answers: a hung store or collector."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


APP = """
    import os, signal, sys, time
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    if os.environ["HOW"] != "exit":  # the app's own provider, exporting to the hung collector
        provider = TracerProvider()
        exporter = OTLPSpanExporter(endpoint=os.environ["COLLECTOR"] + "/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
    from llmtel.instrumentation import configure, processor, trace_method
    from llmtel.instrumentation.records import LLMCall
    handle = configure()

    @trace_method
    def step(i):
        ids = trace.get_current_span().get_span_context()
        processor.submit(LLMCall(provider="openai", operation="chat", request=b'{"q":1}', response=b'{"a":2}',
                                 trace_id=ids.trace_id, span_id=ids.span_id + 1))

    for i in range(int(os.environ["CALLS"])):
        step(i)
    time.sleep(1.5)  # the writer's first insert is under way and hangs
    print("ready", flush=True)
    if os.environ["HOW"] == "shutdown":
        started = time.monotonic()
        handle.shutdown()
        print(f"shutdown took {time.monotonic() - started:.2f}", flush=True)
    elif os.environ["HOW"] == "sigterm":
        time.sleep(60)  # the test sends SIGTERM
"""


@pytest.mark.parametrize("how", ["shutdown", "exit", "sigterm"])
def test_shutdown_keeps_one_deadline_with_store_and_collector_hung(tmp_path: Path, black_hole: str, how: str) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LLMTEL_"))}
    env.update(
        HOW=how,
        CALLS=str(CALLS),
        COLLECTOR=f"http://{black_hole}",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://{black_hole}",  # llmtel's own provider (the exit case)
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        LLMTEL_CLICKHOUSE_URL=f"http://default:secret@{black_hole}/default",
        LLMTEL_SPOOL_DIR="./spool",
        LLMTEL_SHUTDOWN_TIMEOUT=str(TIMEOUT_S),
    )
    proc = subprocess.Popen(
        [sys.executable, "app.py"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        started = time.monotonic()
        if how == "sigterm":
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - started
    finally:
        proc.kill()
    if how == "shutdown":  # the call itself; the app's own provider then flushes at exit as it always does
        assert float(out.split("shutdown took ")[1]) < TIMEOUT_S + 0.5, out
    else:
        assert took < TIMEOUT_S + MARGIN_S, (took, err[-2000:])
    assert proc.returncode == (-signal.SIGTERM if how == "sigterm" else 0), err[-2000:]
    assert Spool(str(tmp_path / "spool"), 0).summary().rows == CALLS  # nothing the store did not take is lost
    assert "secret" not in out + err
