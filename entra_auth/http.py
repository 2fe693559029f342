"""The one HTTP client of the identity core: timeouts and trust set in one place.

MSAL ignores its own ``timeout=`` once it is given an ``http_client``, and
``requests`` lets ``REQUESTS_CA_BUNDLE`` override ``Session.verify``. So the
timeout lives on the transport adapter, and an extra CA (the emulator's, via
``ENTRA_CA_BUNDLE``) is added to the adapter's own SSL context, which keeps
working whatever the environment says.
"""

from __future__ import annotations

import ssl

import requests
from requests.adapters import HTTPAdapter

DEFAULT_TIMEOUT = (3.05, 5.0)  # (connect, read) seconds: an outage answers in seconds


class _Adapter(HTTPAdapter):
    def __init__(self, ssl_context: ssl.SSLContext, timeout: float | tuple[float, float]):
        self._ssl_context = ssl_context
        self._timeout = timeout
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = self._ssl_context
        return super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args, **kwargs):
        kwargs["ssl_context"] = self._ssl_context
        return super().proxy_manager_for(*args, **kwargs)

    def send(self, request, timeout=None, **kwargs):
        return super().send(request, timeout=timeout if timeout is not None else self._timeout, **kwargs)


def build_http_session(
    ca_bundle: str | None = None, *, timeout: float | tuple[float, float] = DEFAULT_TIMEOUT
) -> requests.Session:
    """A ``requests.Session`` with a default timeout that also trusts ``ca_bundle``."""
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    session = requests.Session()
    adapter = _Adapter(context, timeout)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
