"""OpenID Connect discovery for the configured authority, fetched once and kept.

Relying parties must not refetch metadata per request; a failed refresh keeps
the last good document, and the refresh is tried again after a cooldown, not by
the next caller: every validation reads the document (its issuer, authorities.py),
and each attempt holds the lock for up to the HTTP timeout.
"""

from __future__ import annotations

import threading
import time

import requests

from .errors import IdentityProviderUnavailable


class MetadataUnavailable(IdentityProviderUnavailable):
    """The identity provider's discovery document could not be loaded."""


REFRESH_RETRY_SECONDS = 30.0  # as the JWKS refetch cooldown (jwks.py)


class OidcMetadata:
    def __init__(self, authority: str, http: requests.Session, *, max_age: float = 24 * 3600,
                 discovery_url: str | None = None, retry_after_failure: float = REFRESH_RETRY_SECONDS):
        self.authority = authority.rstrip("/")
        # Where MSAL reads it too (Authority.discovery_url): an oidc authority has no /v2.0 of its own.
        self.url = discovery_url or f"{self.authority}/v2.0/.well-known/openid-configuration"
        self._http = http
        self._max_age = max_age
        self._lock = threading.Lock()
        self._document: dict | None = None
        self._fetched_at = 0.0
        self._retry_after_failure = retry_after_failure
        self._retry_at = 0.0  # after a failed refresh: the last good document serves until then

    @property
    def loaded(self) -> bool:
        return self._document is not None

    def get(self) -> dict:
        """The discovery document; fetched on first use and refreshed daily."""
        document = self._document
        if document is not None and self._usable(time.monotonic()):
            return document
        with self._lock:
            if self._document is not None and self._usable(time.monotonic()):
                return self._document
            try:
                resp = self._http.get(self.url)
                resp.raise_for_status()
                fetched = resp.json()
                if not isinstance(fetched, dict) or "issuer" not in fetched or "jwks_uri" not in fetched:
                    raise ValueError("not an OpenID Connect discovery document")
            except (requests.RequestException, ValueError) as exc:
                if self._document is not None:
                    self._retry_at = time.monotonic() + self._retry_after_failure
                    return self._document  # last known good
                raise MetadataUnavailable("identity provider metadata unavailable") from exc
            self._document, self._fetched_at = fetched, time.monotonic()
            return fetched

    def _usable(self, now: float) -> bool:
        """Fresh, or a failed refresh is cooling down (the last good document serves meanwhile)."""
        return now - self._fetched_at < self._max_age or now < self._retry_at
