"""The HTTP client MSAL is given: an answer that is not a JSON object is an outage, raised as such.

Entra's token endpoint answers JSON, errors included (RFC 6749 §5.2; Entra's
error responses carry ``error_codes``, ``trace_id``...), and so does a
managed-identity endpoint. HTML or a body cut short comes from whatever
stands in front of them: a proxy's maintenance page, a captive portal, a
connection dropped mid-body. MSAL 1.39 handles such a body badly: below 500
the token endpoint's ``json.loads`` raises a bare ``ValueError`` (which the
auth-code flow's own errors also are, so a sign-in looked like a forged
callback) after logging the whole body at ERROR (a cut-off token response
puts part of a token in the log); at 500 and above it raises
``MsalServiceError`` and its throttle replays that answer until the page's
``Retry-After`` (up to an hour; 5 s without one) has passed, to every user:
its key is the client, the scopes and the refresh token, so every code
redemption, on-behalf-of and client-credentials request of that client and
scopes shares one key (a refresh, only that refresh token's). The
managed-identity client raises ``JSONDecodeError`` at any status, after
logging the body at DEBUG, and throttles its 5xx the same way.

So this client checks every answer before MSAL sees it and raises
``NotJsonAnswer`` (a ``requests`` exception: MSAL treats it as a network
failure and falls back to a still-usable cached token where it has one, and
nothing is cached by its throttle). Entra's own JSON answers, 5xx included,
pass through unchanged, with MSAL's throttling as Microsoft designed it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import requests


class NotJsonAnswer(requests.RequestException):
    """An identity endpoint answered with something other than a JSON object.

    The message names the endpoint, the URL without its query, the status and
    the content type: never the body (it can hold part of a token).
    """

    def __init__(self, endpoint: str, url: str, status: int, content_type: str):
        self.endpoint = endpoint
        self.status = status
        self.content_type = content_type
        parts = urlsplit(url)
        self.url = f"{parts.scheme}://{parts.netloc}{parts.path}"
        super().__init__(f"the {endpoint} ({self.url}) answered HTTP {status} with a body that is not "
                         f"a JSON object (Content-Type: {content_type or 'none'})")


def is_json_object(response: requests.Response) -> bool:
    try:
        return isinstance(json.loads(response.content), dict)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: JSON nested deeper than the parser recurses (a few hundred KB of "[") is no
        # answer of Entra's or Graph's, and must be the caller's outage, not an unhandled 500.
        return False


class JsonAnswersOnly:
    """An MSAL ``http_client`` around a ``requests.Session`` (timeouts and trust stay on the session).

    ``endpoints`` names what the POSTs and GETs of this client reach, for the
    log: an MSAL application posts to the token endpoint and reads discovery
    documents; the managed-identity client only GETs its endpoint.
    """

    def __init__(self, session: requests.Session, *, post: str = "token endpoint", get: str = "metadata endpoint"):
        self._session = session
        self._names = {"POST": post, "GET": get}

    def post(self, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        return self._checked("POST", self._session.post(url, *args, **kwargs))

    def get(self, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        return self._checked("GET", self._session.get(url, *args, **kwargs))

    def close(self) -> None:
        """The session is shared and outlives any MSAL app: closing an app leaves it open."""

    def _checked(self, method: str, response: requests.Response) -> requests.Response:
        if is_json_object(response):
            return response
        raise NotJsonAnswer(self._names[method], response.url, response.status_code,
                            response.headers.get("Content-Type", ""))
