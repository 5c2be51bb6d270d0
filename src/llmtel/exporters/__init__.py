"""Where llmtel's data goes: OTLP setup from the standard env, the ClickHouse store, the CLI."""
