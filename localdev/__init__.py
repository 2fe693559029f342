"""Laptop-only tooling: the embedded Redis server and the one-command local stack."""
