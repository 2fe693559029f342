"""A user's group membership from Microsoft Graph, when the token could not carry it (groups overage).

One call, ``POST {GRAPH_API_BASE_URL}/me/getMemberObjects`` with
``{"securityEnabledOnly": true}``: transitive (nested groups count, as in the
``groups`` claim), one request whatever the size of the membership (no paging),
and callable with the delegated ``User.Read`` permission alone for the signed-in
user's own memberships (Microsoft Graph v1.0, directoryObject: getMemberObjects,
"Memberships for a user": User.Read least privileged). ``/me/memberOf`` would
miss nested groups; ``/me/transitiveMemberOf`` is transitive too but answers in
pages (every ``@odata.nextLink`` to follow: one request per 100 groups, each a
chance to fail). Security groups only, as the
registration's ``groupMembershipClaims: SecurityGroup`` puts them in tokens.

Fail closed: an answer that is not a 200 JSON object with a list of ids is an
outage (``MembershipUnavailable``, 503), never "not a member"; Graph refusing
the token (401/403) is a configuration problem (``GraphPermissionMissing``),
logged as one. The endpoint named in a token's ``_claim_sources`` is never used.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import requests

from .errors import ConsentRequired, DownstreamUnavailable, InteractionRequired
from .json_answers import is_json_object
from .protected_api import decode_claims, parse_bearer_challenge

log = logging.getLogger(__name__)

# The delegated permission the call needs, as a scope for Graph's resource (global cloud).
GRAPH_USER_READ = "https://graph.microsoft.com/User.Read"
MEMBERSHIP_PERMISSION = "User.Read (Microsoft Graph, delegated)"
MEMBER_OBJECTS_PATH = "me/getMemberObjects"


class MembershipUnavailable(DownstreamUnavailable):
    """Graph could not say which groups the user is in (down, slow, not JSON): answer 503, cache nothing."""


class GraphPermissionMissing(ConsentRequired):
    """Graph refused the token for the membership call: the app lacks ``User.Read`` (or its consent)."""


class GraphGroups:
    """The signed-in user's transitive security-group ids, asked of Graph at ``base_url``."""

    def __init__(self, base_url: str, http: requests.Session):
        self.base_url = base_url.rstrip("/")
        self._http = http
        self.lookups = 0  # requests sent by this worker (tests, benchmarks)

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/{MEMBER_OBJECTS_PATH}"

    def member_groups(self, token: str) -> frozenset[str]:
        """Every group id (lower case) the token's user belongs to, transitively; raises, never guesses."""
        self.lookups += 1
        try:
            # No redirects: a bearer token goes to the configured Graph and nowhere else.
            response = self._http.post(self.endpoint, json={"securityEnabledOnly": True}, allow_redirects=False,
                                       headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
        except requests.RequestException as exc:
            log.error("group membership lookup failed: Graph unreachable at %s (%s)", self._where(),
                      type(exc).__name__)
            raise MembershipUnavailable("Microsoft Graph is unreachable for the group membership lookup") from None
        status = response.status_code
        if status in (401, 403):
            challenge = parse_bearer_challenge(response.headers.get("WWW-Authenticate", ""))
            if status == 401 and challenge.get("error") == "insufficient_claims" and challenge.get("claims"):
                # Continuous access evaluation: the user must sign in again, not a missing permission.
                raise InteractionRequired("claims challenge from Graph", claims=decode_claims(challenge["claims"]),
                                          scopes=[GRAPH_USER_READ])
            log.error("configuration problem: Microsoft Graph answered %d to the group membership lookup at %s; "
                      "the app needs the delegated permission %s, consented in the user's tenant", status,
                      self._where(), MEMBERSHIP_PERMISSION)
            raise GraphPermissionMissing(f"Graph answered {status} to getMemberObjects",
                                         permission=MEMBERSHIP_PERMISSION)
        if status != 200 or not is_json_object(response):
            log.error("group membership lookup failed: Graph at %s answered HTTP %d (Content-Type: %s)",
                      self._where(), status, response.headers.get("Content-Type", "none"))
            raise MembershipUnavailable(f"Microsoft Graph answered {status} to the group membership lookup")
        ids = response.json().get("value")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            log.error("group membership lookup failed: Graph at %s answered without a list of ids", self._where())
            raise MembershipUnavailable("Microsoft Graph's membership answer has no list of ids")
        return frozenset(i.lower() for i in ids)

    def _where(self) -> str:
        parts = urlsplit(self.endpoint)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"
