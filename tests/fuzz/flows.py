"""Sign-in steps through the Flask test client (which keeps no cookies: each step names the ones it sends)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.api.helpers import MEGAN
from tests.conftest import authorization_response, pick_account
from tests.stored_records import stored_flow, stored_session  # noqa: F401 - tests import stored_flow from here

SIGNIN_COOKIE = "__Host-signin"
SESSION_COOKIE = "__Host-session"


def set_cookie(resp, name: str) -> str | None:
    """The value the response sets for cookie ``name`` (None when it sets none)."""
    for header in resp.headers.getlist("Set-Cookie"):
        first = header.split(";", 1)[0]
        if first.startswith(f"{name}="):
            return first.split("=", 1)[1]
    return None


def start_sign_in(client, next_value: str = "/") -> tuple[str, str]:
    """GET /auth/login: the sign-in cookie, and the ``state`` sent to the identity provider."""
    resp = client.get("/auth/login", query_string={"next": next_value})
    assert resp.status_code == 302, (resp.status_code, resp.data[:200])
    state = parse_qs(urlsplit(resp.headers["Location"]).query)["state"][0]
    return set_cookie(resp, SIGNIN_COOKIE), state


def signed_in_sessions(redis_client) -> set[bytes]:
    """The Redis keys of sessions that hold a signed-in user's claims."""
    found = set()
    for key in redis_client.scan_iter(match="session:*"):
        data = stored_session(redis_client, key)
        if data is not None and "claims" in data:
            found.add(key)
    return found


def sign_in(client, idp, next_value: str = "/", username: str = MEGAN):
    """A whole real sign-in through the test client; returns the callback's response."""
    start = client.get("/auth/login", query_string={"next": next_value})
    cookie = set_cookie(start, SIGNIN_COOKIE)
    fields = authorization_response(pick_account(idp, start.headers["Location"], username))
    assert "code" in fields, fields
    return client.post("/auth/callback", data=fields, headers={"Cookie": f"{SIGNIN_COOKIE}={cookie}"})
