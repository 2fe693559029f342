"""MSAL application construction, in one place.

A ``ConfidentialClientApplication`` binds one token cache for its lifetime,
and swapping ``app.token_cache`` on a shared instance races between threads.
So an app is built per use around that use's cache partition, and made cheap:
every app of a registration shares one ``http_cache`` (MSAL keeps the
discovery document and its throttling state there; without it every
construction refetches discovery) and one HTTP client (timeouts and the
emulator's CA live on it: MSAL ignores ``timeout=`` once given a client).

``offline(cache)`` gives an app whose HTTP client never sends a token
request: ``acquire_token_silent`` then answers from the cache or raises
``NetworkNeeded``, which is how callers learn a refresh is due and take the
partition's lock first (see token_acquisition.py). Its discovery document
comes from the app's own metadata cache, so a worker serves cached tokens
(and cached on-behalf-of tokens) from its first request on.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
from types import SimpleNamespace
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import msal
import requests

from .authorities import Authority
from .credentials import ClientCredential
from .errors import IdentityProviderUnavailable
from .json_answers import JsonAnswersOnly
from .metadata import OidcMetadata
from .msal_errors import credential_refusal, msal_call

# Hosts for which MSAL's instance discovery makes sense; any other host (the
# emulator, a sovereign-cloud proxy) needs instance_discovery=False.
_MICROSOFT_HOSTS = frozenset({"login.microsoftonline.com", "login.microsoft.com", "login.windows.net",
                              "login.microsoftonline.us", "login.partner.microsoftonline.cn"})


if importlib.util.find_spec("msal_extensions") is None:
    # MSAL probes for its optional msal_extensions package on every app
    # construction: a failed import each time, a path scan costing more than
    # the rest of the construction. It is not installed (checked just now), so
    # let the probe fail at once. If it ever is installed, this line does nothing.
    sys.modules.setdefault("msal_extensions", None)


log = logging.getLogger(__name__)
T = TypeVar("T")


class NetworkNeeded(Exception):
    """An offline MSAL app was about to call the identity provider."""


class _NoNetwork:
    """An MSAL http_client that sends nothing: the discovery document is answered from
    ``metadata`` (the app's own cache of it), anything else raises ``NetworkNeeded``."""

    def __init__(self, metadata: OidcMetadata):
        self._metadata = metadata

    def post(self, *args: Any, **kwargs: Any):
        raise NetworkNeeded("token endpoint")

    def get(self, url: str, *args: Any, **kwargs: Any):
        if url == self._metadata.url:
            return SimpleNamespace(status_code=200, text=json.dumps(self._metadata.get()), headers={})
        raise NetworkNeeded("metadata")

    def close(self) -> None:
        pass


class MsalAppFactory:
    """Builds MSAL confidential clients for one registration and authority."""

    def __init__(self, client_id: str, authority: Authority | str, credential: ClientCredential,
                 http_client: requests.Session, *, metadata: OidcMetadata | None = None):
        self.client_id = client_id
        self._authority = authority if isinstance(authority, Authority) else Authority.parse(authority)
        self.authority = self._authority.url
        self._metadata = metadata or OidcMetadata(self.authority, http_client,
                                                  discovery_url=self._authority.discovery_url)
        self._credential = credential
        # What MSAL is given: every answer checked to be JSON before MSAL parses it (json_answers.py).
        self._msal_http = JsonAnswersOnly(http_client)
        # Shared by every app of this factory, offline ones too (so they find the
        # discovery document, and honour throttling). MSAL guards this mapping
        # with a lock per app instance, so concurrent *writes* (a discovery
        # refetch, an error response being cached) can race; the worst outcome
        # is a dropped entry (a cache miss), or an exception that callers map
        # to "identity provider unavailable" like any other MSAL failure.
        self._http_cache: dict = {}
        self._thread_local = threading.local()
        host = urlsplit(self.authority).hostname or ""
        self._instance_discovery = host in _MICROSOFT_HOSTS

    @property
    def credential(self) -> ClientCredential:
        return self._credential

    def offline(self, token_cache: msal.TokenCache) -> msal.ConfidentialClientApplication:
        """This thread's offline app, now reading ``token_cache``.

        Building an app costs more than the cache look-up it serves, and a
        steady-state page needs nothing else. An offline app never writes to
        its cache (it cannot obtain tokens), and this one is used by one
        thread only, so pointing it at the request's partition is safe; apps
        that may call the network are always built fresh around their cache.
        """
        app = getattr(self._thread_local, "offline_app", None)
        if app is None:
            app = self.build(token_cache, offline=True)
            self._thread_local.offline_app = app
        app.token_cache = token_cache
        return app

    def build(self, token_cache: msal.TokenCache | None = None, *, offline: bool = False) -> msal.ConfidentialClientApplication:
        """An app around ``token_cache``; ``offline`` apps raise ``NetworkNeeded`` instead of calling out."""
        return self._build(token_cache, offline=offline)[1]

    def run(self, token_cache: msal.TokenCache | None, call: Callable[[msal.ConfidentialClientApplication], T]) -> T:
        """``call`` with an app around ``token_cache``; when Entra refuses the client credential
        (``invalid_client``), that source is marked refused and ``call`` runs once more with the next.

        Safe for every grant: Entra authenticates the client before it looks at
        the grant, so a refused attempt spends no authorization code and no
        refresh token (the emulator's token endpoint does the same, and
        Microsoft.Identity.Web retries a code redemption the same way), and
        MSAL writes nothing to the cache for an error.
        """
        source, app = self._build(token_cache)
        result = call(app)
        reason = credential_refusal(result)
        if reason is None or not self._credential.refused(source, reason):
            return result
        source, app = self._build(token_cache)  # the next source, once
        result = call(app)
        reason = credential_refusal(result)
        if reason is not None:
            self._credential.refused(source, reason)  # logged and skipped too, but no third attempt
        return result

    def _build(self, token_cache: msal.TokenCache | None, *, offline: bool = False):
        source, credential = msal_call(self._credential.current)  # typed errors: an outage, or a wrong credential
        return source, self._app(credential, token_cache, offline)

    def _app(self, credential, token_cache: msal.TokenCache | None, offline: bool) -> msal.ConfidentialClientApplication:
        try:
            return msal.ConfidentialClientApplication(
                self.client_id,
                client_credential=credential,
                **self._authority.msal_arguments(),  # authority=, or oidc_authority= for a custom domain
                http_client=_NoNetwork(self._metadata) if offline else self._msal_http,
                http_cache=self._http_cache,
                instance_discovery=self._instance_discovery,
                token_cache=token_cache,
            )
        except (requests.RequestException, msal.exceptions.MsalServiceError) as exc:
            # Construction fetches the discovery document: an outage shows up here first.
            raise IdentityProviderUnavailable("identity provider metadata unavailable") from exc
        except ValueError as exc:
            # MSAL's "Unable to get authority configuration": discovery answered an error.
            log.warning("MSAL could not load the authority's metadata: %s", type(exc).__name__)
            raise IdentityProviderUnavailable("identity provider metadata unavailable") from exc
