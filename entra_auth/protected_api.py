"""Calling a protected API with a bearer token: one helper for every hop.

Used by the web tier (its own API tier, with the user's token) and by the API
tier (the downstream, with the on-behalf-of token). It owns what each call
needs: the base URL, the shared HTTP client (timeouts, trusted CAs), retries
with backoff on 429/5xx (honouring a short ``Retry-After``), and the mapping
of answers to typed errors:

* ``401`` with ``error="insufficient_claims"`` (a Conditional Access / CAE
  claims challenge) → ``InteractionRequired(claims=...)``;
* other ``401`` → ``InteractionRequired`` (the token was refused: sign in again);
* unreachable, or still 429/5xx after the retries → ``DownstreamUnavailable``.

Other answers (2xx, 400, 403, 404) go back to the caller, who knows what they mean.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time
from typing import Any, Protocol

import requests

from .errors import DownstreamUnavailable, InteractionRequired

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 1.0  # longer waits are the caller's 503, not a hung page
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_PARAM = re.compile(r'([A-Za-z_]+)="([^"]*)"')


def parse_bearer_challenge(header: str) -> dict[str, str]:
    """The auth-params of a ``WWW-Authenticate: Bearer ...`` header (RFC 6750 §3)."""
    if not header.lower().startswith("bearer"):
        return {}
    return {k.lower(): v for k, v in _PARAM.findall(header)}


def decode_claims(value: str) -> str | None:
    """A challenge's ``claims`` value is base64 of a JSON object (Entra, CAE); returns the JSON text."""
    try:
        padded = value + "=" * (-len(value) % 4)
        text = base64.b64decode(padded.encode(), altchars=b"-_" if ("-" in value or "_" in value) else None,
                                validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return text if text.startswith("{") else None


class HttpClient(Protocol):
    """What ``ProtectedApi`` needs of a client: ``requests.Session`` and ``InProcessClient`` both fit."""

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response: ...


class ProtectedApi:
    """A protected API at ``base_url``, called with a bearer token."""

    def __init__(self, base_url: str, http: HttpClient, *, name: str, retries: int = 2, backoff: float = 0.2):
        self.base_url = base_url.rstrip("/")
        self._http = http
        self.name = name  # for messages and logs: "the Orders API", "the downstream API"
        self._retries = retries
        self._backoff = backoff

    def call(self, method: str, path: str, token: str, *, scopes: list[str] | None = None,
             json: Any = None, headers: dict[str, str] | None = None) -> requests.Response:
        url = f"{self.base_url}/{path.lstrip('/')}"
        send_headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", **(headers or {})}
        # Only idempotent calls are retried: a retried POST could place an order twice.
        attempts = self._retries + 1 if method.upper() in IDEMPOTENT else 1
        for attempt in range(attempts):
            try:
                # No redirects: an API never answers one, and a bearer token must not follow it anywhere.
                response = self._http.request(method, url, json=json, headers=send_headers, allow_redirects=False)
            except requests.RequestException as exc:
                log.warning("%s unreachable (%s), attempt %d", self.name, type(exc).__name__, attempt + 1)
                delay = self._delay(attempt, None)
                if attempt == attempts - 1 or delay is None:
                    raise DownstreamUnavailable(f"{self.name} is unreachable") from None
                time.sleep(delay)
                continue
            if response.status_code in RETRY_STATUSES and attempt < attempts - 1:
                delay = self._delay(attempt, response.headers.get("Retry-After"))
                if delay is not None:
                    time.sleep(delay)
                    continue
            break
        if response.status_code in RETRY_STATUSES or 300 <= response.status_code < 400:
            raise DownstreamUnavailable(f"{self.name} answered {response.status_code}")
        if response.status_code == 401:
            challenge = parse_bearer_challenge(response.headers.get("WWW-Authenticate", ""))
            if challenge.get("error") == "insufficient_claims" and challenge.get("claims"):
                raise InteractionRequired("claims challenge", claims=decode_claims(challenge["claims"]), scopes=scopes)
            raise InteractionRequired(f"{self.name} refused the token", scopes=scopes)
        return response

    def _delay(self, attempt: int, retry_after: str | None) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now.

        A ``Retry-After`` longer than ``MAX_RETRY_AFTER_SECONDS`` means the
        service asks for more patience than a page view has: answer 503 at
        once (with our own Retry-After) instead of holding the request, and
        instead of multiplying retries down a chain of services.
        """
        delay = self._backoff * (2 ** attempt)
        if retry_after is not None:
            if not retry_after.strip().isdigit() or float(retry_after) > MAX_RETRY_AFTER_SECONDS:
                return None
            delay = max(delay, float(retry_after))
        return min(delay, MAX_RETRY_AFTER_SECONDS)
