"""Flask adapter for the web tier: who is signed in, and what they may see.

``current_user`` reads the validated ID-token claims kept in the server-side
session (never tokens); ``login_required`` and ``roles_required`` gate views;
``access_token_for(scopes)`` gets the user's token for the API tier from
their cache partition and lets ``InteractionRequired`` reach the web
blueprint's handler, which sends the browser through sign-in.
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from flask import abort, g, request, session
from werkzeug.local import LocalProxy

from .errors import InteractionRequired
from .flask_ext import entra_state
from .flask_groups import kept_group_claims, signed_in_roles
from .group_roles import EffectiveRoles, app_roles_in

# The ID-token claims kept in the session: what pages show and authorization uses.
SESSION_CLAIMS = ("name", "preferred_username", "oid", "tid", "sub", "roles", "iss", "aud", "iat", "nbf", "exp",
                  "auth_time", "sid", "ver", "idp", "login_hint", "acrs", "amr", "email")


@dataclass(frozen=True)
class SignedInUser:
    claims: dict
    partition: str

    @property
    def effective_roles(self) -> EffectiveRoles:
        """App roles from the ID token plus the roles of mapped groups (Graph asked once per session
        on a groups overage; its failures raise, so no decision is made without it)."""
        if "entra_effective_roles" not in g:
            g.entra_effective_roles = signed_in_roles(self.claims, access_token_for)
        return g.entra_effective_roles

    @property
    def roles(self) -> frozenset[str]:
        return self.effective_roles.all

    @property
    def roles_known(self) -> frozenset[str]:
        """The roles known without asking Graph: for links in the page's navigation, never for access."""
        if "entra_effective_roles" in g:
            return g.entra_effective_roles.all
        return signed_in_roles(self.claims, access_token_for, resolve=False).all

    @property
    def name(self) -> str:
        return str(self.claims.get("name") or self.claims.get("preferred_username") or "")

    @property
    def oid(self) -> str:
        return str(self.claims["oid"])

    @property
    def tid(self) -> str:
        return str(self.claims["tid"])


def _load_user() -> SignedInUser | None:
    if "entra_user" not in g:
        claims = session.get("claims")
        partition = session.get("partition")
        if isinstance(claims, dict) and isinstance(partition, str):
            g.entra_user = SignedInUser(claims, partition)
        else:
            g.entra_user = None
    return g.entra_user


current_user: SignedInUser | None = LocalProxy(_load_user)  # type: ignore[assignment]


def kept_claims(claims: dict) -> dict:
    """The claims the session keeps: ``SESSION_CLAIMS``, and of ``groups`` only the ids ``GROUP_ROLES`` maps."""
    return {**{k: claims[k] for k in SESSION_CLAIMS if k in claims}, **kept_group_claims(claims)}


def login_required(view: Callable) -> Callable:
    """Anonymous visitors are sent through sign-in and brought back here."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if _load_user() is None:
            raise InteractionRequired("not signed in")
        return view(*args, **kwargs)

    return wrapper


def roles_required(*roles: str) -> Callable:
    """Signed-in users holding at least one of ``roles`` (app roles of the ID token, or roles of their mapped
    groups); 403 otherwise. A membership Graph cannot tell answers 503, never 403."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            user = _load_user()
            # The token's own app roles first: an app-role holder never waits on Graph for a group's role.
            if user is None or not (app_roles_in(user.claims) & set(roles) or user.roles & set(roles)):
                abort(403, f"This page needs the {' or '.join(roles)} role.")
            return view(*args, **kwargs)

        return wrapper

    return decorator


def access_token_for(scopes: list[str]) -> str:
    """The signed-in user's access token for ``scopes`` (refreshed if needed).

    A refresh that brought a new ID token (validated, and checked to name this
    same user) updates the session's claims, so app roles follow the directory.
    A refresh that answered for anyone else raises ``RefreshedIdentityRefused``
    (the web tier ends the user's sessions and signs them in again).
    """
    user = _load_user()
    if user is None:
        raise InteractionRequired("not signed in", scopes=scopes)
    acquired = entra_state().web.user_tokens.acquire(user.partition, scopes, signed_in=user.claims)
    if acquired.refreshed_claims is not None:
        session["claims"] = kept_claims(acquired.refreshed_claims)
        g.pop("entra_user", None)
        g.pop("entra_effective_roles", None)
    return acquired.access_token


def safe_next(value: str | None) -> str:
    """A local path to return to after sign-in; anything else becomes ``/``.

    Refused: absolute URLs, scheme-relative ``//host``, ``/\\host`` (browsers
    read the backslash as a slash), control characters (C0, DEL, C1), other
    schemes, and anything that lands in ``/auth/`` (a spent callback, a
    logout) once percent-escapes are decoded and dot segments resolved, as the
    browser and the server will.
    """
    if not value or len(value) > 2000 or not value.startswith("/"):
        return "/"
    decoded = value
    for _ in range(3):  # double-encoded tricks (%252F) too
        decoded = unquote(decoded)
    for text in (value, decoded):
        if text.startswith(("//", "/\\")) or "\\" in text or any(_is_control(c) for c in text):
            return "/"
    for path in (urlsplit(value).path, posixpath.normpath(urlsplit(decoded).path)):
        if path.lower() == "/auth" or path.lower().startswith(("/auth/", "//")):
            return "/"
    return value


def _is_control(character: str) -> bool:
    return ord(character) < 0x20 or 0x7F <= ord(character) <= 0x9F


def current_path() -> str:
    """This request's path and query, for coming back after a sign-in."""
    return safe_next(request.full_path.rstrip("?") if request.query_string else request.path)
