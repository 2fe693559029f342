"""Records in Redis that only this app can name, read or write: sessions and in-flight sign-ins.

Both are found through a bearer secret the browser holds (a cookie value).
Whoever can read Redis (a backup, a replica, ``MONITOR``) must not learn that
secret, and whoever can write Redis must not be able to make a record the app
believes. So, per record:

* its **name** is ``<prefix>:<HMAC-SHA256(name key, secret)>``: the cookie
  value never appears in Redis, and nobody without the key can compute the name
  a given cookie value looks up (no planting a record for a cookie one chose);
* its **value** is sealed with AES-256-GCM, the record's full name as associated
  data: a record written with another key, or copied from one name to another
  (say, a victim's session moved under the attacker's cookie), fails to open
  and counts as no record.

The keys are derived (HKDF-SHA256, one derivation per purpose and use) from
``TOKEN_CACHE_KEYS``: the same list, the same rotation rule as the token cache
(the first key writes, every key reads), and the same attacker kept out, while
no derived key equals a token-cache key or another purpose's key.

A record written under an older key keeps the name it was written under until
it ends; a lookup asks for every key's name in one round trip.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_FORMAT = b"\x01"  # version byte: AES-256-GCM, 12-byte random nonce, name as associated data
_NONCE_BYTES = 12
SEAL_OVERHEAD = 1 + _NONCE_BYTES + 16  # format byte, nonce, GCM tag: a sealed record's bytes beyond its plaintext


def _derive(master: bytes, purpose: str, use: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"entra_auth/{purpose}/{use}/v1".encode()).derive(master)


def _master_key(key: str | bytes) -> bytes:
    raw = base64.urlsafe_b64decode(key.encode() if isinstance(key, str) else key)
    if len(raw) != 32:
        raise ValueError("TOKEN_CACHE_KEYS must be url-safe base64 encoded 32-byte keys")
    return raw


class RecordSealer:
    """Names and seals the records of one purpose (``session``, ``signin``) under rotating keys."""

    def __init__(self, keys: Iterable[str | bytes], purpose: str):
        masters = [_master_key(k) for k in keys]
        if not masters:
            raise ValueError("at least one key is required")
        self.purpose = purpose
        self._name_keys = [_derive(m, purpose, "name") for m in masters]
        self._seals = [AESGCM(_derive(m, purpose, "seal")) for m in masters]

    def digest(self, secret: str) -> str:
        """The keyed hash of ``secret`` under the writing (first) key."""
        return self._hmac(self._name_keys[0], secret)

    def digests(self, secret: str) -> list[str]:
        """The keyed hashes of ``secret`` under every key, the writing key's first (for lookups)."""
        return [self._hmac(k, secret) for k in self._name_keys]

    @staticmethod
    def _hmac(key: bytes, secret: str) -> str:
        return hmac.new(key, secret.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()

    def seal(self, name: str, plaintext: bytes) -> bytes:
        """``plaintext`` encrypted and authenticated for the Redis key ``name``, with the first key."""
        nonce = os.urandom(_NONCE_BYTES)
        return _FORMAT + nonce + self._seals[0].encrypt(nonce, plaintext, name.encode())

    def open(self, name: str, sealed: bytes) -> bytes | None:
        """The plaintext, or None when no key opens it *for this name* (forged, copied, retired key)."""
        if len(sealed) < 1 + _NONCE_BYTES + 16 or sealed[:1] != _FORMAT:
            return None
        nonce, body, aad = sealed[1:1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES:], name.encode()
        for aead in self._seals:
            try:
                return aead.decrypt(nonce, body, aad)
            except InvalidTag:
                continue
        return None
