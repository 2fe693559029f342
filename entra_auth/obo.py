"""On-behalf-of: the API tier exchanges the caller's token for a downstream token, cached.

MSAL's ``acquire_token_on_behalf_of`` never looks in a cache (PITFALLS.md), and
a cache shared by every caller would hand one user's downstream token to
another. As Microsoft.Identity.Web does, each incoming assertion gets its own
partition, keyed by a hash of the assertion, encrypted like the user caches,
and living no longer than the incoming token (nor the downstream token): the
same incoming token twice costs one exchange, a new incoming token a new one.

Only a validated, delegated token gets here (the API's decorators refuse
app-only and wrong-audience tokens before any exchange).
"""

from __future__ import annotations

import hashlib
import logging

from .errors import InsufficientScope
from .authorization import is_app_only
from .jwt_validation import ValidatedToken
from .msal_apps import MsalAppFactory, NetworkNeeded
from .msal_errors import error_from_result, msal_call
from .token_cache import PartitionCache, RedisTokenCacheStore

log = logging.getLogger(__name__)
security_log = logging.getLogger("entra_auth.security")


def _user_of(incoming: ValidatedToken) -> str:
    """MSAL's home_account_id for the caller (``<oid>.<tid>``, from Entra's client_info)."""
    return f"{incoming.claims.get('oid')}.{incoming.claims.get('tid')}"


class OnBehalfOf:
    def __init__(self, apps: MsalAppFactory, store: RedisTokenCacheStore):
        self._apps = apps
        self._store = store
        self.exchanges = 0  # OBO requests sent by this worker (tests, benchmarks)

    @staticmethod
    def partition_of(assertion: str) -> str:
        return "obo:" + hashlib.sha256(assertion.encode()).hexdigest()

    def token_for(self, incoming: ValidatedToken, assertion: str, scopes: list[str]) -> str:
        """A downstream access token for ``scopes`` on behalf of the caller of ``assertion``."""
        if is_app_only(incoming.claims):
            raise InsufficientScope("on-behalf-of needs a user's delegated token", [])
        partition = self.partition_of(assertion)
        cache = self._store.load(partition)
        try:
            cached = self._from_cache(self._apps.offline(cache), scopes, _user_of(incoming))
        except NetworkNeeded:
            cached = None
        if cached is not None:
            return cached
        fresh = PartitionCache(partition)

        def exchange(app) -> dict:
            self.exchanges += 1  # each request sent (a refused credential means a second one)
            return msal_call(lambda: app.acquire_token_on_behalf_of(assertion, scopes))

        result = self._apps.run(fresh, exchange)
        if "error" in result:
            raise error_from_result(result, scopes=scopes, interactive=False)
        # No longer than the incoming token: once it expires, so does what it bought.
        self._store.save(fresh, not_after=float(incoming.claims["exp"]))
        return result["access_token"]

    def forget(self, assertion: str) -> None:
        """Drop the cached downstream token (after the downstream refused it: a claims challenge)."""
        self._store.delete(self.partition_of(assertion))

    @staticmethod
    def _from_cache(app, scopes: list[str], user: str) -> str | None:
        accounts = app.get_accounts()
        if len(accounts) != 1:
            return None
        if accounts[0].get("home_account_id") != user:
            # The key is a plain hash of the incoming token, which its holder can compute: a cache
            # found there must be this caller's, or whoever can write Redis could copy another
            # user's cache under their own token's key. Exchange afresh instead (it overwrites it).
            security_log.warning("on-behalf-of cache entry belongs to another user; ignored")
            return None
        result = app.acquire_token_silent_with_error(scopes, accounts[0])
        if result and "access_token" in result:
            return result["access_token"]
        return None
