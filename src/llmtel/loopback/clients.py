"""Clients for examples and demos: the real OpenAI and Anthropic APIs when both OPENAI_API_KEY and
ANTHROPIC_API_KEY are set, otherwise a loopback server that answers in their wire formats, so
no key or network is needed."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

from llmtel.loopback.server import ProviderServer


def use_real_apis() -> bool:
    return bool(os.environ.get("OPENAI_API_KEY") and os.environ.get("ANTHROPIC_API_KEY"))


def clients(stack: contextlib.ExitStack[Any], script: Callable[[ProviderServer], None]) -> tuple[Any, Any]:
    """``(openai.OpenAI, anthropic.Anthropic)``: real ones, or clients of a loopback server that
    ``script`` loaded with replies (the server stops when ``stack`` closes)."""
    import anthropic
    import openai

    if use_real_apis():
        return openai.OpenAI(), anthropic.Anthropic()
    server = stack.enter_context(ProviderServer())
    script(server)
    return (
        openai.OpenAI(base_url=server.url + "/v1", api_key="loopback"),
        anthropic.Anthropic(base_url=server.url, api_key="loopback"),
    )
