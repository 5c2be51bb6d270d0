"""A loopback OTLP receiver and the app that exports to it."""
