"""The public API at its documented paths: what README, docs and examples import, the entry points
and the version. A move inside the package that breaks one of these is a breaking change."""

from __future__ import annotations

import importlib
from importlib import metadata

import pytest

import llmtel
from llmtel.instrumentation.config import INSTRUMENTORS

PUBLIC = {
    "llmtel.instrumentation": [
        "ConfigError",
        "Handle",
        "InMemorySink",
        "JsonlSink",
        "LLMContext",
        "PayloadSink",
        "ProviderTrace",
        "ProviderTraceProcessor",
        "Settings",
        "TraceSink",
        "configure",
        "llm_context",
        "log_attributes",
        "log_event",
        "trace_method",
    ],
    "llmtel.instrumentation.openai": ["OpenAIInstrumentor"],
    "llmtel.instrumentation.anthropic": ["AnthropicInstrumentor"],
    "llmtel.exporters.clickhouse.reader": ["TraceReader", "StoreEmpty"],
    "llmtel.exporters.clickhouse.writer": ["ClickHouseWriter"],
    "llmtel.exporters.jsonl": ["JsonlSink"],
    "llmtel.exporters.otlp": ["span_exporters", "metric_exporters"],
    "llmtel.exporters.cli": ["main"],
    "llmtel.loopback": ["ProviderServer", "Reply", "Received", "clients", "use_real_apis"],
    "llmtel.loopback.openai_replies": ["chat", "chat_stream"],
    "llmtel.loopback.anthropic_replies": ["plain", "streaming_text"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_public_name_imports_from_its_documented_path(module: str) -> None:
    loaded = importlib.import_module(module)
    assert not [name for name in PUBLIC[module] if not hasattr(loaded, name)]


def test_the_package_exports_what_it_lists() -> None:
    instrumentation = importlib.import_module("llmtel.instrumentation")
    assert sorted(instrumentation.__all__) == sorted(PUBLIC["llmtel.instrumentation"])
    from llmtel.exporters.jsonl import JsonlSink

    assert instrumentation.JsonlSink is JsonlSink  # re-exported, loaded when first named


def test_entry_points_name_the_instrumentors_configure_uses() -> None:
    found = {ep.name: ep.value for ep in metadata.entry_points(group="opentelemetry_instrumentor")}
    assert {f"llmtel_{name}": target for name, target in INSTRUMENTORS.items()}.items() <= found.items()
    for target in INSTRUMENTORS.values():
        module, name = target.split(":")
        assert hasattr(importlib.import_module(module), name)
    (cli,) = [ep for ep in metadata.entry_points(group="console_scripts") if ep.name == "llmtel"]
    assert cli.value == "llmtel.exporters.cli:main" and callable(cli.load())


def test_the_version_is_defined_once() -> None:
    assert metadata.version("llmtel") == llmtel.__version__
