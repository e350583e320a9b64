"""Shared helpers for tests (MQTT clients, polling)."""
