"""The settings and sinks in force, swapped as a whole by ``configure()``.

Hot paths read ``runtime.active`` once per call; replacing it is atomic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import Settings
from .pricing import PriceTable, load_prices
from .sinks import PayloadSink, TraceSink


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    payload_sink: PayloadSink | None = None
    trace_sink: TraceSink | None = None
    prices: PriceTable = field(default_factory=load_prices)


active = Runtime(Settings())


def install(new: Runtime) -> None:
    global active
    active = new
