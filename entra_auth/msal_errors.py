"""MSAL's error dictionaries and exceptions, turned into the core's typed errors in one place.

MSAL reports most failures as ``{"error": ..., "error_description": ...}``
dicts, but raises for some (a 5xx from the token endpoint:
``MsalServiceError``; the transport: ``requests`` exceptions; an answer that
is not JSON: ``NotJsonAnswer`` from our HTTP client, see json_answers.py).
Callers wrap MSAL calls in ``msal_call`` and pass error dicts to
``error_from_result``; the tiers then turn the typed errors into pages or
RFC 6750 answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TypeVar

import msal
import requests

from .credentials import CredentialSourceDown, CredentialUnavailable
from .errors import (
    ClientCredentialError,
    ConsentRequired,
    EntraAuthError,
    IdentityProviderUnavailable,
    InteractionRequired,
    ProviderError,
)
from .json_answers import NotJsonAnswer

log = logging.getLogger(__name__)
T = TypeVar("T")

_INTERACTION = frozenset({"interaction_required", "login_required", "consent_required"})
_UNAVAILABLE = frozenset({"temporarily_unavailable", "server_error", "service_unavailable"})
_CLIENT = frozenset({"invalid_client", "unauthorized_client"})
_AADSTS = re.compile(r"^(AADSTS\d+)")


def aadsts_code(result: dict) -> str:
    """The ``AADSTS...`` code of an Entra error (safe to show and log), or ''."""
    match = _AADSTS.match(str(result.get("error_description", "")))
    return match.group(1) if match else ""


def _codes(result: dict) -> set[int]:
    codes = result.get("error_codes")
    return {c for c in codes if isinstance(c, int)} if isinstance(codes, list) else set()


def error_from_result(result: dict, *, scopes: list[str] | None = None, interactive: bool = True) -> EntraAuthError:
    """The typed error for an MSAL error dict.

    ``interactive``: a user is at a browser who can be sent through sign-in
    (missing consent becomes incremental consent); a middle tier (on-behalf-of)
    cannot, so missing consent there needs an administrator.
    ``reason`` never copies Entra's free-text description (it can name users):
    only the error, the AADSTS code, and Entra's correlation and trace ids.
    """
    error = str(result.get("error", "unknown_error"))
    code = aadsts_code(result)
    reason = f"{error} {code}".strip()
    claims = result.get("claims") if isinstance(result.get("claims"), str) else None
    consent = (str(result.get("suberror", "")) == "consent_required" or 65001 in _codes(result)
               or error == "consent_required")
    if consent:
        if interactive:
            return InteractionRequired(reason, claims=claims, scopes=scopes, consent=True)
        return ConsentRequired(reason, permission=" ".join(scopes or []))
    if error in _INTERACTION or error == "invalid_grant":
        # invalid_grant: an expired, revoked or bad refresh token or assertion
        # (AADSTS50013, 50173, 700082...): only a new sign-in helps.
        return InteractionRequired(reason, claims=claims, scopes=scopes)
    if error in _CLIENT:
        return ClientCredentialError(reason)
    if error in _UNAVAILABLE:
        return IdentityProviderUnavailable(reason)
    return ProviderError(reason, error=error, correlation_id=str(result.get("correlation_id", "")),
                         trace_id=str(result.get("trace_id", "")))


def msal_call(fn: Callable[[], T]) -> T:
    """Run an MSAL call, mapping transport and service failures and answers that are not JSON
    to ``IdentityProviderUnavailable`` (the reason names endpoint and status, never the body),
    and an unusable own credential to ``ClientCredentialError``."""
    try:
        return fn()
    except NotJsonAnswer as exc:
        # A proxy's page, a captive portal, a body cut short: an outage, not a bad request. Only
        # what our client saw on the wire counts: a JSONDecodeError raised inside MSAL can come
        # from the browser (a forged client_info in the callback), which stays a bad request.
        raise IdentityProviderUnavailable(str(exc)) from None
    except msal.exceptions.MsalServiceError as exc:
        raise IdentityProviderUnavailable(f"identity provider error {getattr(exc, 'error', '') or ''}".strip()) from exc
    except requests.RequestException as exc:
        raise IdentityProviderUnavailable(f"identity provider unreachable ({type(exc).__name__})") from exc
    except CredentialSourceDown as exc:  # the managed-identity endpoint, down or not answering JSON
        raise IdentityProviderUnavailable(str(exc)) from None
    except CredentialUnavailable as exc:
        raise ClientCredentialError(f"no usable client credential: {exc}") from exc


# -- the app's own credential refused (credential fallback) ------------------------------------------
#
# Kept apart from error_from_result on purpose: this only *recognises* Entra's
# refusal of our client authentication, so the caller can mark that credential
# source refused and retry once with the next (msal_apps.MsalAppFactory.run).
# RFC 6749 §5.2: ``invalid_client`` is "client authentication failed". Entra's
# codes for it (learn.microsoft.com/entra/identity-platform/reference-error-codes)
# include 7000215 (invalid secret), 7000222 (expired secret), 700027 (assertion
# signature / certificate not registered), 700024 (assertion outside its valid
# time), 70021 / 700211 / 700212 / 700213 (no matching federated identity
# record), 7000214 / 7000277 (certificate revoked), 1000502 (certificate outside
# its validity window), 7000274 (invalid signature). Any ``invalid_client`` is a
# refusal of the credential we sent; ``unauthorized_client`` (700016: the app is
# not in the tenant) is not, and another credential would not help.


def credential_refusal(result: object) -> str | None:
    """``"invalid_client AADSTS<code>"`` when Entra refused the client credential of this answer, else None."""
    if not isinstance(result, dict) or result.get("error") != "invalid_client":
        return None
    return f"invalid_client {aadsts_code(result)}".strip()
