"""``import llmtel.instrumentation.auto`` configures llmtel from the environment, nothing else needed."""

from .bootstrap import configure

handle = configure()
