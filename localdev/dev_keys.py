"""Development and test keys: never used in production (TOKEN_CACHE_KEYS is required there)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet


def development_token_cache_key(instance: Path, *, persist: bool) -> str:
    """A Fernet key for the token cache: kept in ``instance/`` in development, so a
    restart of ``./run`` keeps everyone's tokens; fresh per app in tests."""
    if not persist:
        return Fernet.generate_key().decode()
    path = instance / "token-cache.key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key())
    return path.read_text().strip()
