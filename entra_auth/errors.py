"""Typed identity errors; each tier turns them into responses in one place."""

from __future__ import annotations


class EntraAuthError(Exception):
    """Base class. ``reason`` is short, fixed text safe to log and show (never token contents)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InvalidToken(EntraAuthError):
    """The bearer or ID token is not acceptable (RFC 6750 ``invalid_token``)."""


class InsufficientScope(EntraAuthError):
    """A valid token lacks the scope or app role an endpoint needs (RFC 6750 ``insufficient_scope``)."""

    def __init__(self, reason: str, needed: list[str]):
        super().__init__(reason)
        self.needed = needed


class IdentityProviderUnavailable(EntraAuthError):
    """Metadata or signing keys cannot be loaded and none are cached: answer 503."""


class UntrustedDiscovery(IdentityProviderUnavailable):
    """The discovery document names an issuer the authority's kind does not allow. No token can be
    judged against it, and the fault is the provider's or the configuration's, never the caller's
    token: 503 (not 401, which would make clients drop good tokens), logged, /readyz failing."""


class InteractionRequired(EntraAuthError):
    """The user must go through sign-in again: no cached account, an expired or
    revoked refresh token, a scope not yet consented (incremental consent), or a
    Conditional Access claims challenge (``claims``, JSON text, to send back)."""

    def __init__(self, reason: str, *, claims: str | None = None, scopes: list[str] | None = None,
                 consent: bool = False):
        super().__init__(reason)
        self.claims = claims
        self.scopes = scopes or []
        self.consent = consent


class ConsentRequired(EntraAuthError):
    """An administrator must grant a permission first (AADSTS65001 for a middle tier)."""

    def __init__(self, reason: str, *, permission: str = ""):
        super().__init__(reason)
        self.permission = permission


class ClientCredentialError(EntraAuthError):
    """Entra refused this app's own credential (``invalid_client``): an operator problem, answered 503."""


class SignInFailed(EntraAuthError):
    """A sign-in callback that cannot be completed (bad state, replayed code, an Entra error...)."""


class DownstreamUnavailable(EntraAuthError):
    """A downstream API (or our own API tier) is unreachable or answered 5xx."""


class ProviderError(EntraAuthError):
    """Entra answered with an error the app cannot act on; ``correlation_id`` and
    ``trace_id`` are Entra's, for support cases (safe to log)."""

    def __init__(self, reason: str, *, error: str = "", correlation_id: str = "", trace_id: str = ""):
        super().__init__(reason)
        self.error = error
        self.correlation_id = correlation_id
        self.trace_id = trace_id


class RefreshedIdentityRefused(EntraAuthError):
    """A refresh answered for someone else, or with an ID token that failed validation (OpenID
    Connect Core §12.2): none of its tokens were used or stored, the user's token cache
    ``partition`` is dropped, and the web tier ends the user's sessions and signs them in again."""

    def __init__(self, reason: str, *, partition: str):
        super().__init__(reason)
        self.partition = partition
