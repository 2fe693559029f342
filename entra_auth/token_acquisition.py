"""Tokens for the signed-in user: sign-in, silent acquisition, sign-out.

Steady state costs no identity-provider call and no lock: the user's cache
partition is read from Redis and MSAL answers from it through an *offline*
app. Only when MSAL needs the network (an expired access token to refresh, a
new scope) does the request take the partition's lock, re-read the partition
(another worker may have refreshed it meanwhile) and let MSAL refresh, so two
workers never redeem one refresh token twice. Entra keeps a used refresh token
valid, so there a race would cost a redundant refresh and one cache write
overwriting the other; under strict rotation (the emulator's
``single_use_refresh_tokens`` test setting) the loser would be signed out.

What a refresh brings back is checked before anything of it is used or stored
(refreshed_identity.py): its ID token is validated as at sign-in and must name
the signed-in user, and every token it left in the cache must be that user's.
MSAL writes a response into the cache it was given; the cache loaded under the
lock is a private copy until it is saved, so a refused answer is simply never
saved, and the partition whose refresh token produced it is dropped.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msal

from .errors import InteractionRequired, InvalidToken, RefreshedIdentityRefused, SignInFailed
from .id_tokens import IdTokenValidator
from .jwt_validation import ValidatedToken
from .msal_apps import MsalAppFactory, NetworkNeeded
from .msal_errors import error_from_result, msal_call
from .refreshed_identity import check_cache_holds_only, check_same_user
from .token_cache import LeaseLost, PartitionCache, RedisTokenCacheStore

log = logging.getLogger(__name__)

REMEMBER_SECONDS = 60.0
REMEMBER_CAPACITY = 10_000
MSAL_REFRESH_MARGIN_SECONDS = 300  # MSAL treats a token expiring within 5 minutes as expired


@dataclass(frozen=True)
class AcquiredToken:
    access_token: str
    expires_in: int
    refreshed_claims: dict | None = None  # the validated ID-token claims when a refresh brought a new ID token

    def __repr__(self) -> str:  # never the token
        return f"AcquiredToken(expires_in={self.expires_in}, refreshed={self.refreshed_claims is not None})"


@dataclass(frozen=True)
class SignInResult:
    id_token: ValidatedToken
    partition: str  # MSAL home_account_id: "<oid>.<tid>"


def sent_nonce(flow: dict) -> str:
    """The nonce MSAL put on the wire: a SHA-256 of ``flow["nonce"]``, which the ID token echoes."""
    return hashlib.sha256(str(flow["nonce"]).encode("ascii")).hexdigest()


class UserTokens:
    def __init__(self, apps: MsalAppFactory, store: RedisTokenCacheStore, id_tokens: IdTokenValidator):
        self._apps = apps
        self._store = store
        self._id_tokens = id_tokens
        # (partition, scopes) -> (digest of the partition's bytes, valid until, answer): see acquire().
        self._recent: dict[tuple, tuple[bytes, float, AcquiredToken]] = {}

    # -- sign-in ------------------------------------------------------------------------------
    def start_sign_in(self, scopes: list[str], redirect_uri: str, *, claims: str | None = None,
                      prompt: str | None = None, login_hint: str | None = None) -> dict:
        """MSAL's auth-code flow (PKCE S256, state, nonce) with ``response_mode=form_post``."""
        app = self._apps.build()
        return msal_call(lambda: app.initiate_auth_code_flow(
            scopes, redirect_uri=redirect_uri, response_mode="form_post", claims_challenge=claims,
            prompt=prompt, login_hint=login_hint,
        ))

    def finish_sign_in(self, flow: dict, auth_response: dict, scopes: list[str]) -> SignInResult:
        """Redeem the code, validate the ID token, and fold the tokens into the user's partition.

        Nothing is stored until the ID token passed validation: a refused token creates no session
        and leaves no tokens behind.
        """
        fresh = msal.SerializableTokenCache()
        try:
            # A copy per attempt: MSAL pops the flow's claims challenge, and a refused client
            # credential means a second attempt (msal_apps.MsalAppFactory.run).
            result = self._apps.run(fresh, lambda app: msal_call(
                lambda: app.acquire_token_by_auth_code_flow(dict(flow), auth_response)))
        except ValueError:
            # MSAL raises on a state mismatch instead of returning an error (PITFALLS.md).
            raise SignInFailed("state mismatch") from None
        except RuntimeError as exc:
            if "nonce" in str(exc).lower():
                raise SignInFailed("nonce mismatch") from None
            raise
        if "error" in result:
            raise error_from_result(result, scopes=scopes)
        id_token = result.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("no ID token in the token response")
        validated = self._id_tokens.validate(id_token, nonce=sent_nonce(flow))
        partition = f"{validated.claims['oid']}.{validated.claims['tid']}"
        # MSAL keys the account by client_info (uid.utid); Entra's are the oid and tid. Anything
        # else means the response does not describe the user whose ID token we just validated.
        accounts = [a["home_account_id"] for a in fresh.search(msal.TokenCache.CredentialType.ACCOUNT)]
        if accounts != [partition]:
            raise SignInFailed("token response does not match the ID token's user")
        with self._store.locked(partition):
            self._store.merge_into(partition, fresh)
        return SignInResult(validated, partition)

    # -- silent acquisition ------------------------------------------------------------------------
    def acquire(self, partition: str, scopes: list[str], *, signed_in: Mapping[str, Any]) -> AcquiredToken:
        """An access token for ``scopes`` from the user's cache, refreshed when needed.

        ``signed_in``: the claims kept from the user's sign-in (the session's);
        a refresh must answer for that user (``iss``, ``sub``, ``oid``, ``tid``).

        Raises ``InteractionRequired`` when only a sign-in can help (no account,
        refresh token expired or revoked, scope not consented), and
        ``RefreshedIdentityRefused`` when a refresh answered for someone else or
        with an invalid ID token: nothing of it was used or stored, and the
        partition is gone.

        The partition is read from Redis on every call (another worker may have
        refreshed it, or the user signed out). When its bytes are exactly those
        this worker answered from a moment ago, the same answer stands: MSAL would
        find the same token in the same cache, and it is still far from expiry.
        """
        raw = self._store.load_raw(partition)
        digest = hashlib.sha256(raw).digest() if raw is not None else None
        key = (partition, tuple(scopes))
        remembered = self._recent.get(key)
        if remembered is not None and digest is not None and remembered[0] == digest \
                and time.monotonic() < remembered[1]:
            return remembered[2]
        cache = self._store.parse(partition, raw)
        try:
            acquired = self._silent(self._apps.offline(cache), cache, scopes, signed_in)
        except NetworkNeeded:
            pass
        else:
            if digest is not None and not cache.has_state_changed:
                self._remember(key, digest, acquired)
            return acquired
        with self._store.locked(partition) as lease:
            cache = self._store.load(partition)  # private until saved: MSAL writes the refresh's answer here
            try:
                acquired = self._silent(None, cache, scopes, signed_in)
            except RefreshedIdentityRefused:
                # Its refresh token answered for someone else (or with a forged ID token): nothing in
                # the partition can be trusted. Dropped under the lock, before another worker uses it.
                self._store.drop(partition)
                raise
            # Saved only once accepted: an answer that failed (an outage while validating it, too)
            # leaves the partition exactly as it was. Written only while the lease is still ours.
            try:
                self._store.save(cache, lease=lease)
            except LeaseLost:
                # Another worker holds the partition now and may have written newer tokens:
                # ours serve this request only (Entra's refresh tokens survive their use).
                log.warning("a token refresh outlasted its lock; its write was dropped")
            return acquired

    def _silent(self, offline: msal.ConfidentialClientApplication | None, cache: PartitionCache,
                scopes: list[str], signed_in: Mapping[str, Any]) -> AcquiredToken:
        """From the cache through ``offline``, or (``None``) with apps that may refresh at Entra
        (falling back to the next client credential when Entra refuses one: msal_apps.run)."""

        def attempt(app: msal.ConfidentialClientApplication):
            account = next((a for a in app.get_accounts() if a.get("home_account_id") == cache.partition), None)
            if account is None:
                raise InteractionRequired("no cached account", scopes=scopes)
            return msal_call(lambda: app.acquire_token_silent_with_error(scopes, account))

        result = attempt(offline) if offline is not None else self._apps.run(cache, attempt)
        if result is None:
            raise InteractionRequired("no token in the cache", scopes=scopes)
        if "error" in result:
            raise error_from_result(result, scopes=scopes)
        refreshed = None
        if result.get("token_source") == "identity_provider":
            refreshed = self._accept_refresh(result, cache, signed_in)
        return AcquiredToken(result["access_token"], int(result.get("expires_in", 0)), refreshed)

    def _accept_refresh(self, result: dict, cache: PartitionCache, signed_in: Mapping[str, Any]) -> dict | None:
        """The refreshed ID token's validated claims (None when the answer had none); raises
        ``RefreshedIdentityRefused`` for an answer that is not the signed-in user's.

        ``IdentityProviderUnavailable`` (keys cannot be fetched to validate it) passes through:
        an outage, answered 503, and the unvalidated answer is not stored either.
        """
        check_cache_holds_only(cache, cache.partition)
        if "id_token" not in result:
            return None  # OIDC Core 12.2 allows it; the tokens are the user's (checked just above)
        id_token = result["id_token"]
        try:
            if not isinstance(id_token, str):
                raise InvalidToken("not a JWT")
            claims = self._id_tokens.validate(id_token, nonce=None).claims  # as at sign-in; a refresh has no nonce
        except InvalidToken as exc:
            raise RefreshedIdentityRefused(f"the refreshed ID token is invalid ({exc.reason})",
                                           partition=cache.partition) from None
        check_same_user(claims, signed_in, cache.partition)
        return claims  # app roles follow it (a role removed is gone)

    def _remember(self, key: tuple, digest: bytes, acquired: AcquiredToken) -> None:
        # Until MSAL's own refresh margin (5 minutes before expiry) comes near, and never long.
        seconds = min(REMEMBER_SECONDS, acquired.expires_in - MSAL_REFRESH_MARGIN_SECONDS)
        if seconds <= 0:
            return
        if len(self._recent) >= REMEMBER_CAPACITY:
            for stale in list(self._recent)[: REMEMBER_CAPACITY // 10]:
                self._recent.pop(stale, None)
        self._recent[key] = (digest, time.monotonic() + seconds,
                             AcquiredToken(acquired.access_token, acquired.expires_in))

    # -- sign-out ----------------------------------------------------------------------------------
    def forget(self, partition: str) -> None:
        """Delete the user's token cache partition (sign-out)."""
        self._store.delete(partition)
