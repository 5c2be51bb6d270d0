"""OTLPReceiver: a loopback OTLP/gRPC and OTLP/HTTP endpoint with the OpenTelemetry
Collector's default size limits, decoding what arrives with opentelemetry-proto.

Limits as the collector's otlp receiver applies them by default: a gRPC message over 4 MiB
is refused (RESOURCE_EXHAUSTED, the whole batch is lost) and an HTTP body over 20 MiB is
refused with 413. Everything received is kept raw, so tests can scan the exported bytes.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

GRPC_MAX_BYTES = 4 << 20
HTTP_MAX_BYTES = 20 << 20


class OTLPReceiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: list[Span] = []
        self.logs: list[LogRecord] = []
        self.raw: list[bytes] = []  # every accepted request body, traces, metrics and logs
        self.refused: list[int] = []  # sizes of HTTP bodies refused for size
        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.max_receive_message_length", GRPC_MAX_BYTES)]
        )
        for add, base, take, reply in (
            (
                trace_service_pb2_grpc.add_TraceServiceServicer_to_server,
                trace_service_pb2_grpc.TraceServiceServicer,
                self.take_traces,
                trace_service_pb2.ExportTraceServiceResponse,
            ),
            (
                metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server,
                metrics_service_pb2_grpc.MetricsServiceServicer,
                self.take_metrics,
                metrics_service_pb2.ExportMetricsServiceResponse,
            ),
            (
                logs_service_pb2_grpc.add_LogsServiceServicer_to_server,
                logs_service_pb2_grpc.LogsServiceServicer,
                self.take_logs,
                logs_service_pb2.ExportLogsServiceResponse,
            ),
        ):
            add(_servicer(base, take, reply), self._grpc)
        self.grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")
        self._grpc.start()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _Http)
        self._http.receiver = self  # type: ignore[attr-defined]
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        self.http_port = int(self._http.server_address[1])

    def endpoint(self, protocol: str) -> str:
        return f"http://127.0.0.1:{self.grpc_port if protocol == 'grpc' else self.http_port}"

    def take_traces(self, body: bytes) -> None:
        request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
        spans = [span for r in request.resource_spans for scope in r.scope_spans for span in scope.spans]
        self._keep(body, spans, self.spans)

    def take_metrics(self, body: bytes) -> None:
        metrics_service_pb2.ExportMetricsServiceRequest.FromString(body)  # must decode
        self._keep(body, [], [])

    def take_logs(self, body: bytes) -> None:
        request = logs_service_pb2.ExportLogsServiceRequest.FromString(body)
        records = [log for r in request.resource_logs for scope in r.scope_logs for log in scope.log_records]
        self._keep(body, records, self.logs)

    def _keep(self, body: bytes, items: list[Any], into: list[Any]) -> None:
        """The request's raw bytes, and its decoded spans or log records."""
        with self.lock:
            self.raw.append(body)
            into.extend(items)

    def reset(self) -> None:
        with self.lock:
            self.spans.clear()
            self.logs.clear()
            self.raw.clear()
            self.refused.clear()

    def close(self) -> None:
        self._grpc.stop(0)
        self._http.shutdown()
        self._http.server_close()


def _servicer(base: type, take: Callable[[bytes], None], reply: type) -> Any:
    """A gRPC OTLP service (``base``) whose Export hands the request's bytes to ``take``."""

    class Servicer(base):  # type: ignore[misc,valid-type]
        def Export(self, request: Any, context: Any) -> Any:
            take(request.SerializeToString())
            return reply()

    return Servicer()


class _Http(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        receiver: OTLPReceiver = self.server.receiver  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        if length > HTTP_MAX_BYTES:
            receiver.refused.append(length)
            self.send_response(413)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            return
        body = self.rfile.read(length)
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path == "/v1/traces":
            receiver.take_traces(body)
        elif self.path == "/v1/metrics":
            receiver.take_metrics(body)
        elif self.path == "/v1/logs":
            receiver.take_logs(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
