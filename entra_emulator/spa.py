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


def check_no_credential_from_a_browser(form: dict[str, str], authorization: str | None, origin: str | None) -> None:
    """A client credential sent cross-origin is refused, whatever the grant: "the Microsoft identity
    platform also prevents the use of client credentials in all flows in the presence of an Origin
    header, to ensure that secrets aren't used from within the browser" (auth code flow, Redirect URIs
    for SPAs). Microsoft names no code for it: the emulator answers the cross-origin refusal, 9002326."""
    presented = form.get("client_secret") or form.get("client_assertion") or (authorization or "").lower().startswith("basic ")
    if origin and presented:
        raise _cross_origin_refused(origin)


def _cross_origin_refused(origin: str) -> OAuthError:
    return OAuthError(
        "invalid_request",
        9002326,
        "Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. "
        f"Request origin: '{origin}'.",
    )


def check_redemption(platform: str, origin: str | None, *, pkce_missing: bool = False) -> None:
    """Refuse a code or refresh token redeemed the wrong way for its platform, as Entra does.

    ``origin`` is the request's ``Origin`` header (a browser's cross-origin request carries it;
    a server's call does not); ``pkce_missing``: a code whose authorization request had no
    ``code_challenge``. Entra issues such a code for a ``spa`` redirect URI and refuses it here.
    """
    if platform == SPA and pkce_missing:
        raise OAuthError(
            "invalid_request", 9002325,
            "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
        )
    if platform == WEB and origin:
        raise _cross_origin_refused(origin)
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

