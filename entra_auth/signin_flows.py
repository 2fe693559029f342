"""In-flight sign-ins, kept in Redis so any worker can finish what another started.

MSAL's auth-code flow dict holds the PKCE verifier, ``state`` and ``nonce``.
It never goes to the browser: the browser gets only a random key, in a short-
lived cookie that reaches the cross-site ``form_post`` callback, which binds
the flow to the browser that started it (a callback delivered to any other
browser finds no flow: login CSRF refused). A flow is taken once (GETDEL), so
a replayed callback finds nothing either.

At rest it is kept like a session (``sealed_records.py``): named by a keyed
hash of the cookie value and sealed for that name, so Redis holds neither the
cookie value nor a readable flow (its PKCE verifier, the session it replaces,
unsent drafts), and a flow written or moved by someone else is no flow.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import asdict, dataclass, field

import redis

from .sealed_records import RecordSealer

security_log = logging.getLogger("entra_auth.security")

FLOW_TTL_SECONDS = 600  # Entra's authorization codes live ten minutes; a sign-in page left longer starts again


@dataclass
class PendingSignIn:
    flow: dict
    next_path: str = "/"
    scopes: list[str] = field(default_factory=list)
    claims: str | None = None  # the claims challenge this sign-in answers, if any
    started_at: float = 0.0
    # Entra's form_post callback is cross-site, so the browser does not send the
    # (SameSite=Lax) session cookie with it: what the callback needs of the
    # session that started the sign-in travels here instead.
    previous_session: str | None = None  # ended at the callback, whoever signs in
    carry: dict = field(default_factory=dict)  # unsent form drafts, restored if the same user comes back


class SignInFlowStore:
    def __init__(self, client: redis.Redis, sealer: RecordSealer, *, prefix: str = "signin",
                 ttl: int = FLOW_TTL_SECONDS):
        self._redis = client
        self._sealer = sealer
        self._prefix = prefix
        self.ttl = ttl

    def _keys(self, browser_key: str) -> list[str]:
        # The cookie value is a bearer secret: Redis sees only its keyed hash (one per key, the writing key's first).
        return [f"{self._prefix}:{digest}" for digest in self._sealer.digests(browser_key)]

    def save(self, pending: PendingSignIn) -> str:
        """Store the flow; returns the key for the browser's cookie."""
        browser_key = secrets.token_urlsafe(32)
        name = self._keys(browser_key)[0]
        self._redis.set(name, self._sealer.seal(name, json.dumps(asdict(pending)).encode()), ex=self.ttl)
        return browser_key

    def take(self, browser_key: str | None) -> PendingSignIn | None:
        """The flow for this browser, removed as it is read (single use); None when absent or expired."""
        if not browser_key or len(browser_key) > 100:
            return None
        for name in self._keys(browser_key):
            raw = self._redis.getdel(name)
            if raw is not None:
                break
        else:
            return None
        plaintext = self._sealer.open(name, raw)
        if plaintext is None:
            security_log.warning("sign-in flow refused (not sealed by this app for this name); treated as none")
            return None
        try:
            return PendingSignIn(**json.loads(plaintext))
        except (ValueError, TypeError):
            return None
