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

Bounded: a browser has one pending sign-in (the cookie holds one key, so a
restart replaces the flow it names instead of adding one), and a flow is at
most ``MAX_FLOW_BYTES``. A client that drops its cookies gets a new key each
time: the per-address limit on sign-in starts (flask_rate_limits.py) bounds
those to the limit times ``FLOW_TTL_SECONDS``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
from dataclasses import asdict, dataclass, field

import redis

from .errors import SignInFailed
from .sealed_records import SEAL_OVERHEAD, RecordSealer

FLOW_TTL_SECONDS = 600  # Entra's authorization codes live ten minutes; a sign-in page left longer starts again
# MSAL's flow with its authorize URL is about 1.4 KB; at most 8 KB more of `next` (2,000 characters,
# safe_next) and 5.4 KB of form drafts (3 fields of 600) fit too. Past it is an oddity or an attack.
MAX_FLOW_BYTES = 16 * 1024
MAX_BROWSER_KEY_CHARS = 100  # token_urlsafe(32) is 43: anything longer is not ours

log = logging.getLogger(__name__)
security_log = logging.getLogger("entra_auth.security")


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


def _encoded(pending: PendingSignIn) -> bytes:
    # UTF-8, not \u escapes: a non-ASCII `next` or draft costs 2-4 bytes a character, not 6-12.
    return json.dumps(asdict(pending), ensure_ascii=False).encode()


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

    def save(self, pending: PendingSignIn, *, replaces: str | None = None) -> str:
        """Store the flow; returns the key for the browser's cookie.

        ``replaces``: the key the browser's sign-in cookie holds now, if any. Its flow goes,
        so a browser restarting sign-in holds one pending flow however often it restarts (the
        new cookie overwrites the old one, whose flow nobody could finish anyway). A fresh key
        each time: a key chosen by the client is never stored.
        """
        data = self._bounded(pending)
        browser_key = secrets.token_urlsafe(32)
        if replaces and len(replaces) <= MAX_BROWSER_KEY_CHARS:
            self._redis.delete(*self._keys(replaces))
        name = self._keys(browser_key)[0]
        self._redis.set(name, self._sealer.seal(name, data), ex=self.ttl)
        return browser_key

    def _bounded(self, pending: PendingSignIn) -> bytes:
        """The stored form, at most ``MAX_FLOW_BYTES`` once sealed: unsent drafts go first, then the return path."""
        limit = MAX_FLOW_BYTES - SEAL_OVERHEAD
        data = _encoded(pending)
        if len(data) > limit and pending.carry:
            log.warning("sign-in flow of %d bytes: the unsent form drafts are not carried through sign-in", len(data))
            pending = dataclasses.replace(pending, carry={})
            data = _encoded(pending)
        if len(data) > limit and pending.next_path != "/":
            pending = dataclasses.replace(pending, next_path="/")  # back home instead, as for an unsafe `next`
            data = _encoded(pending)
        if len(data) > limit:
            raise SignInFailed(f"the sign-in request is too large ({len(data)} bytes)")
        return data

    def take(self, browser_key: str | None) -> PendingSignIn | None:
        """The flow for this browser, removed as it is read (single use); None when absent or expired."""
        if not browser_key or len(browser_key) > MAX_BROWSER_KEY_CHARS:
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
