"""What to tell a person whose sign-in Entra ended with an ``error=`` at the callback.

Entra documents these errors of the authorization endpoint and what an app
should do about each ("Error codes for authorization endpoint errors",
https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow#error-codes-for-authorization-endpoint-errors;
OpenID Connect Core 1.0 §3.1.2.6 for ``consent_required``, ``login_required``,
``interaction_required``). The callback turns Entra's ``error`` into one of the
fixed reasons below and redirects to ``/auth/signin-ended?reason=<reason>``:
only our own words reach the URL and the page, never Entra's
``error_description`` (attacker-controllable on a forged callback).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SignInEnding:
    title: str
    message: str
    status: int
    next_step: str  # "sign_in", "try_later" or "contact": which ways on the page offers
    retry_after: int | None = None
    tone: str = "problem"  # "notice": not a failure (the user chose it), shown without the error styling


ENDINGS: dict[str, SignInEnding] = {
    # access_denied: the user pressed Cancel on Entra's page, or declined the permissions asked for.
    "cancelled": SignInEnding(
        "Sign-in was cancelled",
        "You cancelled signing in, or declined the permissions the app asked for, so you are not signed in "
        "and nothing was changed. Sign in again whenever you are ready.", 200, "sign_in", tone="notice"),
    "consent_required": SignInEnding(
        "An administrator needs to approve this app",
        "Your organization lets only an administrator approve the permissions this app asks for. Ask your IT "
        "administrator to grant admin consent to Contoso Orders (quote the reference below), then sign in again.",
        403, "contact"),
    "interaction_required": SignInEnding(
        "Sign-in needs one more step from you",
        "Microsoft Entra ID needs you to do something before you can continue, such as multi-factor "
        "verification or accepting your organization's terms. Sign in again and follow the prompts.",
        400, "sign_in"),
    "login_required": SignInEnding(
        "Please sign in again",
        "Your sign-in with Microsoft has ended (it may have timed out or been signed out elsewhere). "
        "Sign in again to continue.", 400, "sign_in"),
    "temporarily_unavailable": SignInEnding(
        "The sign-in service is busy",
        "Microsoft Entra ID could not handle the sign-in just now. Nothing was lost: wait a moment, then sign in "
        "again.", 503, "try_later", retry_after=10),
    "server_error": SignInEnding(
        "The sign-in service ran into a problem",
        "Microsoft Entra ID had an error on its side, so you are not signed in. Try again in a moment; if it keeps "
        "happening, contact support with the reference below.", 502, "try_later"),
    "failed": SignInEnding(
        "Sign-in could not be completed",
        "Microsoft Entra ID did not sign you in. Please start again from the sign-in button; if it keeps "
        "happening, contact support with the reference below.", 400, "contact"),
}

# Entra's ``error`` → our reason. Anything else (unknown or misspelt) is "failed".
_BY_ERROR = {
    "access_denied": "cancelled",
    "consent_required": "consent_required",
    "interaction_required": "interaction_required",
    "login_required": "login_required",
    "temporarily_unavailable": "temporarily_unavailable",
    "server_error": "server_error",
}
_AADSTS = re.compile(r"AADSTS(\d{4,6})")


def reason_for(error: str) -> str:
    return _BY_ERROR.get(error, "failed")


def aadsts_code(description: str | None) -> str | None:
    """The ``AADSTSnnnnn`` number at the start of Entra's description, for the log (digits only, never the text)."""
    found = _AADSTS.match((description or "")[:20])
    return found.group(1) if found else None
