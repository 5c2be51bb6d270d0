"""Helpers for the ClickHouse store tests."""
