"""The setup in force (settings, sinks, prices), swapped as a whole by ``configure()``.

Hot paths read ``active.setup`` once per call; replacing it is one atomic assignment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from llmtel.instrumentation.config import Settings
from llmtel.instrumentation.pricing import PriceTable, load_prices

if TYPE_CHECKING:  # the sinks build rows, which read the setup: no import cycle at run time
    from llmtel.instrumentation.sinks import PayloadSink, SpanSink, TraceSink


@dataclass(frozen=True, slots=True)
class Setup:
    settings: Settings
    payload_sink: PayloadSink | None = None
    trace_sink: TraceSink | None = None
    span_sink: SpanSink | None = None  # LLMTEL_STORE_SPANS: every finished span, to otel_traces
    prices: PriceTable = field(default_factory=load_prices)


setup = Setup(Settings())


def install(new: Setup) -> None:
    global setup
    setup = new
