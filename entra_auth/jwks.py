"""The signing keys of the identity provider, cached per worker.

* loaded from the discovery document's ``jwks_uri`` on first use, kept for a day;
* an unknown ``kid`` triggers at most one *refetch* per ``cooldown`` seconds,
  counted from the previous refetch only (not from the first load, unlike
  PyJWKClient: see PITFALLS.md), so a key rotated in right after a worker warmed
  up is picked up at once, while a flood of forged kids cannot turn into a
  flood of JWKS requests;
* when a refetch fails, the last known good keys keep serving; a cold worker
  whose first load fails retries at most once per ``cold_retry`` seconds.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable

import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from .errors import IdentityProviderUnavailable

REFRESH_COOLDOWN_SECONDS = 30.0
COLD_RETRY_SECONDS = 5.0
MAX_AGE_SECONDS = 24 * 3600.0


def _b64_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


class JwksCache:
    def __init__(
        self,
        jwks_uri: Callable[[], str],
        http: requests.Session,
        *,
        cooldown: float = REFRESH_COOLDOWN_SECONDS,
        cold_retry: float = COLD_RETRY_SECONDS,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._jwks_uri = jwks_uri
        self._http = http
        self._cooldown = cooldown
        self._cold_retry = cold_retry
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._fetched_at: float | None = None  # last successful load
        self._last_refetch: float | None = None  # last refetch for an unknown kid or stale keys
        self._last_cold_attempt: float | None = None
        self.fetches = 0  # for tests and benchmarks: how often the JWKS was requested
        # Bumped whenever the set of keys changes: what was validated with the old set is validated again.
        self.generation = 0

    @property
    def loaded(self) -> bool:
        return self._fetched_at is not None

    def key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The public key for ``kid``; loads, or refetches (rate-limited) when it is unknown or stale."""
        now = self._clock()
        fetched_at = self._fetched_at
        if fetched_at is None:
            if self._load_cold(now):
                return self._keys.get(kid)  # just loaded: an unknown kid now is unknown to the provider too
        elif now - fetched_at < self._max_age and kid in self._keys:
            return self._keys[kid]
        self._refetch(now)
        return self._keys.get(kid)

    def _load_cold(self, now: float) -> bool:
        """First load; True when this call loaded the keys. Raises while none can be had."""
        with self._lock:
            if self._fetched_at is not None:
                return False  # another thread loaded them meanwhile
            if self._last_cold_attempt is not None and now - self._last_cold_attempt < self._cold_retry:
                raise IdentityProviderUnavailable("signing keys unavailable")
            self._last_cold_attempt = now
            self._install(self._fetch(), now)
            return True

    def _refetch(self, now: float) -> None:
        with self._lock:
            if self._last_refetch is not None and now - self._last_refetch < self._cooldown:
                return
            self._last_refetch = now
            try:
                keys = self._fetch()
            except IdentityProviderUnavailable:
                return  # last known good
            self._install(keys, now)

    def _install(self, keys: dict[str, rsa.RSAPublicKey], now: float) -> None:
        if keys.keys() != self._keys.keys():
            self.generation += 1
        self._keys, self._fetched_at = keys, now

    def _fetch(self) -> dict[str, rsa.RSAPublicKey]:
        self.fetches += 1
        try:
            resp = self._http.get(self._jwks_uri())
            resp.raise_for_status()
            return _parse_jwks(resp.json())
        except (requests.RequestException, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IdentityProviderUnavailable("signing keys unavailable") from exc


def _parse_jwks(document: dict) -> dict[str, rsa.RSAPublicKey]:
    keys: dict[str, rsa.RSAPublicKey] = {}
    for jwk in document["keys"]:
        if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig" or not isinstance(jwk.get("kid"), str):
            continue
        keys[jwk["kid"]] = rsa.RSAPublicNumbers(_b64_int(jwk["e"]), _b64_int(jwk["n"])).public_key()
    if not keys:
        raise ValueError("no RSA signing keys in the JWKS")
    return keys
