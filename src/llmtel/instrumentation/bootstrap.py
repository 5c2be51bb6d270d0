"""``configure()``: one call (or none, via ``llmtel.instrumentation.auto``) sets llmtel up from env.

It reuses an SDK TracerProvider the app already set, or creates one with the exporters
the standard ``OTEL_*`` variables ask for; adds the ProviderTraceProcessor and its store;
and instruments whichever provider SDKs are installed. Calling it again returns the same
handle.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import FrameType
from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from wrapt import register_post_import_hook

from llmtel.instrumentation import active, budget
from llmtel.instrumentation.config import (
    INSTRUMENTORS,
    ConfigError,
    Settings,
    content_settings,
    redacted_url,
    store_scheme,
    unknown_variables,
)
from llmtel.instrumentation.pricing import load_prices
from llmtel.instrumentation.processor import ProviderTraceProcessor
from llmtel.instrumentation.processor import wanted as processor_wanted
from llmtel.instrumentation.selftelemetry import logger, report_error
from llmtel.instrumentation.sinks import PayloadSink, SpanSink, TraceSink

_lock = threading.Lock()
_handle: Handle | None = None


@dataclass
class Handle:
    """What ``configure()`` set up; ``shutdown()`` flushes spans, metrics and the store."""

    settings: Settings
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    logger_provider: LoggerProvider | None = None  # made for the GenAI events
    processor: ProviderTraceProcessor | None = None
    sink: TraceSink | None = None
    instrumentors: list[Any] = field(default_factory=list)
    owns_tracer_provider: bool = False
    by_instrumentor: bool = False  # made by an instrumentor's instrument(), not by the app

    def flush(self, timeout: float | None = None) -> bool:
        """Export finished spans and write queued provider traces now."""
        ok = True
        millis = int((timeout if timeout is not None else self.settings.shutdown_timeout_s) * 1000)
        if self.tracer_provider is not None:
            ok = self.tracer_provider.force_flush(millis) and ok
        if self.meter_provider is not None:
            ok = self.meter_provider.force_flush(millis) and ok
        if self.logger_provider is not None:
            ok = self.logger_provider.force_flush(millis) and ok
        return ok

    def shutdown(self) -> None:
        """Uninstrument, flush and close everything ``configure()`` created, all within one
        deadline (LLMTEL_SHUTDOWN_TIMEOUT): the store's writer, the span flush and the metrics run
        side by side, and what still hangs at the deadline is left behind (the writer spools what
        it could not store). The same for atexit and SIGTERM. Idempotent."""
        global _handle
        deadline = time.monotonic() + self.settings.shutdown_timeout_s
        for instrumentor in self.instrumentors:
            try:
                instrumentor.uninstrument()
            except Exception as exc:
                report_error("shutdown.uninstrument", exc)
        self.instrumentors.clear()

        def millis() -> int:
            return max(0, int((deadline - time.monotonic()) * 1000))

        steps: list[tuple[str, Callable[[], object]]] = []
        processor, tracer_provider, meter_provider = self.processor, self.tracer_provider, self.meter_provider
        if processor is not None:  # its writes stop early enough to spool what is left by the deadline
            spool_time = min(1.0, self.settings.shutdown_timeout_s / 5)
            steps.append(("store", lambda: processor.shutdown(max(0.0, millis() / 1000 - spool_time))))
        if tracer_provider is not None:
            spans = (
                tracer_provider.shutdown if self.owns_tracer_provider else lambda: tracer_provider.force_flush(millis())
            )
            steps.append(("spans", spans))
        if meter_provider is not None:
            steps.append(("metrics", lambda: meter_provider.shutdown(timeout_millis=millis())))
        if self.logger_provider is not None:
            steps.append(("events", self.logger_provider.shutdown))
        self.processor = self.tracer_provider = self.meter_provider = None  # a second call has nothing to do
        self.logger_provider = None
        threads = [
            threading.Thread(target=_step, args=step, name=f"llmtel-shutdown-{step[0]}", daemon=True) for step in steps
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        late = [t.name.rsplit("-", 1)[1] for t in threads if t.is_alive()]
        if late:
            logger.warning(
                "llmtel: shutdown passed its %gs deadline (LLMTEL_SHUTDOWN_TIMEOUT) waiting for %s; left behind",
                self.settings.shutdown_timeout_s,
                ", ".join(late),
            )
        with _lock:
            if _handle is self:
                _handle = None


def _step(name: str, fn: Callable[[], object]) -> None:
    try:
        fn()
    except Exception as exc:
        report_error(f"shutdown.{name}", exc)


def _tracer_provider(settings: Settings) -> tuple[TracerProvider, bool]:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current, False
    from llmtel.exporters.otlp import span_exporters

    exporters = span_exporters(console=settings.console)
    attrs = {"service.name": settings.service_name} if settings.service_name else {}
    # Shut down by the handle at exit, within its one deadline (the SDK's own exit hook would
    # give each span processor 30 s of its own first).
    provider = TracerProvider(resource=Resource.create(attrs), shutdown_on_exit=False)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider, True


def _meter_provider() -> MeterProvider | None:
    if isinstance(metrics.get_meter_provider(), MeterProvider):
        return None
    from llmtel.exporters.otlp import metric_exporters

    exporters = metric_exporters()
    if not exporters:
        return None
    provider = MeterProvider(metric_readers=[PeriodicExportingMetricReader(e) for e in exporters])
    metrics.set_meter_provider(provider)
    return provider


def _logger_provider(settings: Settings) -> LoggerProvider | None:
    """A logger provider for the GenAI events, when they are on, the app set none, and the
    environment names a log exporter (``OTEL_LOGS_EXPORTER``, an OTLP endpoint, the console)."""
    if not settings.emit_events or isinstance(_logs.get_logger_provider(), LoggerProvider):
        return None
    from llmtel.exporters.otlp import log_exporters

    exporters = log_exporters(console=settings.console)
    if not exporters:
        return None
    attrs = {"service.name": settings.service_name} if settings.service_name else {}
    provider = LoggerProvider(resource=Resource.create(attrs), shutdown_on_exit=False)
    for exporter in exporters:
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    _logs.set_logger_provider(provider)
    return provider


def _instrument(settings: Settings, provider: TracerProvider) -> list[Any]:
    """Instrument each SDK in ``settings.instrument`` that is installed, when the app imports it:
    an SDK already imported is instrumented now, another on its import (so an OpenAI-only app
    never imports the Anthropic SDK); those not installed are skipped."""
    done: list[Any] = []
    for name in settings.instrument:
        if importlib.util.find_spec(name) is None:
            continue
        if name in sys.modules:
            _instrument_one(name, provider, done)
        else:
            register_post_import_hook(_on_import(name, provider, done), name)
    return done


def _on_import(name: str, provider: TracerProvider, done: list[Any]) -> Callable[[Any], None]:
    def instrument(module: Any) -> None:
        if _handle is not None and _handle.instrumentors is done:  # not after its handle shut down
            _instrument_one(name, provider, done)

    return instrument


def _instrument_one(name: str, provider: TracerProvider, done: list[Any]) -> None:
    try:
        module_name, class_name = INSTRUMENTORS[name].split(":")
        instrumentor = getattr(importlib.import_module(module_name), class_name)()
        instrumentor.instrument(tracer_provider=provider)
        done.append(instrumentor)
    except Exception as exc:
        report_error(f"instrument.{name}", exc)


def _install_sigterm_flush(handle: Handle) -> None:
    """On SIGTERM, flush within the deadline, then die as SIGTERM would have. Only when the app
    left SIGTERM at its default and we are on the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        try:
            handle.shutdown()
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)


def configure_for_instrumentor() -> None:
    """An instrumentor's ``instrument()`` when the app did not call ``configure()``: configure
    from the environment (``instrument()`` alone is a complete instrumentation). Called again
    (instrument after uninstrument), the content-capture and event variables are read anew, as the
    official instrumentors read them at each ``instrument()``; an app's own ``configure()`` is left alone."""
    if _handle is None:
        if not processor_wanted():  # a processor the app installed itself counts as configured
            configure(instrument=())
            if _handle is not None:
                _handle.by_instrumentor = True
    elif _handle.by_instrumentor:
        current = active.setup
        settings = replace(current.settings, **content_settings(os.environ))
        if settings != current.settings:
            active.install(replace(current, settings=settings))
            _handle.settings = settings


def configure(**overrides: Any) -> Handle:
    """Set llmtel up from the environment; keyword arguments override it (see docs/configuration.md).

    Raises :class:`ConfigError` for invalid settings, once, here, and nowhere later.
    """
    global _handle
    with _lock:
        if _handle is not None:
            if overrides:
                logger.warning("llmtel: configure() was already called; new arguments are ignored")
            return _handle
        settings = Settings.from_env(**overrides)
        for line in unknown_variables(os.environ):
            logger.warning(line)
        try:
            prices = load_prices(settings.prices_file)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            problem = f"cannot be read as a price table: {exc}"
            raise ConfigError(f"LLMTEL_PRICES_FILE={settings.prices_file!r} {problem}") from None
        if settings.sdk_disabled:
            active.install(active.Setup(settings, prices=prices))
            _handle = Handle(settings)
            return _handle
        provider, owned = _tracer_provider(settings)
        meter_provider = _meter_provider()
        logger_provider = _logger_provider(settings)
        from llmtel.exporters.stores import open_store  # the one place instrumentation reaches exporters

        sink = open_store(settings)
        spans = settings.store_spans if settings.store_spans is not None else store_scheme(settings.store_url) == "chdb"
        active.install(
            active.Setup(
                settings,
                payload_sink=sink if isinstance(sink, PayloadSink) else None,
                trace_sink=sink,
                span_sink=sink if spans and isinstance(sink, SpanSink) else None,
                prices=prices,
            )
        )
        budget.forget_offered()
        processor = ProviderTraceProcessor(sink)
        provider.add_span_processor(processor)
        handle = Handle(
            settings, provider, meter_provider, logger_provider, processor, sink, owns_tracer_provider=owned
        )
        handle.instrumentors = _instrument(settings, provider)
        _install_sigterm_flush(handle)
        atexit.register(handle.shutdown)  # after the writers' own exit flush was registered: runs first
        _handle = handle
        logging.getLogger("llmtel").debug("llmtel configured: store=%s", redacted_url(settings.store_url))
        return handle
