"""GenAI client metrics with the semantic conventions' advised bucket boundaries."""

from __future__ import annotations

from typing import Final

from opentelemetry import metrics

from . import semconv

TOKEN_BUCKETS: Final = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
SECONDS_BUCKETS: Final = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]

_meter = metrics.get_meter("llmtel", "0.1.0")
token_usage = _meter.create_histogram(
    semconv.METRIC_TOKEN_USAGE,
    unit="{token}",
    description="Number of input and output tokens used",
    explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
)
operation_duration = _meter.create_histogram(
    semconv.METRIC_OPERATION_DURATION,
    unit="s",
    description="GenAI operation duration",
    explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
)
time_to_first_chunk = _meter.create_histogram(
    semconv.METRIC_TIME_TO_FIRST_CHUNK,
    unit="s",
    description="Time from the request until the first chunk of a streamed response",
    explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
)
