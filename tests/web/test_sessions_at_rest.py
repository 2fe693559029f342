"""Sessions are as protected at rest as token caches: someone who can read Redis (a backup, a
replica, MONITOR) gets into no session, and someone who can write it makes none the app believes.

Each attack is run the way that attacker would: with a real sign-in through the emulator over
HTTPS, a real Redis, and a browser holding a cookie the attacker built.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from urllib.parse import urlsplit

import msgspec
import pytest
from cryptography.fernet import Fernet

from entra_auth.sealed_records import RecordSealer
from tests.conftest import TEST_TOKEN_CACHE_KEY
from tests.stored_records import session_key, signin_key, stored_flow, stored_session

from .conftest import sign_in
from .cookie_rules import plant_session_cookie

MEGAN = "megan@contoso.example"
LEE = "lee@fabrikam.example"
SESSION_COOKIE = "__Host-session"
SIGNIN_COOKIE = "__Host-signin"
SIGNED_OUT = "Sign in with Microsoft"



def assert_lands_on_sign_in(browser, live, emulator, path: str = "/profile") -> None:
    """The browser is sent to Entra's sign-in, and is nobody on the home page."""
    response = browser.http.get(f"{live.url}{path}", allow_redirects=False)
    assert response.status_code == 302, (response.status_code, response.text[:300])
    assert urlsplit(response.headers["Location"]).netloc == urlsplit(emulator.url).netloc
    home = browser.http.get(f"{live.url}/", allow_redirects=False)
    assert home.status_code == 200 and SIGNED_OUT in home.text and "Megan" not in home.text


def dump(redis_client) -> dict[bytes, list[bytes]]:
    """Every key of the database and everything it holds, as a read-only copy (a backup) would."""
    found: dict[bytes, list[bytes]] = {}
    for key in redis_client.scan_iter(count=1000):
        kind = redis_client.type(key)
        if kind == b"string":
            found[key] = [redis_client.get(key)]
        elif kind == b"set":
            found[key] = sorted(redis_client.smembers(key))
        elif kind == b"zset":
            found[key] = [m for m, _ in redis_client.zrange(key, 0, -1, withscores=True)]
        elif kind == b"hash":
            found[key] = [b for kv in redis_client.hgetall(key).items() for b in kv]
        elif kind == b"list":
            found[key] = redis_client.lrange(key, 0, -1)
        else:
            raise AssertionError(f"a key of an unexpected type: {kind!r}")
    return found


def test_nothing_in_redis_holds_a_cookie_value(live, new_browser, redis_client, emulator):
    megan = new_browser()
    sign_in(megan, live, MEGAN, "/orders")
    # A second sign-in started (consent, a claims challenge) and not finished yet: its flow, which
    # names the session it will replace, waits in Redis.
    started = megan.http.get(f"{live.url}/auth/login?next=/orders", allow_redirects=False)
    assert started.status_code == 302 and started.headers["Location"].startswith(emulator.url)
    cookies = {name: megan.cookie(name) for name in (SESSION_COOKIE, SIGNIN_COOKIE)}
    assert all(cookies.values()), cookies
    everything = dump(redis_client)
    assert any(k.startswith(b"session:") for k in everything) and any(k.startswith(b"signin:") for k in everything)
    assert any(k.startswith(b"session-index:sid:") for k in everything), "the front-channel index is there"
    for name, value in cookies.items():
        for key, values in everything.items():
            assert value.encode() not in key, f"{name}'s value is in the key name {key!r}"
            for item in values:
                assert value.encode() not in item, f"{name}'s value is in {key!r}"
    # Key names carry no user or Entra session identifiers either.
    claims = stored_session(redis_client, session_key(cookies[SESSION_COOKIE]))["claims"]
    for identifier in (claims["oid"], claims["sid"]):
        assert not any(identifier.encode() in key for key in everything), identifier
    # And the session still works.
    assert megan.http.get(f"{live.url}/profile", allow_redirects=False).status_code == 200


def test_a_read_only_dump_of_redis_lets_no_browser_in(live, new_browser, redis_client, emulator):
    megan = new_browser()
    sign_in(megan, live, MEGAN, "/profile")
    everything = dump(redis_client)
    # Every string the dump holds that could be a cookie value: key names and their parts, set members.
    candidates: set[str] = set()
    for key, values in everything.items():
        name = key.decode()
        candidates.update({name, name.split(":", 1)[-1], name.rsplit(":", 1)[-1]})
        for item in values:
            if len(item) <= 200:
                candidates.add(item.decode(errors="replace"))
    assert len(candidates) > 3
    for candidate in sorted(candidates):
        attacker = new_browser()
        plant_session_cookie(attacker, candidate)
        assert_lands_on_sign_in(attacker, live, emulator)
    assert megan.http.get(f"{live.url}/profile", allow_redirects=False).status_code == 200, "Megan still is"


def test_a_session_record_copied_to_another_key_gets_the_sign_in_page(live, new_browser, redis_client, emulator,
                                                                    caplog):
    megan, lee = new_browser(), new_browser()
    sign_in(megan, live, MEGAN, "/profile")
    before = set(redis_client.keys("session:*"))
    # The attacker signs in as themselves and sees which key appears: theirs.
    sign_in(lee, live, LEE, "/profile")
    [lees_key] = set(redis_client.keys("session:*")) - before
    [megans_key] = before
    redis_client.set(lees_key, redis_client.get(megans_key), keepttl=True)  # Megan's record under Lee's name

    with caplog.at_level(logging.WARNING, logger="entra_auth.security"):
        assert_lands_on_sign_in(lee, live, emulator)
    assert any("session payload refused" in r.getMessage() for r in caplog.records), "a security event is logged"
    assert "Megan" not in lee.http.get(f"{live.url}/orders", allow_redirects=True).text
    assert not redis_client.exists(lees_key), "the copy is dropped"
    assert megan.http.get(f"{live.url}/profile", allow_redirects=False).status_code == 200, "Megan is unaffected"


def _megans_record(redis_client, megan) -> dict:
    """What a forger would write: Megan's claims and her token-cache partition (oid.tid, no secret)."""
    cookie = megan.cookie(SESSION_COOKIE)
    data = stored_session(redis_client, session_key(cookie))
    if data is None:  # sessions stored before they were sealed (to see this test fail without the seal)
        data = msgspec.msgpack.decode(redis_client.get(f"session:{cookie}"))
    now = time.time()
    return {"claims": data["claims"], "partition": data["partition"], "_user": data["_user"],
            "_entra_sid": "", "_created": now, "_seen": now}


@pytest.mark.parametrize("minted", ["msgpack, as sessions were stored", "sealed with a key of the attacker's"])
def test_a_session_minted_in_redis_naming_another_users_partition_gets_the_sign_in_page(
        live, new_browser, redis_client, emulator, caplog, minted):
    megan = new_browser()
    sign_in(megan, live, MEGAN, "/profile")
    record = msgspec.msgpack.encode(_megans_record(redis_client, megan))
    attacker = new_browser()
    cookie = secrets.token_urlsafe(32)
    plant_session_cookie(attacker, cookie)
    # The attacker cannot compute the name the app looks up (a keyed hash): they are given it here,
    # and every name the cookie could have, so that only the record's seal keeps them out.
    names = {f"session:{cookie}", session_key(cookie)}
    for name in names:
        if minted.startswith("sealed"):
            value = RecordSealer([Fernet.generate_key().decode()], "session").seal(name, record)
        else:
            value = record
        redis_client.set(name, value, ex=600)

    with caplog.at_level(logging.WARNING, logger="entra_auth.security"):
        assert_lands_on_sign_in(attacker, live, emulator)
        for path in ("/orders", "/admin"):
            assert attacker.http.get(f"{live.url}{path}", allow_redirects=False).status_code == 302, path
    assert any("session payload refused" in r.getMessage() for r in caplog.records), "a security event is logged"
    assert megan.http.get(f"{live.url}/profile", allow_redirects=False).status_code == 200, "Megan is unaffected"


def test_a_session_written_under_the_old_key_works_after_a_new_key_is_put_first(start_app, new_browser,
                                                                                redis_client, emulator):
    old, new = TEST_TOKEN_CACHE_KEY, Fernet.generate_key().decode()
    before = start_app()  # TOKEN_CACHE_KEYS=<old>
    megan = new_browser()
    sign_in(megan, before, MEGAN, "/profile")
    old_name = session_key(megan.cookie(SESSION_COOKIE))

    after = start_app(TOKEN_CACHE_KEYS=[new, old])  # the rotation's first step, on another instance
    for path in ("/profile", "/orders"):
        page = megan.http.get(f"{after.url}{path}", allow_redirects=False)
        assert page.status_code == 200 and "Megan Bowen" in page.text, (path, page.status_code)
    assert redis_client.exists(old_name), "it keeps its name until it ends"

    # The first key writes: a sign-in on the rotated instance is sealed with the new key, which an
    # instance still on the old key alone cannot open.
    lee = new_browser()
    sign_in(lee, after, LEE, "/profile")
    assert not redis_client.exists(session_key(lee.cookie(SESSION_COOKIE))), "not named with the old key"
    new_sessions = RecordSealer([new], "session")
    new_name = f"session:{new_sessions.digest(lee.cookie(SESSION_COOKIE))}"
    assert new_sessions.open(new_name, redis_client.get(new_name)) is not None
    assert lee.http.get(f"{after.url}/profile", allow_redirects=False).status_code == 200
    response = lee.http.get(f"{before.url}/profile", allow_redirects=False)
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).netloc == \
        urlsplit(emulator.url).netloc

    # Signing out on the rotated instance ends the old-key session everywhere.
    csrf = megan.csrf_token(f"{after.url}/profile")
    megan.http.post(f"{after.url}/auth/logout", data={"csrf_token": csrf}, headers={"Referer": f"{after.url}/"},
                    allow_redirects=False)
    assert not redis_client.exists(old_name)
    assert_lands_on_sign_in(megan, before, emulator)


def test_a_sign_in_flow_rewritten_in_redis_is_no_flow(live, new_browser, redis_client, emulator, caplog):
    """Someone who can write Redis rewrites an in-flight sign-in to send the user off-site afterwards."""
    browser = new_browser()
    started = browser.http.get(f"{live.url}/auth/login?next=/orders", allow_redirects=False)
    assert started.status_code == 302
    [key] = redis_client.keys("signin:*")
    assert key.decode() == signin_key(browser.cookie(SIGNIN_COOKIE))
    # The test reads the flow (an attacker could not: it is sealed) and writes it back rewritten.
    flow = stored_flow(redis_client, browser.cookie(SIGNIN_COOKIE))
    if flow is None:  # flows stored before they were sealed (to see this test fail without the seal)
        flow = json.loads(redis_client.get(key))
    redis_client.set(key, json.dumps({**flow, "next_path": "https://evil.example/"}), keepttl=True)

    with caplog.at_level(logging.WARNING, logger="entra_auth.security"):
        answer = browser.follow(started, as_user=MEGAN)
    assert not any("evil.example" in r.headers.get("Location", "") for r in browser.history), "sent off-site"
    assert answer.status_code == 400 and urlsplit(answer.url).path == "/auth/callback"
    assert not browser.cookie(SESSION_COOKIE) and not redis_client.keys("session:*"), "nobody is signed in"
    assert any("sign-in flow refused" in r.getMessage() for r in caplog.records), "a security event is logged"
