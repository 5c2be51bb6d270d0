"""``import llmtel.instrumentation.auto`` configures llmtel from the environment, nothing else needed."""

from llmtel.instrumentation.bootstrap import configure

handle = configure()
