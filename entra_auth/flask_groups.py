"""Flask adapter for group-mapped roles: effective roles of the signed-in user (web) and the caller (API).

Both tiers follow one rule (``group_roles.py``): the token's ``roles`` plus
the roles ``GROUP_ROLES`` gives the user's groups. The groups come from the
token's ``groups`` claim, or, when the token carries the overage marker
instead, from Microsoft Graph (``group_membership.py``):

* web tier: with the signed-in user's own Graph token, once per session; the
  mapped ids are kept in the session (sealed in Redis with it) for at most
  ``min(SESSION_IDLE_TIMEOUT_SECONDS, 1 hour)``, and a new sign-in starts afresh;
* API tier: on behalf of the caller, once per incoming token, kept in Redis no
  longer than that token (``group_cache.py``).

Nothing is kept when Graph could not answer: the error goes up (503, or the
configuration page for a missing permission), and the next request asks again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import current_app, g, session

from .authorization import is_app_only
from .flask_ext import entra_state
from .group_membership import GRAPH_USER_READ
from .group_roles import (
    EffectiveRoles,
    app_roles_in,
    effective_roles,
    groups_in_token,
    has_groups_overage,
    mapped_groups,
)
from .jwt_validation import ValidatedToken

# The session's record of a membership Graph resolved: {"ids": [mapped ids], "at": epoch seconds}.
RESOLVED_GROUPS_KEY = "groups_resolved"
MAX_RESOLVED_AGE_SECONDS = 3600


def resolved_groups_lifetime() -> int:
    """How long the web tier trusts a resolved membership: the session's idle timeout, at most an hour."""
    return min(int(current_app.config["SESSION_IDLE_TIMEOUT_SECONDS"]), MAX_RESOLVED_AGE_SECONDS)


def kept_group_claims(claims: dict) -> dict:
    """What the session keeps of a token's groups: the mapped ids only, and whether there was an overage."""
    kept: dict = {}
    group_roles = entra_state().group_roles
    if isinstance(claims.get("groups"), list):
        kept["groups"] = sorted(mapped_groups(groups_in_token(claims), group_roles))
    if has_groups_overage(claims):
        kept["_claim_names"] = {"groups": "overage"}  # the marker's meaning; its endpoint is never kept
    return kept


def signed_in_roles(claims: dict, token_for: Callable[[list[str]], str], *, resolve: bool = True) -> EffectiveRoles:
    """The signed-in user's effective roles (``claims`` as the session keeps them).

    With ``resolve=False`` an overage not yet resolved counts as no groups
    (for navigation links only, never for access decisions).
    """
    group_roles = entra_state().group_roles
    if not group_roles:
        return EffectiveRoles(app_roles_in(claims))
    if not has_groups_overage(claims):
        return effective_roles(claims, groups_in_token(claims), group_roles)
    resolved = session.get(RESOLVED_GROUPS_KEY)
    if isinstance(resolved, dict) and time.time() - float(resolved.get("at", 0)) < resolved_groups_lifetime():
        return effective_roles(claims, resolved.get("ids") or [], group_roles)
    if not resolve:
        return EffectiveRoles(app_roles_in(claims))
    # Raises on any failure (MembershipUnavailable, GraphPermissionMissing): nothing is stored then.
    member_of = entra_state().graph_groups.member_groups(token_for([GRAPH_USER_READ]))
    session[RESOLVED_GROUPS_KEY] = {"ids": sorted(mapped_groups(member_of, group_roles)), "at": time.time()}
    return effective_roles(claims, member_of, group_roles)


def caller_roles(token: ValidatedToken, assertion: str) -> EffectiveRoles:
    """The API caller's effective roles: an app's own app roles, or a user's roles plus mapped groups.

    Cached per request; an overage is resolved on behalf of the caller at most
    once per incoming token (kept in Redis until the token expires).
    """
    cached = g.get("entra_caller_roles")
    if cached is not None:
        return cached
    claims = token.claims
    state = entra_state()
    group_roles = state.group_roles
    if is_app_only(claims) or not group_roles:
        roles = EffectiveRoles(app_roles_in(claims))
    elif not has_groups_overage(claims):
        roles = effective_roles(claims, groups_in_token(claims), group_roles)
    else:
        memberships = state.api.memberships
        member_of = memberships.get(token.tid, token.oid, assertion)
        if member_of is None:
            graph_token = state.api.obo[token.tid].token_for(token, assertion, [GRAPH_USER_READ])
            member_of = mapped_groups(state.graph_groups.member_groups(graph_token), group_roles)
            memberships.put(token.tid, token.oid, assertion, member_of, not_after=float(claims["exp"]))
        roles = effective_roles(claims, member_of, group_roles)
    g.entra_caller_roles = roles
    return roles
