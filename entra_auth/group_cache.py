"""The API tier's memory of group memberships resolved through Graph: per user, tenant and token, in Redis.

A caller whose token carries the groups overage marker costs one Graph lookup
(on their behalf) per token, not per request. What is kept:

* only the ids ``GROUP_ROLES`` maps (the intersection), never the whole membership;
* no longer than the incoming token lives: a membership removed in the
  directory counts from the caller's next token;
* under a name that is a keyed hash of tenant, user and token (as sessions and
  sign-in flows are named, ``sealed_records.py``), sealed for that name: reading
  Redis tells nobody who is in which group, and writing it cannot grant a role;
* only a membership Graph answered: a failed lookup leaves nothing behind.
"""

from __future__ import annotations

import json
import time

import redis

from .sealed_records import RecordSealer

PREFIX = "groups:api"


class MembershipCache:
    def __init__(self, client: redis.Redis, sealer: RecordSealer, *, prefix: str = PREFIX):
        self._redis = client
        self._sealer = sealer
        self._prefix = prefix

    def _name(self, tid: str, oid: str, assertion: str) -> str:
        # Newlines cannot occur in a tid, an oid or a JWT: the three parts cannot run into each other.
        digest = self._sealer.digest("\n".join((tid, oid, assertion)))
        return f"{self._prefix}:{digest}"

    def get(self, tid: str, oid: str, assertion: str) -> frozenset[str] | None:
        name = self._name(tid, oid, assertion)
        raw = self._redis.get(name)
        if raw is None:
            return None
        opened = self._sealer.open(name, raw)
        if opened is None:
            return None  # not sealed by this app for this name: no membership at all
        try:
            ids = json.loads(opened)
        except ValueError:
            return None
        return frozenset(i for i in ids if isinstance(i, str)) if isinstance(ids, list) else None

    def put(self, tid: str, oid: str, assertion: str, mapped_ids: frozenset[str], *, not_after: float) -> None:
        ttl = int(not_after - time.time())
        if ttl < 1:
            return  # the token is (all but) expired: nothing to keep
        name = self._name(tid, oid, assertion)
        self._redis.set(name, self._sealer.seal(name, json.dumps(sorted(mapped_ids)).encode()), ex=ttl)
