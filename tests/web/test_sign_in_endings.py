"""Entra's documented ``error=`` answers at the callback, each to a page in plain words.

The answer carries the flow's real ``state`` (as Entra's does) and a hostile
``error_description``: the page and the URL hold only the app's own words.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import Browser

SIGNIN_COOKIE = "__Host-signin"
HOSTILE = "AADSTS65004: <script>alert('x')</script> call +1-555-0100 and give your password " + "x" * 3000


def _start(browser: Browser, live) -> tuple[str, str]:
    """Begin a sign-in at the app; returns the callback URL and the flow's state."""
    start = browser.http.get(f"{live.url}/auth/login", allow_redirects=False)
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    return query["redirect_uri"][0], query["state"][0]


@pytest.mark.parametrize(("error", "status", "title", "next_step"), [
    ("access_denied", 200, "Sign-in was cancelled", "Sign in again"),
    ("consent_required", 403, "An administrator needs to approve this app", "administrator"),
    ("interaction_required", 400, "Sign-in needs one more step from you", "Sign in again"),
    ("login_required", 400, "Please sign in again", "Sign in again"),
    ("temporarily_unavailable", 503, "The sign-in service is busy", "Try signing in again"),
    ("server_error", 502, "The sign-in service ran into a problem", "Try signing in again"),
    ("<b>made_up</b>", 400, "Sign-in could not be completed", "contact support"),
])
def test_each_documented_error_gets_its_own_page(live, new_browser, redis_client, error, status, title, next_step):
    browser = new_browser()
    callback, state = _start(browser, live)
    answer = browser.http.post(callback, data={"error": error, "error_description": HOSTILE, "state": state,
                                               "error_uri": "https://evil.example/"}, allow_redirects=False)
    assert answer.status_code == 303
    ended = urlsplit(answer.headers["Location"])
    assert ended.path == "/auth/signin-ended"
    query = parse_qs(ended.query)
    assert set(query) == {"reason", "ref"} and query["ref"][0] == answer.headers["X-Request-Id"]
    assert "script" not in answer.headers["Location"] and "made_up" not in answer.headers["Location"]
    page = browser.http.get(f"{live.url}{ended.path}?{ended.query}", allow_redirects=False)
    assert page.status_code == status
    assert f"<h1>{title}</h1>" in page.text and next_step in page.text
    assert f"Reference: <code>{answer.headers['X-Request-Id']}</code>" in page.text, "the callback's reference"
    assert "AADSTS" not in page.text and "alert(" not in page.text and "555-0100" not in page.text
    assert "evil.example" not in page.text and "made_up" not in page.text
    if status == 503:
        assert page.headers["Retry-After"] == "10"
    assert browser.cookie(SIGNIN_COOKIE) is None, "the spent sign-in cookie is deleted"
    assert not redis_client.keys("session:*")


def test_an_error_answer_without_the_flows_state_is_refused_as_before(live, new_browser):
    """A forged error callback (no state, or another one) cannot put words in the victim's browser."""
    browser = new_browser()
    callback, state = _start(browser, live)
    answer = browser.http.post(callback, data={"error": "access_denied", "state": state + "x"},
                               allow_redirects=False)
    assert answer.status_code == 400 and "Sign-in could not be completed" in answer.text


@pytest.mark.parametrize("query", ["reason=cancelled&ref=<script>", "reason=nonsense", "", "ref=" + "a" * 100])
def test_the_ended_page_takes_only_its_own_words_from_the_url(live, new_browser, query):
    page = new_browser().http.get(f"{live.url}/auth/signin-ended?{query}", allow_redirects=False)
    assert page.status_code in (200, 400)
    assert "<script>" not in page.text and "a" * 100 not in page.text
    assert "Reference: <code>" in page.text
