"""Who is calling, and may they: delegated scopes (``scp``) versus app roles (``roles``)."""

from __future__ import annotations

from .errors import InsufficientScope
from .jwt_validation import ValidatedToken


def is_app_only(claims: dict) -> bool:
    """An app-only token (client credentials), as Microsoft tells them apart.

    ``idtyp`` is an optional claim: Entra sends ``idtyp: app`` only when the
    API's registration asks for it (access-tokens, "User and application
    tokens"). Without it: no ``scp`` (a user's token always carries its
    delegated scopes) *and* ``oid`` equal to ``sub`` (an app's token names its
    service principal in both; a user's ``sub`` is pairwise, never the ``oid``).
    A token with neither ``scp`` nor that shape is no app's: it gets no app roles.
    """
    if "idtyp" in claims:
        return claims["idtyp"] == "app"
    return "scp" not in claims and isinstance(claims.get("oid"), str) and claims.get("oid") == claims.get("sub")


def scopes_of(claims: dict) -> frozenset[str]:
    scp = claims.get("scp")
    # Exact items of a space-delimited list: Orders.ReadWrite is not Orders.Read.
    return frozenset(scp.split(" ")) if isinstance(scp, str) else frozenset()


def roles_of(claims: dict) -> frozenset[str]:
    roles = claims.get("roles")
    return frozenset(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else frozenset()


def authorize(
    token: ValidatedToken,
    *,
    scopes: tuple[str, ...] = (),
    app_roles: tuple[str, ...] = (),
    allowed_apps: frozenset[str] | None = None,
) -> None:
    """Raise ``InsufficientScope`` unless the token carries one of ``scopes`` (user
    tokens) or one of ``app_roles`` (app-only tokens). An empty tuple means that
    kind of caller is not allowed at all."""
    claims = token.claims
    caller_app = claims.get("azp") or claims.get("appid")
    if allowed_apps is not None and caller_app not in allowed_apps:
        raise InsufficientScope("calling application not allowed", [*scopes, *app_roles])
    if is_app_only(claims):
        if not app_roles:
            raise InsufficientScope("app-only token on a user endpoint", list(scopes))
        if not roles_of(claims) & set(app_roles):
            raise InsufficientScope("missing app role", list(app_roles))
        return
    if not scopes:
        raise InsufficientScope("user token on an app-only endpoint", list(app_roles))
    if not scopes_of(claims) & set(scopes):
        raise InsufficientScope("missing scope", list(scopes))
