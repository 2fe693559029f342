"""The signing keys of the identity provider, cached per worker.

* loaded from the discovery document's ``jwks_uri`` on first use, kept for a day;
* an unknown ``kid`` triggers at most one *refetch* per ``cooldown`` seconds,
  counted from the previous refetch only (not from the first load, unlike
  PyJWKClient: see PITFALLS.md), so a key rotated in right after a worker warmed
  up is picked up at once, while a flood of forged kids cannot turn into a
  flood of JWKS requests;
* when a refetch fails, the last known good keys keep serving, but not for
  ever: once they are past ``max_age`` and no refetch has succeeded for
  ``last_known_good`` seconds more, they are dropped and validation answers 503
  (a key pulled in an emergency rotation must not stay trusted through a long
  outage). The bound counts from the first time stale keys had to serve, as
  Microsoft.IdentityModel counts its last-known-good configuration's lifetime
  (one hour by default, ``DefaultLastKnownGoodConfigurationLifetime``, from its
  first use); an outage longer than that answers 503 rather than trust keys
  nobody has vouched for since;
* a cold worker whose first load fails retries at most once per ``cold_retry``
  seconds;
* ``generation`` changes whenever the published keys change: a kid added or
  removed, or new key material under a kid already known.
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
LAST_KNOWN_GOOD_SECONDS = 3600.0


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
        last_known_good: float = LAST_KNOWN_GOOD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._jwks_uri = jwks_uri
        self._http = http
        self._cooldown = cooldown
        self._cold_retry = cold_retry
        self._max_age = max_age
        self._last_known_good = last_known_good
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._material: dict[str, tuple[int, int]] = {}  # kid -> (n, e): what "the same keys" means
        self._fetched_at: float | None = None  # last successful load
        self._last_refetch: float | None = None  # last refetch for an unknown kid or stale keys
        self._last_cold_attempt: float | None = None
        self._stale_since: float | None = None  # first time keys past max_age had to serve
        self.fetches = 0  # for tests and benchmarks: how often the JWKS was requested
        # Bumped whenever the published keys change (a kid, or its key material) or are forgotten:
        # what was validated with the old keys is validated again (jwt_validation.py keys on it).
        self.generation = 0

    @property
    def loaded(self) -> bool:
        return self._fetched_at is not None

    @property
    def current_generation(self) -> int:
        """``generation`` while the keys are within ``max_age``; -1 once they are due for a refetch, so
        that a validator's remembered tokens go back through ``key()`` (and its last-known-good bound)."""
        fetched_at = self._fetched_at
        if fetched_at is None or self._clock() - fetched_at >= self._max_age:
            return -1
        return self.generation

    def published(self, kid: str) -> rsa.RSAPublicKey | None:
        """The key now held for ``kid``, without loading anything."""
        return self._keys.get(kid)

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
        if self._serving_stale(now):
            raise IdentityProviderUnavailable("signing keys out of date and the identity provider unreachable")
        return self._keys.get(kid)

    def _serving_stale(self, now: float) -> bool:
        """Whether the keys are past ``max_age`` (no refetch worked) *and* past their last-known-good
        time, counted from the first time they served stale; then they are forgotten."""
        with self._lock:
            if self._fetched_at is None or now - self._fetched_at < self._max_age:
                return False
            if self._stale_since is None:
                self._stale_since = now
            if now - self._stale_since < self._last_known_good:
                return False
            # Forgotten: the next use loads them as a cold worker does (rate-limited by cold_retry).
            self._keys, self._material, self._fetched_at, self._stale_since = {}, {}, None, None
            self._last_cold_attempt = now
            self.generation += 1
            return True

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
        material = {kid: (key.public_numbers().n, key.public_numbers().e) for kid, key in keys.items()}
        if material != self._material:
            self.generation += 1
        self._keys, self._material, self._fetched_at, self._stale_since = keys, material, now, None

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
