"""MSAL application construction, in one place.

A ``ConfidentialClientApplication`` binds one token cache for its lifetime,
and swapping ``app.token_cache`` on a shared instance races between threads.
So an app is built per use around that use's cache partition, and made cheap:
every app of a registration shares one ``http_cache`` (MSAL keeps the
discovery document and its throttling state there; without it every
construction refetches discovery) and one HTTP client (timeouts and the
emulator's CA live on it: MSAL ignores ``timeout=`` once given a client).

``build(cache, offline=True)`` gives an app whose HTTP client refuses to touch
the network: ``acquire_token_silent`` then answers from the cache or raises
``NetworkNeeded``, which is how callers learn a refresh is due and take the
partition's lock first (see token_acquisition.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msal
import requests

from .credentials import ClientCredential, CredentialUnavailable
from .errors import ClientCredentialError

# Hosts for which MSAL's instance discovery makes sense; any other host (the
# emulator, a sovereign-cloud proxy) needs instance_discovery=False.
_MICROSOFT_HOSTS = frozenset({"login.microsoftonline.com", "login.microsoft.com", "login.windows.net",
                              "login.microsoftonline.us", "login.partner.microsoftonline.cn"})


class NetworkNeeded(Exception):
    """An offline MSAL app was about to call the identity provider."""


class _NoNetwork:
    """An MSAL http_client that never sends anything."""

    def post(self, *args: Any, **kwargs: Any):
        raise NetworkNeeded("token endpoint")

    def get(self, *args: Any, **kwargs: Any):
        raise NetworkNeeded("metadata")

    def close(self) -> None:
        pass


class MsalAppFactory:
    """Builds MSAL confidential clients for one registration and authority."""

    def __init__(self, client_id: str, authority: str, credential: ClientCredential, http_client: requests.Session):
        self.client_id = client_id
        self.authority = authority.rstrip("/")
        self._credential = credential
        self._http = http_client
        # Shared by every app of this factory, offline ones too (so they find the
        # discovery document, and honour throttling). MSAL guards this mapping
        # with a lock per app instance, so concurrent *writes* (a discovery
        # refetch, an error response being cached) can race; the worst outcome
        # is a dropped entry (a cache miss), or an exception that callers map
        # to "identity provider unavailable" like any other MSAL failure.
        self._http_cache: dict = {}
        host = urlsplit(self.authority).hostname or ""
        self._instance_discovery = host in _MICROSOFT_HOSTS

    @property
    def credential(self) -> ClientCredential:
        return self._credential

    def build(self, token_cache: msal.TokenCache | None = None, *, offline: bool = False) -> msal.ConfidentialClientApplication:
        """An app around ``token_cache``; ``offline`` apps raise ``NetworkNeeded`` instead of calling out."""
        try:
            credential = self._credential.msal_credential()
        except CredentialUnavailable as exc:
            raise ClientCredentialError(f"no usable client credential: {exc}") from exc
        return msal.ConfidentialClientApplication(
            self.client_id,
            client_credential=credential,
            authority=self.authority,
            http_client=_NoNetwork() if offline else self._http,
            http_cache=self._http_cache,
            instance_discovery=self._instance_discovery,
            token_cache=token_cache,
        )
