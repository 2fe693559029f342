"""The server-side session under attack and over time: fixation, a pickle planted in
Redis, idle and absolute timeouts enforced by the server (not only by Redis's TTL)."""

from __future__ import annotations

import logging
import pickle
import secrets
import time
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask_session.base import MsgSpecSerializer

from tests.stored_records import session_key, stored_session

from .conftest import sign_in
from .cookie_rules import assert_cookie_deleted, plant_session_cookie, set_cookie_headers

MEGAN = "megan@contoso.example"
ADELE = "adele@contoso.example"
LEE = "lee@fabrikam.example"
SESSION_COOKIE = "__Host-session"
SIGNED_OUT = "Sign in with Microsoft"



def assert_sent_to_sign_in(response, emulator) -> None:
    assert response.status_code == 302, response.status_code
    assert urlsplit(response.headers["Location"]).netloc == urlsplit(emulator.url).netloc


# -- the cookies -----------------------------------------------------------------------------------

def _attributes(header: str) -> tuple[str, dict[str, str]]:
    first, *rest = [p.strip() for p in header.split(";")]
    return first, {p.split("=", 1)[0].lower(): p.split("=", 1)[1] if "=" in p else "" for p in rest}


def test_the_cookies_are_hardened(live, new_browser):
    browser = new_browser()
    sign_in(browser, live, MEGAN)
    [login] = [r for r in browser.history if urlsplit(r.url).path == "/auth/login"]
    [callback] = [r for r in browser.history if urlsplit(r.url).path == "/auth/callback"]
    [signin_cookie] = set_cookie_headers(login, "__Host-signin")
    [session_cookie] = set_cookie_headers(callback, SESSION_COOKIE)

    # The session: __Host- (Secure, Path=/, no Domain), HttpOnly, Lax, gone with the browser.
    value, attributes = _attributes(session_cookie)
    assert len(value.split("=", 1)[1]) >= 32
    assert {"secure", "httponly"} <= set(attributes) and attributes["path"] == "/"
    assert attributes["samesite"] == "Lax"
    assert not {"domain", "expires", "max-age"} & set(attributes)
    # The in-flight sign-in: SameSite=None so Entra's cross-site form_post carries it; short-lived.
    _, attributes = _attributes(signin_cookie)
    assert {"secure", "httponly"} <= set(attributes) and attributes["path"] == "/" and "domain" not in attributes
    assert attributes["samesite"] == "None" and 0 < int(attributes["max-age"]) <= 600
    assert_cookie_deleted(callback, "__Host-signin")  # used once, then dropped


# -- fixation -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("planted_by", ["attacker's own session", "made-up id"])
def test_a_planted_session_id_is_dead_after_the_victim_signs_in(live, new_browser, redis_client, emulator,
                                                                planted_by):
    attacker, victim = new_browser(), new_browser()
    if planted_by == "attacker's own session":
        # The only ids the app hands out belong to signed-in sessions (anonymous visitors get none).
        sign_in(attacker, live, LEE)
        planted = attacker.cookie(SESSION_COOKIE)
        assert redis_client.exists(session_key(planted))
    else:
        planted = secrets.token_urlsafe(32)
        plant_session_cookie(attacker, planted)
    plant_session_cookie(victim, planted)

    page = sign_in(victim, live, ADELE, "/profile")
    assert "Adele Vance" in page.text
    assert [urlsplit(r.url).path for r in victim.history].count("/auth/callback") == 1, "one sign-in was enough"
    fresh = victim.cookie(SESSION_COOKIE)
    assert fresh and fresh != planted
    assert not redis_client.exists(session_key(planted)), "the planted id is dead on the server"
    assert [k.decode() for k in redis_client.keys("session:*")] == [session_key(fresh)]
    # The attacker, still holding the planted id, is nobody: not Adele, not even themselves.
    assert attacker.cookie(SESSION_COOKIE) == planted
    home = attacker.get(f"{live.url}/")
    assert "Adele" not in home.text and SIGNED_OUT in home.text
    assert_sent_to_sign_in(attacker.http.get(f"{live.url}/profile", allow_redirects=False), emulator)


# -- a pickle in Redis --------------------------------------------------------------------------------

class _CreatesFile:
    """Unpickling this calls ``open(path, "w")``: the file appears if anyone unpickles it."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("protocol", [0, pickle.DEFAULT_PROTOCOL])
def test_a_pickle_planted_in_the_session_store_is_not_executed(live, new_browser, redis_client, tmp_path, emulator,
                                                               caplog, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_CreatesFile(str(marker)), protocol=protocol)
    # The payload is live: Flask-Session's stock serializer runs it (its pickle fallback).
    stock = MsgSpecSerializer(Flask(__name__), "msgpack")
    stock.decode(payload).close()
    assert marker.exists()
    marker.unlink()

    victim = new_browser()
    sign_in(victim, live, MEGAN)
    sid = victim.cookie(SESSION_COOKIE)
    redis_client.set(session_key(sid), payload, keepttl=True)

    with caplog.at_level(logging.WARNING, logger="entra_auth.security"):
        home = victim.http.get(f"{live.url}/", allow_redirects=False)
    assert not marker.exists(), "the planted pickle was executed"
    assert home.status_code == 200 and SIGNED_OUT in home.text  # answered normally, as signed out
    assert any(r.name == "entra_auth.security" and "session payload refused" in r.getMessage()
               for r in caplog.records), "a security event is logged"
    assert not redis_client.exists(session_key(sid)), "the poisoned entry is removed"
    assert_cookie_deleted(home)  # and the browser's cookie naming it
    plant_session_cookie(victim, sid)
    assert_sent_to_sign_in(victim.http.get(f"{live.url}/profile", allow_redirects=False), emulator)
    assert not marker.exists()


# -- timeouts -----------------------------------------------------------------------------------------

def _session_key(browser) -> str:
    return session_key(browser.cookie(SESSION_COOKIE))


def _created(redis_client, key: str) -> float:
    """When the server says the session began (its ``_created``), so the test waits exactly long enough."""
    return float(stored_session(redis_client, key)["_created"])


def test_a_session_lives_while_used_and_ends_after_the_idle_timeout(start_app, new_browser, redis_client,
                                                                    emulator):
    live = start_app(SESSION_IDLE_TIMEOUT_SECONDS=2)
    browser = new_browser()
    sign_in(browser, live, MEGAN)
    key = _session_key(browser)
    started = time.monotonic()
    while time.monotonic() - started < 2.6:  # used every half second for longer than the idle timeout
        page = browser.http.get(f"{live.url}/", allow_redirects=False)
        assert "Welcome back, Megan Bowen" in page.text, f"signed out after {time.monotonic() - started:.1f} s"
        time.sleep(0.5)
    assert browser.http.get(f"{live.url}/orders", allow_redirects=False).status_code == 200
    assert session_key(browser.cookie(SESSION_COOKIE)) == key

    assert 0 < redis_client.ttl(key) <= 2, "Redis forgets an idle session too"
    # The server must enforce it by itself (a TTL is not a guarantee: a restore, a copy, a bug).
    redis_client.persist(key)
    time.sleep(2.2)  # idle
    response = browser.http.get(f"{live.url}/profile", allow_redirects=False)
    assert_sent_to_sign_in(response, emulator)
    assert_cookie_deleted(response)
    assert not redis_client.exists(key)
    assert SIGNED_OUT in browser.http.get(f"{live.url}/").text


def test_the_absolute_timeout_ends_a_session_in_use(start_app, new_browser, redis_client, emulator):
    live = start_app(SESSION_ABSOLUTE_TIMEOUT_SECONDS=3)
    browser = new_browser()
    sign_in(browser, live, MEGAN)
    key = _session_key(browser)
    assert 0 < redis_client.ttl(key) <= 3
    redis_client.persist(key)  # again: the server's own check, not the TTL
    created = _created(redis_client, key)
    while time.time() < created + 2.0:
        assert "Welcome back" in browser.http.get(f"{live.url}/", allow_redirects=False).text
        time.sleep(0.4)
    time.sleep(max(0.0, created + 3.2 - time.time()))
    response = browser.http.get(f"{live.url}/profile", allow_redirects=False)
    assert_sent_to_sign_in(response, emulator)
    assert_cookie_deleted(response)
    assert not redis_client.exists(key)
