"""The instrumentor both SDK integrations share: wrap the Stainless base client, undo on uninstrument.

A subclass names its SDK module, its adapter, the SDK helper streams whose ``close``
bypasses the raw stream they iterate (their ``close`` is wrapped like the streams' own), and
the other classes whose ``__exit__`` can carry the app's error (``exiting``): helper streams
that close through their raw stream, and the helpers' context managers. Every stream's and
helper stream's ``__exit__`` is wrapped too.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Collection, Iterator
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from llmtel import __version__
from llmtel.instrumentation import processor
from llmtel.instrumentation.genai_events import GenAIEvents
from llmtel.instrumentation.genai_metrics import metrics_for
from llmtel.instrumentation.selftelemetry import report_error
from llmtel.instrumentation.semconv import SCHEMA_URL
from llmtel.instrumentation.stainless.client_hooks import ClientInstrumentation, build_request, process_response
from llmtel.instrumentation.stainless.stream_watch import closing, exiting

Where = tuple[tuple[str, tuple[str, ...]], ...]  # (module, class names) pairs


def _classes(*where: tuple[str, tuple[str, ...]]) -> Iterator[tuple[Any, str]]:
    """(module, class name) for each named class this SDK version has."""
    for module_name, names in where:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in names:
            if hasattr(module, name):
                yield module, name


class SdkInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    sdk: str = ""
    helper_streams: Where = ()
    stream_contexts: Where = ()

    def instrumentation_dependencies(self) -> Collection[str]:
        raise NotImplementedError

    def make_adapter(self) -> Any:
        raise NotImplementedError

    def _instrument(self, **kwargs: Any) -> None:
        from llmtel.instrumentation.bootstrap import configure_for_instrumentor

        try:
            configure_for_instrumentor()  # opentelemetry-instrument, or instrument() alone
        except Exception as exc:
            report_error(f"{self.sdk}.auto_configure", exc)
        scope = processor.SCOPE_PREFIX + self.sdk
        tracer = trace.get_tracer(scope, __version__, kwargs.get("tracer_provider"), schema_url=SCHEMA_URL)
        metrics = metrics_for(scope, kwargs.get("meter_provider"))
        events = GenAIEvents(scope, kwargs.get("logger_provider"))
        base = importlib.import_module(f"{self.sdk}._base_client")
        streaming = importlib.import_module(f"{self.sdk}._streaming")
        raw_types: list[type] = [importlib.import_module(f"{self.sdk}._response").BaseAPIResponse]
        with contextlib.suppress(ImportError):  # the Anthropic SDK has no legacy raw response
            raw_types.append(importlib.import_module(f"{self.sdk}._legacy_response").LegacyAPIResponse)
        ci = ClientInstrumentation(
            self.make_adapter(),
            tracer,
            streaming.Stream,
            streaming.AsyncStream,
            tuple(raw_types),
            streaming.SSEDecoder,
            metrics,
            events,
        )
        self._wrapped: list[tuple[Any, str]] = []
        self._wrap(base, "SyncAPIClient.request", ci.request())
        self._wrap(base, "AsyncAPIClient.request", ci.async_request())
        self._wrap(base, "BaseClient._build_request", build_request)
        self._wrap(base, "SyncAPIClient._process_response", process_response)
        self._wrap(base, "AsyncAPIClient._process_response", process_response)
        self._wrap(streaming, "Stream.close", closing)
        self._wrap(streaming, "AsyncStream.close", closing)
        for module, cls in _classes(*self.helper_streams):
            self._wrap(module, f"{cls}.close", closing)
        streams = (streaming.__name__, ("Stream", "AsyncStream"))
        for module, cls in _classes(streams, *self.helper_streams, *self.stream_contexts):
            for method in ("__exit__", "__aexit__"):
                if method in vars(getattr(module, cls)):
                    self._wrap(module, f"{cls}.{method}", exiting)
        self.after_instrument(base)

    def _wrap(self, module: Any, name: str, wrapper: Any) -> None:
        wrap_function_wrapper(module, name, wrapper)
        owner_name, attr = name.rsplit(".", 1)
        self._wrapped.append((getattr(module, owner_name), attr))

    def after_instrument(self, base: Any) -> None:
        """SDK-specific extras (the Anthropic SDK's own tracing is switched off here)."""

    def before_uninstrument(self) -> None:
        """Undo ``after_instrument``."""

    def _uninstrument(self, **kwargs: Any) -> None:
        self.before_uninstrument()
        for owner, attr in reversed(getattr(self, "_wrapped", [])):
            unwrap(owner, attr)
        self._wrapped = []
