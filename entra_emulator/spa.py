"""How Entra treats a single-page application (the ``spa`` redirect platform).

A code or refresh token issued for a ``spa`` redirect URI belongs to the browser: it is redeemed
cross-origin (the request carries ``Origin``), without a client credential, and the refresh token
lives a fixed 24 hours that redeeming it never extends. A code for a ``web`` redirect URI is the
opposite: the browser may not redeem it. Sources for each rule: docs/emulator-fidelity.md,
"Rows added with the single-page client (#18)".
"""

from __future__ import annotations

import datetime as dt

from .protocol import OAuthError
# "Refresh tokens sent to a redirect URI registered as spa expire after 24 hours" (Microsoft Learn,
# refresh-tokens, "Token lifetime"); the emulator's settings can make it shorter for a test.
from .state import SPA_REFRESH_TOKEN_LIFETIME

WEB, SPA = "web", "spa"


def pkce_required() -> OAuthError:
    """/authorize for a ``spa`` redirect URI without ``code_challenge`` (AADSTS9002325)."""
    return OAuthError(
        "invalid_request", 9002325, "Proof Key for Code Exchange is required for cross-origin authorization code redemption."
    )


def check_redemption(platform: str, origin: str | None) -> None:
    """Refuse a code or refresh token redeemed the wrong way for its platform, as Entra does.

    ``origin`` is the request's ``Origin`` header (a browser's cross-origin request carries it;
    a server's call does not).
    """
    if platform == WEB and origin:
        raise OAuthError(
            "invalid_request",
            9002326,
            "Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. "
            f"Request origin: '{origin}'.",
        )
    if platform == SPA and not origin:
        raise OAuthError(
            "invalid_request",
            9002327,
            "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.",
        )


def refresh_token_expired(issued: float, lifetime: int = SPA_REFRESH_TOKEN_LIFETIME) -> OAuthError:
    """A ``spa`` refresh token past its fixed lifetime (AADSTS700084, Entra's own wording; the
    lifetime in .NET's d.hh:mm:ss, as Entra writes it: 1.00:00:00 unless a test shortened it)."""
    days, rest = divmod(int(lifetime), 86400)
    span = f"{days}.{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    stamp = dt.datetime.fromtimestamp(issued, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    return OAuthError(
        "invalid_grant",
        700084,
        "The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of "
        f"{span}, which cannot be extended. It is now expired and a new sign in request must be sent by the SPA "
        f"to the sign in page. The token was issued on {stamp}.",
    )

