"""The settings and sinks in force, swapped as a whole by ``configure()``.

Hot paths read ``runtime.active`` once per call; replacing it is atomic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import Settings
from .pricing import PriceTable, load_prices

if TYPE_CHECKING:  # the sinks build rows, which read the runtime: no import cycle at run time
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
