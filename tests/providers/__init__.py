"""A loopback server that speaks the OpenAI and Anthropic wire formats, for tests, benchmarks and examples."""

from .server import ProviderServer, Reply

__all__ = ["ProviderServer", "Reply"]
