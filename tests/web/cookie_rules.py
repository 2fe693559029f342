"""What a browser does with our Set-Cookie headers, where requests' cookie jar is more lenient."""

from __future__ import annotations

import requests

SESSION_COOKIE = "__Host-session"


def set_cookie_headers(response: requests.Response, name: str) -> list[str]:
    return [h for h in response.raw.headers.getlist("Set-Cookie") if h.split("=", 1)[0].strip() == name]


def assert_cookie_deleted(response: requests.Response, name: str = SESSION_COOKIE) -> None:
    """The response deletes the cookie in a way a browser accepts.

    A browser ignores a ``__Host-`` cookie entirely, its deletion included, unless it
    comes with ``Secure``, ``Path=/`` and no ``Domain`` (RFC 6265bis, cookie name
    prefixes); requests' jar does not check that, so the header is checked here.
    """
    headers = set_cookie_headers(response, name)
    assert len(headers) == 1, headers
    first, *rest = [p.strip() for p in headers[0].split(";")]
    attributes = {p.split("=", 1)[0].lower(): p.split("=", 1)[1] if "=" in p else "" for p in rest}
    assert first == f"{name}=", headers[0]
    assert attributes.get("max-age") == "0" or "1970" in attributes.get("expires", ""), headers[0]
    if name.startswith("__Host-"):
        assert "secure" in attributes and attributes.get("path") == "/" and "domain" not in attributes, (
            f"a browser ignores this deletion of a __Host- cookie: {headers[0]}")


def plant_session_cookie(browser, value: str, name: str = SESSION_COOKIE) -> None:
    """Give ``browser`` a session cookie of our choosing (an attacker's, a copied or minted one).

    requests files cookies of "localhost" under "localhost.local"; browsers do not key cookies by port.
    """
    browser.http.cookies.set(name, value, domain="localhost.local", path="/", secure=True)
