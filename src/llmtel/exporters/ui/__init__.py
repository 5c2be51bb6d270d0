"""``llmtel ui``: the local web page over the store (see ``server``)."""
