"""JsonlSink: provider traces and payloads as JSON lines files, for setups without ClickHouse."""

from __future__ import annotations

import json
import os
from typing import Any

from llmtel.exporters.background import BatchWorker
from llmtel.exporters.record_queue import queue_record
from llmtel.instrumentation import provider_trace
from llmtel.instrumentation.records import LateJSON, Payload, ProviderTrace, Record
from llmtel.instrumentation.selftelemetry import report_error, traces_dropped


class JsonlSink(BatchWorker):
    """Appends traces to ``traces.jsonl`` and payloads to ``payloads.jsonl`` in ``directory``,
    from a background thread. Useful where no ClickHouse is installed."""

    def __init__(self, directory: str, **worker_options: Any) -> None:
        super().__init__("llmtel-jsonl", **worker_options)
        self.directory = directory
        os.makedirs(directory, exist_ok=True)

    def offer(self, record: Record) -> bool:
        return queue_record(self, record)

    def offer_payload(self, sha256: str, data: bytes | LateJSON, org_id: str | None = None) -> bool:
        return self.enqueue(Payload(sha256, data, org_id), len(data) + 64)

    def write_batch(self, batch: list[Any]) -> None:
        traces: list[ProviderTrace] = []
        payloads: list[Payload] = []
        for item in batch:
            if isinstance(item, Payload):
                payloads.append(item)
            elif isinstance(item, ProviderTrace):
                traces.append(item)
            else:
                try:
                    traces.append(provider_trace.build(item))
                except Exception as exc:
                    traces_dropped.add(1, {"reason": "build_error"})
                    report_error("jsonl.build", exc)
        if traces:
            with open(os.path.join(self.directory, "traces.jsonl"), "a", encoding="utf-8") as f:
                for trace in traces:
                    f.write(json.dumps(trace.to_dict(), default=str, ensure_ascii=False) + "\n")
        if payloads:
            with open(os.path.join(self.directory, "payloads.jsonl"), "a", encoding="utf-8") as f:
                for payload in payloads:
                    text = payload.encoded().decode("utf-8", "replace")
                    row = {"sha256": payload.sha256, "org_id": payload.org_id, "data": text}
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
