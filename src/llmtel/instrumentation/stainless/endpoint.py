"""One provider endpoint: its ``server.*`` attributes, its GenAI metric attribute sets, instruments and events."""

from __future__ import annotations

from typing import Final

from opentelemetry.util.types import AttributeValue

from llmtel.instrumentation import genai_metrics, semconv
from llmtel.instrumentation.genai_events import GenAIEvents

_SetKey = tuple[str, str | None, str | None, str | None, tuple[tuple[str, AttributeValue], ...]]


class Endpoint:
    """One provider endpoint's ``server.*`` span attributes, and the GenAI metric attribute sets
    seen for it. Each set is built once and shared, as (name, value) pairs: a call's
    measurements wait for the next metric collection, and a tuple of plain values is one the
    garbage collector stops tracking (a dict, even one of strings, keeps its tuple tracked)."""

    __slots__ = ("_metric_sets", "attributes", "events", "metrics", "provider")
    MAX_SETS: Final = 1024

    def __init__(
        self,
        provider: str,
        attributes: dict[str, AttributeValue],
        metrics: genai_metrics.GenAIMetrics,
        events: GenAIEvents,
    ) -> None:
        self.provider = provider
        self.attributes = attributes
        self.metrics = metrics  # where its calls' measurements go (the instrumentor's meter provider)
        self.events = events  # and their GenAI events (its logger provider)
        self._metric_sets: dict[_SetKey, genai_metrics.AttributePairs] = {}

    def metric_attributes(
        self,
        operation: str,
        request_model: str | None,
        response_model: str | None,
        error_type: str | None,
        response_attributes: tuple[tuple[str, AttributeValue], ...],
    ) -> genai_metrics.AttributePairs:
        """The attribute set of a call's measurements, with ``response_attributes`` (the provider's
        own, see LLMCall, and the request's that metrics carry), which the recorder leaves off the
        time to first chunk (semconv.NOT_ON_FIRST_CHUNK)."""
        key = (operation, request_model, response_model, error_type, response_attributes)
        found = self._metric_sets.get(key)
        if found is None:
            pairs: dict[str, AttributeValue] = {
                semconv.GEN_AI_OPERATION_NAME: operation,
                semconv.GEN_AI_PROVIDER_NAME: self.provider,
            }
            pairs.update(self.attributes)
            for name, value in (
                (semconv.GEN_AI_REQUEST_MODEL, request_model),
                (semconv.GEN_AI_RESPONSE_MODEL, response_model),
                (semconv.ERROR_TYPE, error_type),
            ):
                if value:
                    pairs[name] = value
            pairs.update(response_attributes)
            if len(self._metric_sets) >= self.MAX_SETS:  # many models or errors: start over, stay bounded
                self._metric_sets.clear()
            found = self._metric_sets[key] = tuple(pairs.items())
        return found
