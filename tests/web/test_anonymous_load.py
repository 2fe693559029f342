"""Anonymous load is bounded (issue 14, item 4).

Every sign-in start writes a ten-minute flow key in Redis. A flood of them, from one client
address or from a handful behind a trusted proxy, leaves a bounded number of keys and bytes:
a browser keeps one pending flow (a restart replaces it), a client without cookies is held to
``SIGNIN_RATE_LIMIT`` per address, answered 429 with ``Retry-After`` (an HTML page, or JSON
under /api), and a real user signing in through the emulator meanwhile is not disturbed.
With Redis down a sign-in start is the 503 page. A client's own X-Forwarded-For never picks
its bucket unless a trusted proxy set it.

Run with ``-s`` to see the measured Redis figures.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from urllib.parse import quote

import pytest
from flask import Flask

from app import create_app
from entra_auth.errors import SignInFailed
from entra_auth.signin_flows import FLOW_TTL_SECONDS, MAX_FLOW_BYTES, PendingSignIn, SignInFlowStore
from localdev.embedded_redis import free_port
from entra_auth.sealed_records import RecordSealer
from tests.conftest import TEST_TOKEN_CACHE_KEY, app_settings
from tests.stored_records import opened_flow

from .conftest import sign_in

MEGAN = "megan@contoso.example"
FLOOD = 10_000
LIMIT = 20  # config.py's default SIGNIN_RATE_LIMIT, "20 per minute": the tests run the default
FLOOD_SECONDS = 45  # well under a minute: the moving window then never lets a second batch through
PROXY = "10.0.0.7"  # the only peer the app sees behind a proxy
ATTACKER = "203.0.113.66"
ATTACKERS = [f"198.51.100.{n}" for n in range(10, 15)]


def footprint(redis_client) -> dict[str, tuple[int, int]]:
    """Keys and bytes (``MEMORY USAGE``) in Redis, by key prefix (the part before the first ':')."""
    found: dict[str, list[int]] = {}
    for key in redis_client.scan_iter(count=1000):
        prefix = key.decode().split(":", 1)[0]
        entry = found.setdefault(prefix, [0, 0])
        entry[0] += 1
        entry[1] += redis_client.memory_usage(key) or 0
    return {prefix: (count, size) for prefix, (count, size) in found.items()}


def report(label: str, before: dict, after: dict, dbsize: tuple[int, int], seconds: float, statuses: Counter) -> None:
    print(f"\n[{label}] {sum(statuses.values())} sign-in starts in {seconds:.1f} s: statuses {dict(statuses)}; "
          f"DBSIZE {dbsize[0]} -> {dbsize[1]}")
    for prefix in sorted(set(before) | set(after)):
        print(f"    {prefix:<12} keys {before.get(prefix, (0, 0))[0]:>5} -> {after.get(prefix, (0, 0))[0]:>5}   "
              f"bytes {before.get(prefix, (0, 0))[1]:>8} -> {after.get(prefix, (0, 0))[1]:>8}")


def flood(client, count: int, *, address_of, headers_of=lambda i: {}) -> tuple[Counter, list]:
    """``count`` anonymous GET /auth/login; the statuses, and the first 429 response."""
    statuses: Counter = Counter()
    refused = []
    for i in range(count):
        response = client.get("/auth/login?next=/orders", environ_base={"REMOTE_ADDR": address_of(i)},
                              headers=headers_of(i))
        statuses[response.status_code] += 1
        if response.status_code == 429:
            assert response.headers.get("Retry-After", "").isdigit(), "every 429 says when to come back"
            if not refused:
                refused.append(response)
    return statuses, refused


def assert_too_many_page(response) -> None:
    assert response.status_code == 429
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.get_data(as_text=True)
    assert "Too many requests" in page and "Too many sign-in attempts" in page and "Reference:" in page
    assert "Traceback" not in page and "redis" not in page.lower()
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60, retry_after
    assert f"try again in {retry_after} second" in page
    assert "__Host-signin" not in response.headers.get("Set-Cookie", ""), "a refused start writes nothing"


def test_ten_thousand_anonymous_starts_from_one_address_leave_bounded_keys_while_a_user_signs_in(
        live, user_browser, redis_client):
    before, dbsize_before = footprint(redis_client), redis_client.dbsize()
    attacker = live.app.test_client(use_cookies=False)  # drops the sign-in cookie: a new flow each time
    result: dict = {}

    def run_flood():
        started = time.monotonic()
        result["statuses"], result["refused"] = flood(attacker, FLOOD, address_of=lambda i: ATTACKER)
        result["seconds"] = time.monotonic() - started

    flooding = threading.Thread(target=run_flood)
    flooding.start()
    try:
        # Meanwhile a real user, from their own address, signs in through the emulator.
        while not result and live.state.redis.dbsize() < LIMIT:
            time.sleep(0.01)
        page = sign_in(user_browser, live, MEGAN, "/orders")
        assert "Megan Bowen" in page.text
    finally:
        flooding.join(timeout=120)
    assert not flooding.is_alive()
    statuses, seconds = result["statuses"], result["seconds"]
    after, dbsize_after = footprint(redis_client), redis_client.dbsize()
    report("one address", before, after, (dbsize_before, dbsize_after), seconds, statuses)

    assert seconds < FLOOD_SECONDS, f"{FLOOD} starts took {seconds:.1f} s"
    assert statuses == Counter({302: LIMIT, 429: FLOOD - LIMIT})
    assert_too_many_page(result["refused"][0])
    flows, flow_bytes = after.get("signin", (0, 0))
    assert flows == LIMIT, "the attacker's flows (the user's own was taken at its callback)"
    assert flow_bytes <= LIMIT * MAX_FLOW_BYTES
    counters, counter_bytes = after.get("ratelimit", (0, 0))
    assert counters == 2, "one moving-window counter per address: the attacker's and the user's"
    assert counter_bytes < 4096
    # The user's sign-in left its session and token cache: what else is there is bounded.
    assert set(after) <= {"signin", "ratelimit", "session", "session-index", "tokencache", "orders"}, after
    assert sum(size for _, size in after.values()) < LIMIT * MAX_FLOW_BYTES + 64 * 1024
    # Every flow key expires with the sign-in window: nothing stays.
    assert all(0 < redis_client.ttl(key) <= FLOW_TTL_SECONDS for key in redis_client.scan_iter("signin:*"))

    # The refused address stays refused on every way in to sign-in, the anonymous page visit too.
    assert_too_many_page(attacker.get("/orders", environ_base={"REMOTE_ADDR": ATTACKER}))
    # And the user, signed in, is unaffected: pages work.
    assert user_browser.http.get(f"{live.url}/orders", allow_redirects=False).status_code == 200


def test_ten_thousand_starts_from_a_handful_of_addresses_behind_a_trusted_proxy_are_bounded_per_address(
        start_app, user_browser, redis_client):
    live = start_app(TRUSTED_PROXY_HOPS=1)
    before, dbsize_before = footprint(redis_client), redis_client.dbsize()
    attacker = live.app.test_client(use_cookies=False)
    started = time.monotonic()
    # Each client also forges an X-Forwarded-For of its own; the proxy appends the address it saw.
    statuses, refused = flood(attacker, FLOOD, address_of=lambda i: PROXY,
                              headers_of=lambda i: {"X-Forwarded-For": f"192.0.2.{i % 250}, "
                                                                       f"{ATTACKERS[i % len(ATTACKERS)]}"})
    seconds = time.monotonic() - started
    after, dbsize_after = footprint(redis_client), redis_client.dbsize()
    report("5 addresses via 1 trusted proxy hop", before, after, (dbsize_before, dbsize_after), seconds, statuses)

    assert seconds < FLOOD_SECONDS, f"{FLOOD} starts took {seconds:.1f} s"
    assert statuses == Counter({302: LIMIT * len(ATTACKERS), 429: FLOOD - LIMIT * len(ATTACKERS)})
    assert_too_many_page(refused[0])
    assert after["signin"][0] == LIMIT * len(ATTACKERS)
    assert after["signin"][1] <= LIMIT * len(ATTACKERS) * MAX_FLOW_BYTES
    assert after["ratelimit"][0] == len(ATTACKERS), "counted per client address, not per proxy or forged value"
    assert set(after) == {"signin", "ratelimit"}
    assert dbsize_after == LIMIT * len(ATTACKERS) + len(ATTACKERS)
    # A user behind the same proxy, from another address, still signs in.
    user_browser.http.headers["X-Forwarded-For"] = "192.0.2.200"
    assert "Megan Bowen" in sign_in(user_browser, live, MEGAN, "/orders").text


def test_a_browser_restarting_sign_in_replaces_its_pending_flow(live, redis_client):
    browser = live.app.test_client()  # keeps its cookies, as a browser does
    for _ in range(LIMIT - 1):
        response = browser.get("/auth/login?next=/orders")
        assert response.status_code == 302
    assert len(redis_client.keys("signin:*")) == 1, "one pending sign-in per browser, however often it restarts"
    # The one kept is the latest: the browser's cookie names it.
    cookie = browser.get_cookie("__Host-signin")
    assert cookie is not None
    [key] = redis_client.keys("signin:*")
    assert opened_flow(redis_client, key)["next_path"] == "/orders"


def test_the_largest_anonymous_sign_in_start_stays_within_the_byte_bound(live, redis_client):
    client = live.app.test_client(use_cookies=False)
    widest = "/orders?q=" + "\U0001F600" * 1990  # 2,000 characters (safe_next's most), 4 UTF-8 bytes each
    assert client.get(f"/auth/login?next={quote(widest)}").status_code == 302
    [key] = redis_client.keys("signin:*")
    assert redis_client.strlen(key) <= MAX_FLOW_BYTES
    assert opened_flow(redis_client, key)["next_path"] == widest, "it fits: kept whole"


@pytest.mark.parametrize("oversized, kept", [
    ({"carry": {"draft:order": {"note": "x" * 20_000}}}, {"carry": {}, "next_path": "/orders"}),
    ({"next_path": "/orders?q=" + "x" * 20_000}, {"next_path": "/"}),
])
def test_a_flow_over_the_byte_bound_drops_its_drafts_then_its_return_path(redis_client, oversized, kept):
    store = SignInFlowStore(redis_client, RecordSealer([TEST_TOKEN_CACHE_KEY], "signin"))
    pending = PendingSignIn(flow={"state": "s"}, **{"next_path": "/orders", **oversized})
    key = store.save(pending)
    [stored_key] = redis_client.keys("signin:*")
    assert redis_client.strlen(stored_key) <= MAX_FLOW_BYTES
    taken = store.take(key)
    assert taken is not None and {name: getattr(taken, name) for name in kept} == kept


def test_a_flow_that_cannot_be_brought_under_the_bound_is_refused_and_not_stored(redis_client):
    store = SignInFlowStore(redis_client, RecordSealer([TEST_TOKEN_CACHE_KEY], "signin"))
    with pytest.raises(SignInFailed, match="too large"):
        store.save(PendingSignIn(flow={"state": "s"}, claims="c" * 20_000))
    assert redis_client.keys("signin:*") == []


def test_an_untrusted_forwarded_for_does_not_change_the_limited_address(start_app, redis_client):
    live = start_app(TRUSTED_PROXY_HOPS=0)
    client = live.app.test_client(use_cookies=False)
    for i in range(LIMIT):
        assert client.get("/auth/login", environ_base={"REMOTE_ADDR": ATTACKER},
                          headers={"X-Forwarded-For": f"192.0.2.{i}"}).status_code == 302
    # A fresh forged address each time: still the same peer, still refused.
    for forged in ("192.0.2.99", "198.51.100.1, 192.0.2.98", "unknown", ""):
        assert_too_many_page(client.get("/auth/login", environ_base={"REMOTE_ADDR": ATTACKER},
                                        headers={"X-Forwarded-For": forged}))
    assert [k.decode() for k in redis_client.keys("ratelimit:*")] == [
        f"ratelimit:LIMITER/{ATTACKER}/sign-in-start/{LIMIT}/1/minute"]
    # Another peer is not affected.
    assert client.get("/auth/login", environ_base={"REMOTE_ADDR": "203.0.113.67"}).status_code == 302


def test_ipv6_clients_are_counted_per_64_prefix(live, redis_client):
    client = live.app.test_client(use_cookies=False)
    for i in range(LIMIT):
        assert client.get("/auth/login", environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{i + 1:x}"}).status_code == 302
    refused = client.get("/auth/login", environ_base={"REMOTE_ADDR": "2001:db8:1:2:ffff:1:2:3"})
    assert_too_many_page(refused)
    assert client.get("/auth/login", environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"}).status_code == 302


def test_redis_down_makes_a_sign_in_start_the_503_page_not_a_500(emulator, redis_server):
    app = create_app(app_settings(emulator, redis_server, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"))
    client = app.test_client(use_cookies=False)
    for path in ("/auth/login?next=/orders", "/orders"):
        started = time.monotonic()
        response = client.get(path)
        assert response.status_code == 503, (path, response.status_code, response.get_data(as_text=True)[:300])
        page = response.get_data(as_text=True)
        assert "Temporarily unavailable" in page and "try again" in page
        assert response.headers.get("Retry-After", "").isdigit()
        assert "Traceback" not in page and "__Host-signin" not in response.headers.get("Set-Cookie", "")
        assert time.monotonic() - started < 5


def test_a_limited_api_route_answers_429_json_with_retry_after(emulator, redis_server, redis_client):
    app: Flask = create_app(app_settings(emulator, redis_server))
    limiter = app.extensions["entra_auth.rate_limits"].limiter

    @app.get("/api/probe")
    @limiter.limit("2 per minute")
    def probe():
        return {"ok": True}

    client = app.test_client()
    assert [client.get("/api/probe").status_code for _ in range(2)] == [200, 200]
    refused = client.get("/api/probe")
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/json"
    body = refused.get_json()
    assert body["error"] == "too_many_requests" and body["request_id"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60 and body["retry_after"] == int(refused.headers["Retry-After"])


@pytest.mark.parametrize("value", ["twenty per minute", "0 per minute", ""])
def test_an_unusable_sign_in_rate_limit_refuses_to_start(emulator, redis_server, value):
    import config

    with pytest.raises(config.ConfigError, match="SIGNIN_RATE_LIMIT"):
        create_app(app_settings(emulator, redis_server, SIGNIN_RATE_LIMIT=value))


def test_the_limit_is_configurable(start_app, redis_client):
    live = start_app(SIGNIN_RATE_LIMIT="3 per minute")
    client = live.app.test_client(use_cookies=False)
    assert [client.get("/auth/login").status_code for _ in range(4)] == [302, 302, 302, 429]
    # One count for every way in to sign-in: an anonymous visit to a page that needs it too.
    assert_too_many_page(client.get("/orders"))


def test_the_limit_fails_closed_when_its_counter_cannot_be_reached(live, redis_client):
    """On a cluster the counter and the flows live on different nodes: with the counter's node out,
    failing open would let a flood write flows to the others. The start is the 503 page instead."""
    import redis

    storage = live.app.extensions["entra_auth.rate_limits"].limiter.storage
    storage.storage = redis.Redis(port=free_port(), socket_timeout=1, socket_connect_timeout=1)
    storage.initialize_storage("")  # its scripts are bound to the client
    client = live.app.test_client(use_cookies=False)
    response = client.get("/auth/login?next=/orders")
    assert response.status_code == 503 and "Temporarily unavailable" in response.get_data(as_text=True)
    assert response.headers.get("Retry-After", "").isdigit()
    assert redis_client.keys("signin:*") == [], "nothing was written while the count was unknown"


def test_the_limiter_adds_no_work_to_requests_that_start_no_sign_in(emulator, redis_server, redis_client):
    """Flask-Limiter's request-wide hooks are dropped (about 0.2 ms a page, bench/run): the limits are
    checked where they apply, and still hold (the tests above)."""
    app: Flask = create_app(app_settings(emulator, redis_server))
    limiter = app.extensions["entra_auth.rate_limits"].limiter
    assert not [f for f in app.before_request_funcs[None] if getattr(f, "__self__", None) is limiter]
    assert not [f for f in app.after_request_funcs[None] if limiter in getattr(f, "args", ())]
    assert not [f for f in app.teardown_request_funcs.get(None, []) if getattr(f, "__self__", None) is limiter]
    client = app.test_client(use_cookies=False)
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert redis_client.keys("ratelimit:*") == [], "a request that starts no sign-in counts nothing"


def test_a_refusal_leaves_no_limit_state_for_the_next_request(start_app, redis_client):
    """Without Flask-Limiter's teardown reset: its per-request state lives on the request context."""
    live = start_app(SIGNIN_RATE_LIMIT="1 per minute")
    limiter = live.app.extensions["entra_auth.rate_limits"].limiter
    seen = []

    @live.app.teardown_request
    def _after(_exc):
        seen.append(limiter.current_limit)

    client = live.app.test_client(use_cookies=False)
    assert [client.get("/auth/login").status_code for _ in range(2)] == [302, 429]
    assert seen[-1] is not None, "the refused request knew its limit"
    assert client.get("/healthz").status_code == 200
    assert seen[-1] is None, "the refused request's limit is not the next request's"
