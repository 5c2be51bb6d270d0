"""Clients for the examples: the real OpenAI and Anthropic APIs when both OPENAI_API_KEY and
ANTHROPIC_API_KEY are set, otherwise the bundled loopback server (tests/providers), which
answers in the providers' own wire formats so no key or network is needed."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

import anthropic
import openai

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.providers import ProviderServer
from tests.providers import anthropic_fixtures as afx
from tests.providers import openai_fixtures as ofx

__all__ = ["ProviderServer", "afx", "clients", "ofx", "use_real_apis"]


def use_real_apis() -> bool:
    return bool(os.environ.get("OPENAI_API_KEY") and os.environ.get("ANTHROPIC_API_KEY"))


def clients(
    stack: contextlib.ExitStack, script: Callable[[ProviderServer], None]
) -> tuple[openai.OpenAI, anthropic.Anthropic]:
    """Real clients, or clients of a loopback server that ``script`` loaded with replies."""
    if use_real_apis():
        return openai.OpenAI(), anthropic.Anthropic()
    server = stack.enter_context(ProviderServer())
    script(server)
    return (
        openai.OpenAI(base_url=server.url + "/v1", api_key="loopback"),
        anthropic.Anthropic(base_url=server.url, api_key="loopback"),
    )
