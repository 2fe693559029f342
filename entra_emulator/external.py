"""Where an External ID (customer, CIAM) tenant is served, whom its tokens name as issuer, and the
state of customers signing up to it.

Entra serves an external tenant on its own host and issues its tokens under yet another one
(learn.microsoft.com/entra/identity-platform/security-tokens, "Token endpoints and issuers"):

    authority   https://<subdomain>.ciamlogin.com/<tenant id or <subdomain>.onmicrosoft.com>
    issuer      https://<tenant id>.ciamlogin.com/<tenant id>/v2.0

The emulator keeps that shape on loopback. The authority must be fetched by MSAL Python, whose
resolver knows ``localhost`` but not ``*.localhost``; the issuer host is never fetched. So:

    workforce   https://127.0.0.1:<port>/<tenant>                (as before)
    authority   https://localhost:<port>/<tenant id or domain>   (an external tenant only)
    issuer      https://<tenant id>.localhost:<port>/<tenant id>/v2.0

The issuer's host is ``<tenant id>.`` + the authority's host, which is also the one relation
MSAL Python (1.39, ``Authority.has_valid_issuer``, case 3b) accepts for an ``oidc_authority``
whose discovery names a different issuer host.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

EXTERNAL_AUTHORITY_HOST = "localhost"
KEYS_FOLDER = "signing-keys-external"  # the external tenants' own keys, apart from the workforce ones


@dataclass(frozen=True)
class ExternalHosts:
    """The external tenants' authority and issuer URLs for an emulator at ``workforce_url``."""

    workforce_url: str

    @property
    def _port(self) -> int | None:
        return urlsplit(self.workforce_url).port

    @property
    def workforce_host(self) -> str:
        return (urlsplit(self.workforce_url).hostname or "").lower()

    @property
    def authority_host(self) -> str:
        return EXTERNAL_AUTHORITY_HOST

    def _url(self, host: str) -> str:
        return f"https://{host}:{self._port}" if self._port else f"https://{host}"

    @property
    def authority_url(self) -> str:
        """The external tenants' authority base URL, e.g. ``https://localhost:5443``."""
        return self._url(self.authority_host)

    def issuer(self, tenant_id: str) -> str:
        """``https://<tenant id>.localhost:<port>/<tenant id>/v2.0``."""
        return f"{self._url(f'{tenant_id}.{self.authority_host}')}/{tenant_id}/v2.0"

    def serves(self, request_host: str, *, external: bool) -> bool:
        """Whether a request to ``request_host`` (Host header, port included) may reach a tenant of
        that kind: an external tenant only on its authority host, a workforce tenant (or
        organizations/common) only on the workforce host, as Entra keeps them apart."""
        host = request_host.rsplit(":", 1)[0].strip("[]").lower() if request_host else ""
        if self.authority_host == self.workforce_host:  # started as --host localhost: one host for both
            return host == self.authority_host
        return host == (self.authority_host if external else self.workforce_host)


# -- self-service sign-up ------------------------------------------------------------------------
SIGN_UP_CODE_LIFETIME = 600  # seconds a one-time passcode stays usable
SIGN_UP_CODE_ATTEMPTS = 3  # wrong codes before the sign-up must start again
OUTBOX_LIMIT = 200


@dataclass
class PendingSignUp:
    """A new customer between "send me a code" and entering it."""

    request_id: str  # the authorization request the sign-up continues
    segment: str
    email: str
    name: str
    code_digest: bytes
    expires: float
    attempts_left: int = SIGN_UP_CODE_ATTEMPTS


@dataclass
class SignUps:
    """Sign-ups under way, and the emails the emulator "sent" (it sends none: a test or a developer
    reads the one-time passcode from ``/_emulator/outbox``)."""

    pending: dict[str, PendingSignUp] = field(default_factory=dict)
    outbox: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, request_id: str, segment: str, email: str, name: str) -> str:
        """Send a one-time passcode to ``email``; returns the sign-up's id."""
        code = f"{secrets.randbelow(10**8):08d}"
        sign_up_id = secrets.token_urlsafe(24)
        with self.lock:
            self.pending[sign_up_id] = PendingSignUp(request_id, segment, email, name, _digest(code),
                                                     time.time() + SIGN_UP_CODE_LIFETIME)
            self.outbox.append({"to": email, "subject": "Your account verification code", "code": code,
                                "sent_at": int(time.time())})
            del self.outbox[:-OUTBOX_LIMIT]
        return sign_up_id

    def verify(self, sign_up_id: str, code: str) -> tuple[PendingSignUp | None, str]:
        """The sign-up the code proves (taken), or ``None`` and why not: ``unknown``, ``expired``,
        ``wrong`` (attempts remain) or ``exhausted``."""
        with self.lock:
            pending = self.pending.get(sign_up_id)
            if pending is None:
                return None, "unknown"
            if time.time() > pending.expires:
                del self.pending[sign_up_id]
                return None, "expired"
            if hmac.compare_digest(pending.code_digest, _digest(code.strip())):
                del self.pending[sign_up_id]
                return pending, "ok"
            pending.attempts_left -= 1
            if pending.attempts_left <= 0:
                del self.pending[sign_up_id]
                return None, "exhausted"
            return None, "wrong"

    def sent_to(self, email: str) -> list[dict]:
        with self.lock:
            return [m for m in self.outbox if m["to"].lower() == email.lower()]


def _digest(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()
