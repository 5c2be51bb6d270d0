"""Attribute, event and metric names llmtel emits, in one place so docs and code agree.

GenAI names follow the OpenTelemetry GenAI semantic conventions; ``llmtel.*`` names are ours.
"""

from __future__ import annotations

from typing import Final

SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.37.0"  # the conventions' version: gen_ai.provider.name

# GenAI semantic conventions (spans)
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
# OpenAI's refinements of the GenAI conventions
OPENAI_API_TYPE: Final = "openai.api.type"
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = "openai.response.system_fingerprint"

# GenAI metrics
METRIC_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
METRIC_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
METRIC_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
# Response attributes OpenAI's refinements of the duration and token usage metrics add, which
# the time to first chunk does not define
NOT_ON_FIRST_CHUNK: Final = (OPENAI_RESPONSE_SERVICE_TIER, OPENAI_RESPONSE_SYSTEM_FINGERPRINT)

# llmtel context attributes (stamped at span start so samplers can use them)
LLMTEL_AGENT_ID: Final = "llmtel.agent_id"
LLMTEL_RUN_ID: Final = "llmtel.run_id"
LLMTEL_STEP_ID: Final = "llmtel.step_id"
LLMTEL_CALL_TYPE: Final = "llmtel.call_type"
LLMTEL_ORG_ID: Final = "llmtel.org_id"
LLMTEL_USER_ID: Final = "llmtel.user_id"
LLMTEL_TAGS: Final = "llmtel.tags"
LLMTEL_EXTRA_PREFIX: Final = "llmtel.extra."

# llmtel span attributes
PARAMETER_PREFIX: Final = "parameter."
RETURN_VALUE: Final = "return.value"
# What OTLP viewers read for an app span: the semantic conventions' session and user, and the
# OpenInference names Arize Phoenix (and Langfuse) show a span's input, output and kind by
SESSION_ID: Final = "session.id"
USER_ID: Final = "user.id"
INPUT_VALUE: Final = "input.value"
INPUT_MIME_TYPE: Final = "input.mime_type"
OUTPUT_VALUE: Final = "output.value"
OUTPUT_MIME_TYPE: Final = "output.mime_type"
SPAN_KIND: Final = "openinference.span.kind"
SPAN_KINDS: Final = frozenset(
    {"chain", "tool", "agent", "retriever", "embedding", "reranker", "guardrail", "evaluator"}
)
REF_SUFFIX: Final = "_ref"
LLMTEL_CANCELLED: Final = "llmtel.cancelled"
LLMTEL_CLOSED_EARLY: Final = "llmtel.closed_early"
LLMTEL_DROPPED_ATTRIBUTES: Final = "llmtel.dropped_attributes"
LLMTEL_STREAM_INCOMPLETE: Final = "llmtel.stream.incomplete"
LLMTEL_RETRY_COUNT: Final = "llmtel.retry_count"

# Where an offloaded payload lives
PAYLOAD_REF_PREFIX: Final = "llmtel://llm_payloads/"
