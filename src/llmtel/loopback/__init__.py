"""A loopback HTTP server that answers like the OpenAI and Anthropic APIs (JSON and server-sent
events, with faults on demand), and reply builders in their wire formats: for trying llmtel
without keys or network (the examples, the demo), for tests and for benchmarks.

    from llmtel.loopback import ProviderServer, openai_replies
    with ProviderServer() as server:
        server.expect("/v1/chat/completions", openai_replies.chat("Hello"))
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="loopback")
"""

from llmtel.loopback.clients import clients, use_real_apis
from llmtel.loopback.server import ProviderServer, Received, Reply

__all__ = ["ProviderServer", "Received", "Reply", "clients", "use_real_apis"]
