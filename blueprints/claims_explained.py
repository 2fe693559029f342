"""Plain-words explanations of ID-token claims, for the profile page."""

from __future__ import annotations

import datetime as dt

EXPLANATIONS: dict[str, str] = {
    "name": "Your display name in the directory.",
    "preferred_username": "The name you sign in with (usually your work email). It can change: the app never keys data on it.",
    "email": "Your email address, when the directory shares it.",
    "oid": "Your object id: your permanent, unique id in your organization's directory. The app stores your orders under it.",
    "tid": "Your organization's tenant id. Orders never cross from one tenant to another.",
    "sub": "A pairwise id: unique to you and this app only, so other apps cannot correlate you with it.",
    "roles": "App roles your administrator assigned to you for this app. They decide, for example, who sees the admin page.",
    "groups": "Your security groups that this app maps to roles (only those are kept; Entra sends their object ids).",
    "_claim_names": "You are in more groups than a token can carry (overage): the app asks Microsoft Graph instead.",
    "iss": "Who issued the token: Microsoft Entra ID, for your tenant. The app checks it exactly.",
    "aud": "Who the token is for: this app's client id. A token meant for another app is refused.",
    "iat": "When the token was issued.",
    "nbf": "The token is not valid before this time.",
    "exp": "When the token expires. Your session does not depend on it: the app refreshes tokens by itself.",
    "auth_time": "When you last actually signed in (entered credentials or confirmed your account).",
    "sid": "Your sign-in session id at Entra: signing out anywhere ends the sessions tied to it.",
    "ver": "The token format version (2.0: the Microsoft identity platform v2 endpoint).",
    "idp": "The identity provider that authenticated you, when it is not your own tenant (a guest).",
    "login_hint": "A hint Entra gives the app so that signing out does not ask which account.",
    "acrs": "Authentication contexts (Conditional Access) this sign-in satisfied.",
    "amr": "How you authenticated (password, multi-factor...).",
}
# A customer (Entra External ID) account is not a member of an organization's directory: it was
# created by the customer at sign-up and holds what they entered (Microsoft's External ID docs,
# "Planning your customer identity and access management", and the ID-token claims reference).
CUSTOMER_EXPLANATIONS: dict[str, str] = {
    "name": "The display name you entered when you signed up.",
    "preferred_username": "The email or user name you sign in with. It can change: the app never keys data on it.",
    "email": "The email address you signed up with (sent only when the sign-up flow collected it).",
    "oid": "Your customer account's id, created when you signed up. The app stores your orders under it.",
    "tid": "The shop's customer tenant id (Microsoft Entra External ID). Customers' orders never mix with "
           "employees' orders, which live under another tenant.",
    "iss": "Who issued the token: Microsoft Entra External ID, on its own issuer host "
           "(https://<tenant id>.ciamlogin.com/...). The app checks it exactly.",
    "idp": "How you signed up: a social or federated identity provider (e.g. google.com), or the shop's own "
           "tenant for an email account.",
    "roles": "App roles an administrator assigned to you for this app; customers usually have none.",
}
_TIMES = {"iat", "nbf", "exp", "auth_time"}


def explain_claims(claims: dict, *, customer: bool = False) -> list[dict]:
    """Rows of (claim, value, explanation), in a reading order; times shown in UTC.
    ``customer``: explained for a customer account of an External ID tenant."""
    explanations = {**EXPLANATIONS, **CUSTOMER_EXPLANATIONS} if customer else EXPLANATIONS
    rows = []
    for name in [*EXPLANATIONS, *sorted(set(claims) - set(EXPLANATIONS))]:
        if name not in claims:
            continue
        value = claims[name]
        if name in _TIMES and isinstance(value, int | float):
            shown = dt.datetime.fromtimestamp(value, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        elif isinstance(value, list):
            shown = ", ".join(map(str, value)) or "(none)"
        else:
            shown = str(value)
        rows.append({"name": name, "value": shown, "explanation": explanations.get(name, "")})
    return rows
