"""A refresh never switches the user: the checks on what a refresh brought back.

OpenID Connect Core 1.0 §12.2: an ID token returned with a refresh must carry
the same ``iss`` and ``sub`` as the sign-in's; Entra keys a user on ``oid`` and
``tid`` (the token-cache partition is ``"<oid>.<tid>"``, MSAL's
``home_account_id``). A refreshed ID token is validated as at sign-in
(signature, issuer, audience, lifetime; a refresh carries no nonce) and then
compared with the session's account. MSAL files the tokens of a response under
the account its ``client_info`` names, so every credential the refresh left in
the cache must belong to the partition too: that catches an answer for another
user even when it carries no ID token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msal

from .errors import RefreshedIdentityRefused

# The claims that say who the user is: OIDC's pair, and Entra's.
IDENTITY_CLAIMS = ("iss", "sub", "oid", "tid")
_CREDENTIALS = (msal.TokenCache.CredentialType.ACCESS_TOKEN, msal.TokenCache.CredentialType.REFRESH_TOKEN,
                msal.TokenCache.CredentialType.ID_TOKEN, msal.TokenCache.CredentialType.ACCOUNT)


def check_same_user(refreshed: Mapping[str, Any], signed_in: Mapping[str, Any], partition: str) -> None:
    """Raise ``RefreshedIdentityRefused`` unless the refreshed ID token's claims name the signed-in user.

    ``signed_in`` holds the claims kept from the sign-in's ID token (the session's);
    the reason names the claims that differ, never their values.
    """
    differing = [name for name in IDENTITY_CLAIMS
                 if not isinstance(signed_in.get(name), str) or not signed_in.get(name)
                 or refreshed.get(name) != signed_in.get(name)]
    if not differing and f"{refreshed['oid']}.{refreshed['tid']}" != partition:
        differing = ["partition"]
    if differing:
        raise RefreshedIdentityRefused(f"the refreshed ID token names another user ({', '.join(differing)} differ)",
                                       partition=partition)


def check_cache_holds_only(cache: msal.SerializableTokenCache, partition: str) -> None:
    """Raise ``RefreshedIdentityRefused`` if the cache holds a credential of another account than ``partition``."""
    for credential_type in _CREDENTIALS:
        if any(entry.get("home_account_id") != partition for entry in cache.search(credential_type)):
            raise RefreshedIdentityRefused("the refresh answered with tokens of another account", partition=partition)
