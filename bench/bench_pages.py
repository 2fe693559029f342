"""A signed-in page, the API, and load: side by side, in one run, under identical gunicorn settings.

Measures, against the emulator and one Redis:
  * ``/orders`` of the Orders app (session and token cache from Redis, the
    user's API token from the cache, the API tier in-process, its orders) vs
    a bare Flask route doing the same Redis reads and rendering the same
    template, vs the same page built the way Microsoft's ``identity`` library
    builds it (its Flask adapter, token cache in the session);
  * Redis commands and identity-provider calls per page and per API request;
  * ``/api/orders`` throughput with bearer validation vs the same handler
    without authentication, under a bounded load generator;
  * a load run: N signed-in users for a fixed time (errors, cross-user
    mix-ups, identity-provider calls per 1000 requests).
"""

from __future__ import annotations

import html
import json
import re
import statistics
import threading
import time
from dataclasses import dataclass

import msal
import redis as redis_lib

from bench.stack import API_CLIENT_ID, HOME_TENANT_ID, Stack
from entra_auth.sealed_records import RecordSealer
from entra_auth.http import build_http_session
from localdev.browser import Browser
from orders_store import OrderStore

MEGAN = "megan@contoso.example"
MEGAN_OID = "a0000001-0000-4000-8000-000000000001"
DAEMON_CLIENT_ID = "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716"
IDP_ENDPOINTS = {"discovery", "jwks", "authorize", "token", "logout", "msi"}


@dataclass
class PageTiming:
    server_ms: float  # median over rounds of the mean server-side time (gunicorn's %(D)s)
    client_ms: float  # the same, seen by the client (TLS, keep-alive, Python client included)


def idp_calls(stack: Stack, since: int) -> int:
    return sum(1 for e in stack.emulator.emulator.state.log if e["seq"] > since and e.get("endpoint") in IDP_ENDPOINTS)


def last_seq(stack: Stack) -> int:
    log = stack.emulator.emulator.state.log
    return log[-1]["seq"] if log else 0


def redis_calls(client: redis_lib.Redis) -> int:
    stats = client.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_info",))


def seed_orders(stack: Stack, count: int = 5) -> None:
    store = OrderStore(redis_lib.Redis.from_url(stack.redis.url))
    for i in range(count):
        store.create(tid=HOME_TENANT_ID, owner_oid=MEGAN_OID, owner_name="Megan Bowen", item=f"Item {i}",
                     quantity=i + 1, note="benchmark")


def sign_in(stack: Stack, name: str, username: str = MEGAN) -> Browser:
    browser = Browser(str(stack.emulator.ca_path))
    page = browser.get(f"{stack.url(name)}/orders", as_user=username)
    refresh = re.search(r"http-equiv='refresh' content='0; URL=([^']+)'", page.text)
    if refresh:  # the identity library's sign-in page sends the browser on with a meta refresh
        page = browser.get(html.unescape(refresh.group(1)), as_user=username)
    assert page.status_code == 200, (name, page.status_code, page.text[:300])
    return browser


def bare_keys(stack: Stack, browser: Browser) -> dict:
    """The Redis keys the Orders app reads for this user's /orders."""
    client = redis_lib.Redis.from_url(stack.redis.url)
    (cache_key,) = client.keys("tokencache:user:*")
    return {
        # Named by a keyed hash of the cookie value (entra_auth/sealed_records.py), as the app names it.
        "session": "session:" + RecordSealer([stack.token_cache_key], "session").digest(browser.cookie("__Host-session")),
        "token_cache": cache_key.decode(),
        "index": f"orders:{{{HOME_TENANT_ID}}}:by-owner:{MEGAN_OID}",
        "order_prefix": f"orders:{{{HOME_TENANT_ID}}}:order:",
        "tid": HOME_TENANT_ID,
        "oid": MEGAN_OID,
        "name": "Megan Bowen",
    }


def time_pages(stack: Stack, browsers: dict[str, Browser], path: str, *, rounds: int, per_round: int
               ) -> dict[str, PageTiming]:
    """Interleaved rounds: each app in turn, so drift in machine load touches all of them alike."""
    served = {s.name: s for s in stack.served}
    server: dict[str, list[float]] = {n: [] for n in browsers}
    client: dict[str, list[float]] = {n: [] for n in browsers}
    for r in range(rounds):
        order = list(browsers)[r % len(browsers):] + list(browsers)[:r % len(browsers)]
        for name in order:
            http = browsers[name].http
            served[name].mark()
            start = time.perf_counter()
            for _ in range(per_round):
                response = http.get(f"{stack.url(name)}{path}", allow_redirects=False)
                assert response.status_code == 200, (name, response.status_code)
            client[name].append((time.perf_counter() - start) / per_round)
            times = served[name].server_times_since_mark(path)
            server[name].append(statistics.fmean(times))
    return {n: PageTiming(statistics.median(server[n]) * 1e3, statistics.median(client[n]) * 1e3) for n in browsers}


def per_request_costs(stack: Stack, name: str, do_request, n: int = 50) -> tuple[float, float]:
    """(Redis commands, identity-provider calls) per request, in steady state."""
    client = redis_lib.Redis.from_url(stack.redis.url)
    do_request()  # warm
    before_redis, before_idp = redis_calls(client), last_seq(stack)
    for _ in range(n):
        do_request()
    after = redis_calls(client)
    return (after - before_redis - 1) / n, idp_calls(stack, before_idp) / n  # -1: the INFO call's own


def app_token(stack: Stack) -> str:
    """An app-only token (daemon, Orders.Read.All) for the throughput runs."""
    app = msal.ConfidentialClientApplication(
        DAEMON_CLIENT_ID, client_credential="dev-only-daemon-secret",
        authority=f"{stack.emulator.url}/{HOME_TENANT_ID}", instance_discovery=False,
        http_client=build_http_session(str(stack.emulator.ca_path)))
    return app.acquire_token_for_client([f"api://{API_CLIENT_ID}/.default"])["access_token"]


def throughput(url: str, headers: dict[str, str], ca: str, *, seconds: float, concurrency: int) -> float:
    """Requests per second from ``concurrency`` keep-alive clients for ``seconds`` (all must be 200)."""
    counts = [0] * concurrency
    failures: list[int] = []
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        http = build_http_session(ca)
        while time.monotonic() < stop:
            response = http.get(url, headers=headers)
            if response.status_code != 200:
                failures.append(response.status_code)
            counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, f"failures: {failures[:5]}"
    return sum(counts) / (time.monotonic() - start)


def load_run(stack: Stack, *, users: int, seconds: float) -> dict:
    """``users`` signed-in load users hitting /profile and /orders for ``seconds``: every page checked."""
    browsers = []
    for i in range(1, users + 1):
        username = f"loaduser{i:02d}@contoso.example"
        browser = sign_in(stack, "orders", username)
        browser.http.get(f"{stack.url('orders')}/profile")  # warm: the on-behalf-of token is cached
        browsers.append((browser, f"c0000003-0000-4000-8000-{i:012d}", f"Load User {i:02d}"))
    errors, mixups, done, latencies = [], [], [0] * users, []
    before_idp = last_seq(stack)
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        browser, oid, name = browsers[i]
        paths = ("/profile", "/orders")
        while time.monotonic() < stop:
            path = paths[done[i] % 2]
            start = time.perf_counter()
            response = browser.http.get(f"{stack.url('orders')}{path}", allow_redirects=False)
            latencies.append(time.perf_counter() - start)
            done[i] += 1
            if response.status_code != 200:
                errors.append(response.status_code)
                continue
            seen = set(re.findall(r"c0000003-0000-4000-8000-\d{12}", response.text))
            names = set(re.findall(r"Load User \d\d", response.text))
            if (path == "/profile" and seen != {oid}) or names != {name}:
                mixups.append((oid, sorted(seen), sorted(names)))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(done)
    latencies.sort()
    return {
        "users": users, "seconds": seconds, "requests": total, "errors": len(errors), "mixups": len(mixups),
        "idp_calls_per_1000": 1000 * idp_calls(stack, before_idp) / total,
        "p50_ms": latencies[len(latencies) // 2] * 1e3, "p95_ms": latencies[int(len(latencies) * 0.95)] * 1e3,
        "requests_per_second": total / seconds,
    }


def run(stack: Stack, *, rounds: int, per_round: int, throughput_seconds: float, load_users: int,
        load_seconds: float) -> dict:
    ca = str(stack.emulator.ca_path)
    seed_orders(stack)
    stack.serve("orders", "app:create_app()", stack.app_env("orders"))
    stack.serve("identity", "bench.identity_app:create_app()", stack.app_env("identity"))
    ours = sign_in(stack, "orders")
    theirs = sign_in(stack, "identity")
    keys = bare_keys(stack, ours)
    stack.serve("bare", "bench.bare_app:create_app()", stack.app_env("bare", BENCH_BARE_KEYS=json.dumps(keys)))
    bare = Browser(ca)
    browsers = {"orders": ours, "bare": bare, "identity": theirs}
    for name, browser in browsers.items():
        for _ in range(20):  # warm: connections, caches, the bare app's CSRF cookie
            assert browser.http.get(f"{stack.url(name)}/orders").status_code == 200
    pages = time_pages(stack, browsers, "/orders", rounds=rounds, per_round=per_round)

    costs = {name: per_request_costs(stack, name, lambda b=b, n=name: b.http.get(f"{stack.url(n)}/orders"))
             for name, b in browsers.items()}
    token = app_token(stack)
    api_headers = {"Authorization": f"Bearer {token}"}
    api_http = build_http_session(ca)
    costs["api"] = per_request_costs(
        stack, "api", lambda: api_http.get(f"{stack.url('orders')}/api/orders", headers=api_headers))

    rates: dict[str, list[float]] = {"authenticated": [], "open": []}
    for _ in range(2):  # alternate, twice
        rates["authenticated"].append(throughput(f"{stack.url('orders')}/api/orders", api_headers, ca,
                                                 seconds=throughput_seconds, concurrency=8))
        rates["open"].append(throughput(f"{stack.url('bare')}/api/orders-open", {}, ca,
                                        seconds=throughput_seconds, concurrency=8))
    load = load_run(stack, users=load_users, seconds=load_seconds)
    return {"pages": pages, "costs": costs, "rates": {k: statistics.fmean(v) for k, v in rates.items()},
            "load": load}
