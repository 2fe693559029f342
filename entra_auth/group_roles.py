"""One authorization model, two sources: app roles (``roles``) and security groups mapped to roles.

``GROUP_ROLES`` maps Entra group object ids to this app's role values. A
user's *effective* roles are the token's ``roles`` claim plus the roles their
mapped groups give; pages and the API's role checks use those. Entra already
puts an app role assigned to a group into ``roles``; the map is for groups
that carry no app role, as many directories are organised.

The ``groups`` claim holds the user's transitive group object ids, up to a
limit (200 in a JWT). Past it Entra leaves ``groups`` out and adds an overage
marker: ``_claim_names: {"groups": "src1"}`` with ``_claim_sources.src1.endpoint``
(https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference,
"Groups overage claim"). The marker is read as the JSON it is, never compared
as a string, and its endpoint is never fetched: the token names a URL, and
following it would let whoever shaped the token point the app anywhere (the
membership is asked of Microsoft Graph at the configured base URL instead:
``group_membership.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ROLE = re.compile(r"[^\s\"',]{1,120}")  # an app-role value: no spaces (Entra refuses them), no quotes

GroupRoles = Mapping[str, tuple[str, ...]]  # group object id (lower case) -> role values


class GroupRolesError(ValueError):
    """``GROUP_ROLES`` is malformed; the message names what, never more than the first offending text."""


def parse_group_roles(value: object) -> dict[str, tuple[str, ...]]:
    """``GROUP_ROLES`` as a map of lower-case group object ids to role values.

    Accepts the JSON text a platform sets (``{"<group id>": "Orders.Admin"}``;
    a list of roles per group is fine too) or the already-parsed mapping.
    Empty text means no map. Raises ``GroupRolesError`` naming the problem.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise GroupRolesError("GROUP_ROLES must be a JSON object mapping group object ids to role names, "
                                  'e.g. {"<group-object-id>": "Orders.Admin"} (it is not valid JSON)') from None
    if not isinstance(value, Mapping):
        raise GroupRolesError("GROUP_ROLES must be a JSON object mapping group object ids to role names")
    parsed: dict[str, tuple[str, ...]] = {}
    for key, roles in value.items():
        group = str(key).strip().lower()
        if not _GUID.fullmatch(group):
            raise GroupRolesError(f"GROUP_ROLES keys must be group object ids (GUIDs), not {str(key)[:60]!r}: the "
                                  "groups claim carries object ids, never display names")
        names = [roles] if isinstance(roles, str) else roles
        if not isinstance(names, list) or not names or not all(
                isinstance(n, str) and _ROLE.fullmatch(n) for n in names):
            raise GroupRolesError(f"GROUP_ROLES[{group}] must be a role name or a list of role names "
                                  "(no spaces or quotes)")
        if group in parsed:
            raise GroupRolesError(f"GROUP_ROLES names the group {group} twice")
        parsed[group] = tuple(dict.fromkeys(names))
    return parsed


def describe_group_roles(group_roles: GroupRoles) -> str:
    return "; ".join(f"{group} -> {', '.join(roles)}" for group, roles in sorted(group_roles.items()))


def has_groups_overage(claims: Mapping) -> bool:
    """Whether the token says its groups are elsewhere: ``_claim_names`` names ``groups``, or ``hasgroups``.

    ``_claim_names`` is a JSON object in the token; a token that carries it as
    JSON text is parsed, never searched as a string (a value that merely
    contains "groups" is no marker). ``hasgroups: true`` stands in for both the
    claim and the marker in a token from the implicit grant past six groups
    (access-token claims reference, ``hasgroups``): read as "no groups", it
    would refuse a member as if they were none.
    """
    if claims.get("hasgroups") is True:
        return True
    names = claims.get("_claim_names")
    if isinstance(names, str):
        try:
            names = json.loads(names)
        except ValueError:
            return False
    return isinstance(names, Mapping) and "groups" in names


def groups_in_token(claims: Mapping) -> frozenset[str]:
    """The ``groups`` claim's object ids (lower case); empty without one."""
    groups = claims.get("groups")
    if not isinstance(groups, list):
        return frozenset()
    return frozenset(g.lower() for g in groups if isinstance(g, str))


def mapped_groups(group_ids: Iterable[str], group_roles: GroupRoles) -> frozenset[str]:
    """Only the ids the map names: the rest of a membership is none of this app's business (nor stored)."""
    return frozenset(g.lower() for g in group_ids if isinstance(g, str) and g.lower() in group_roles)


def app_roles_in(claims: Mapping) -> frozenset[str]:
    roles = claims.get("roles")
    return frozenset(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else frozenset()


@dataclass(frozen=True)
class EffectiveRoles:
    """A user's roles, and where each came from: the ``roles`` claim, or which groups."""

    from_token: frozenset[str] = frozenset()
    from_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # role -> group ids granting it

    @property
    def all(self) -> frozenset[str]:
        return self.from_token | frozenset(self.from_groups)


def effective_roles(claims: Mapping, member_of: Iterable[str], group_roles: GroupRoles) -> EffectiveRoles:
    """The ``roles`` claim plus the roles ``member_of`` (group ids) maps to."""
    granted: dict[str, list[str]] = {}
    for group in sorted(mapped_groups(member_of, group_roles)):
        for role in group_roles[group]:
            granted.setdefault(role, []).append(group)
    return EffectiveRoles(app_roles_in(claims), {role: tuple(groups) for role, groups in granted.items()})
