"""What the app keeps in Redis for a browser, found as the app finds it.

A session or an in-flight sign-in is named by a keyed hash of the cookie value
and sealed for that name (entra_auth/sealed_records.py): tests that look at
Redis compute the name and open the record with the test run's key.
"""

from __future__ import annotations

import json

import msgspec

from entra_auth.sealed_records import RecordSealer
from tests.conftest import TEST_TOKEN_CACHE_KEY

_SESSIONS = RecordSealer([TEST_TOKEN_CACHE_KEY], "session")
_FLOWS = RecordSealer([TEST_TOKEN_CACHE_KEY], "signin")


def session_key(cookie: str, keys: list[str] | None = None) -> str:
    """The Redis key of the session this cookie value names (with the test run's key, or ``keys``)."""
    sealer = RecordSealer(keys, "session") if keys else _SESSIONS
    return f"session:{sealer.digest(cookie)}"


def stored_session(redis_client, key: str | bytes) -> dict | None:
    """The session stored under ``key``, opened (None when absent or not sealed for that name)."""
    key = key.decode() if isinstance(key, bytes) else key
    raw = redis_client.get(key)
    plaintext = None if raw is None else _SESSIONS.open(key, raw)
    return None if plaintext is None else msgspec.msgpack.decode(plaintext)


def signin_key(cookie: str) -> str:
    """The Redis key of the in-flight sign-in this ``__Host-signin`` cookie value names."""
    return f"signin:{_FLOWS.digest(cookie)}"


def stored_flow(redis_client, cookie: str) -> dict | None:
    """The in-flight sign-in the cookie names, opened (None once taken, or when not sealed for its name)."""
    return opened_flow(redis_client, signin_key(cookie))


def opened_flow(redis_client, key: str | bytes) -> dict | None:
    """The in-flight sign-in stored under ``key``, opened (None when absent or not sealed for that name)."""
    key = key.decode() if isinstance(key, bytes) else key
    raw = redis_client.get(key)
    plaintext = None if raw is None else _FLOWS.open(key, raw)
    return None if plaintext is None else json.loads(plaintext)
