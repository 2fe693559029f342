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
