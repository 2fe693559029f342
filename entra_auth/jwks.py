"""The signing keys of the identity provider, cached per worker.

* fetched from the discovery document's ``jwks_uri``, kept for a day;
* an unknown ``kid`` triggers at most one refetch per ``cooldown`` seconds
  (a flood of forged kids cannot turn into a flood of JWKS requests);
* when a refetch fails, the last known good keys keep serving.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from .errors import IdentityProviderUnavailable

REFRESH_COOLDOWN_SECONDS = 30.0
MAX_AGE_SECONDS = 24 * 3600.0


def _b64_int(value: str) -> int:
    import base64

    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


class JwksCache:
    def __init__(
        self,
        jwks_uri: Callable[[], str],
        http: requests.Session,
        *,
        cooldown: float = REFRESH_COOLDOWN_SECONDS,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._jwks_uri = jwks_uri
        self._http = http
        self._cooldown = cooldown
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None
        self.fetches = 0  # for tests and benchmarks: how often the JWKS was requested

    def key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The public key for ``kid``, refetching (rate-limited) when it is unknown or stale."""
        now = self._clock()
        key = self._keys.get(kid)
        if key is not None and self._fetched_at is not None and now - self._fetched_at < self._max_age:
            return key
        self._refresh(now)
        return self._keys.get(kid)

    def _refresh(self, now: float) -> None:
        with self._lock:
            if self._last_attempt is not None and now - self._last_attempt < self._cooldown:
                if not self._keys and self._fetched_at is None:
                    raise IdentityProviderUnavailable("signing keys unavailable")
                return
            self._last_attempt = now
            try:
                self.fetches += 1
                resp = self._http.get(self._jwks_uri())
                resp.raise_for_status()
                keys = _parse_jwks(resp.json())
            except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
                if self._keys:
                    return  # last known good
                raise IdentityProviderUnavailable("signing keys unavailable") from exc
            except IdentityProviderUnavailable:
                if self._keys:
                    return
                raise
            self._keys, self._fetched_at = keys, now


def _parse_jwks(document: dict) -> dict[str, rsa.RSAPublicKey]:
    keys: dict[str, rsa.RSAPublicKey] = {}
    for jwk in document["keys"]:
        if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig" or not isinstance(jwk.get("kid"), str):
            continue
        keys[jwk["kid"]] = rsa.RSAPublicNumbers(_b64_int(jwk["e"]), _b64_int(jwk["n"])).public_key()
    if not keys:
        raise ValueError("no RSA signing keys in the JWKS")
    return keys
