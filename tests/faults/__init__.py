"""Fault suite with real processes: the hub as a subprocess, its own Mosquitto, PostgreSQL."""
