"""Requests under /api/, /healthz, /readyz and /static/ never have a session, even with the browser's
cookie: no session id is drawn, nothing is stored, no cookie is set and the answer does not vary by
cookie. The web tier's in-process call to its own API is such a request on every page (bench/run);
a session write there by mistake must not replace the browser's session cookie either."""

from __future__ import annotations

import pytest
from flask import session

from app import create_app
from tests.conftest import app_settings

from .conftest import sign_in

MEGAN = "megan@contoso.example"


@pytest.mark.parametrize("path", ["/api/orders", "/healthz", "/static/app.css", "/static/missing.css"])
def test_a_sessionless_path_sets_no_cookie_and_does_not_vary_by_cookie(live, new_browser, redis_client, path):
    browser = new_browser()
    sign_in(browser, live, MEGAN)
    sessions_before = sorted(redis_client.keys("session:*"))
    response = browser.http.get(f"{live.url}{path}", allow_redirects=False)
    assert response.status_code in (200, 401, 404), (path, response.status_code)
    assert "Set-Cookie" not in response.headers, response.headers.get("Set-Cookie")
    assert "cookie" not in response.headers.get("Vary", "").lower(), response.headers.get("Vary")
    assert sorted(redis_client.keys("session:*")) == sessions_before
    # The browser's own session is untouched: its pages still know the user.
    assert "Megan Bowen" in browser.http.get(f"{live.url}/orders").text


def test_a_session_write_under_api_stores_nothing_and_sets_no_cookie(emulator, redis_server, redis_client):
    app = create_app(app_settings(emulator, redis_server))

    @app.get("/api/writes-the-session-by-mistake")
    def writes_the_session():
        session["by_mistake"] = True
        return {"ok": True}

    client = app.test_client()
    client.set_cookie("__Host-session", "the-browsers-own-session-id", secure=True)
    response = client.get("/api/writes-the-session-by-mistake")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers, "it would replace the browser's session cookie"
    assert redis_client.keys("session:*") == []
