"""Entra's refusals of our client credentials, recorded in Redis for operators.

A refusal is seen by one worker (or by the daemon command, another process);
``/readyz`` and ``flask entra check`` run elsewhere. So each refusal is written
to one Redis hash per registration, a field per credential source keyed by
where it is configured (``ENTRA_CLIENT_CREDENTIALS[0]``), expiring with the
time the source is skipped. Only secret-free text goes in: the source's
description (path and thumbprint, never key material), the error and AADSTS
code, and when.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .credentials import CredentialSource

KEY_PREFIX = "credential-refusals:"


def _key(client_id: str) -> str:
    return f"{KEY_PREFIX}{client_id}"


class RefusalRecord:
    """Writes the refusals of one registration's credential sources (``ClientCredential(on_refused=...)``)."""

    def __init__(self, redis_client: Any, client_id: str):
        self._redis = redis_client
        self._client_id = client_id

    def __call__(self, source: CredentialSource, reason: str, skipped_for_seconds: float) -> None:
        now = time.time()
        entry = {"origin": source.origin, "kind": source.kind, "source": source.describe(), "reason": reason,
                 "at": now, "until": now + skipped_for_seconds}
        key = _key(self._client_id)
        with self._redis.pipeline() as pipe:
            pipe.hset(key, source.origin, json.dumps(entry))
            pipe.expire(key, max(1, int(skipped_for_seconds)))
            pipe.execute()


def recent_refusals(redis_client: Any, client_id: str) -> list[dict]:
    """The refusals of ``client_id``'s sources whose skip time has not run out, in configuration order."""
    now = time.time()
    entries = []
    for raw in (redis_client.hgetall(_key(client_id)) or {}).values():
        try:
            entry = json.loads(raw)
        except (TypeError, ValueError):
            continue  # not ours to trust or show
        if isinstance(entry, dict) and float(entry.get("until", 0)) > now:
            entries.append(entry)
    return sorted(entries, key=lambda e: str(e.get("origin", "")))
