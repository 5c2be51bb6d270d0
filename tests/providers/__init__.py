"""A loopback server that speaks the OpenAI and Anthropic wire formats, for tests, benchmarks and examples."""

from .server import ProviderServer, Received, Reply

__all__ = ["ProviderServer", "Received", "Reply"]
