"""Readers and writers of Earth-observation products (sensor specifics live here)."""
