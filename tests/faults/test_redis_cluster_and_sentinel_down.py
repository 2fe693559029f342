"""Redis Cluster and Redis Sentinel failing under the app, as the single server does in
test_redis_down.py: the app starts while they are down (nothing talks to Redis at start-up) and
serves once they return; an outage mid-session is a 503 page and a 503 JSON answer (a cluster
client reports an unreachable cluster with an exception that is not a ``redis.RedisError``), and
the same session works afterwards; one hung cluster node costs seconds, not the worker timeout;
/readyz names Redis as soon as any primary of the cluster is down, not only the one it happens to
ping."""

from __future__ import annotations

import time

import pytest
import redis
from redis.exceptions import RedisClusterException

from app import create_app
from entra_auth.http import build_http_session
from entra_auth.redis_client import connect
from tests.conftest import app_settings
from tests.stored_records import session_key
from tests.web.conftest import sign_in

from .conftest import MEGAN
from .test_redis_down import SECONDS, assert_unavailable_api, assert_unavailable_page

SESSION_COOKIE = "__Host-session"


@pytest.fixture(params=["cluster", "sentinel"])
def topology(request, redis_topology):
    topology = redis_topology(request.param)
    topology.wait_until_serving()
    topology.flush()
    yield topology
    if all(node.process is None for node in topology.nodes):  # a test that failed half-way
        topology.start()
    elif topology.kind == "sentinel":
        topology.server.resume()
    else:
        for node in topology.nodes:
            node.resume()


@pytest.fixture
def cluster(redis_topology):
    topology = redis_topology("cluster")
    topology.wait_until_serving()
    topology.flush()
    yield topology
    for node in topology.nodes:
        if node.process is None:
            node.start()
        else:
            node.resume()
    topology.wait_until_serving()


def readyz(client) -> tuple[int, list[str], float]:
    started = time.monotonic()
    response = client.get("/readyz")
    return response.status_code, response.get_json().get("failing", []), time.monotonic() - started


def test_the_app_starts_while_redis_is_down_and_serves_once_it_returns(topology, emulator):
    topology.stop()
    app = create_app(app_settings(emulator, topology.url))  # a cluster client used to connect right here
    client = app.test_client()
    status, failing, took = readyz(client)
    assert (status, failing) == (503, ["redis"]) and took < SECONDS
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 200, "a visitor without a session needs no Redis"
    topology.start()
    assert readyz(client)[:2] == (200, [])


def test_redis_down_mid_session_is_a_503_and_the_same_session_works_when_it_returns(
        topology, start_app, new_browser, bearer_for, emulator):
    live = start_app(REDIS_URL=topology.url)
    bearer = bearer_for(MEGAN)
    browser = new_browser()
    sign_in(browser, live, MEGAN, "/orders")
    cookie = browser.cookie(SESSION_COOKIE)
    assert topology.keys("session:*") == {session_key(cookie)}, "the session is in this topology"
    api = build_http_session(str(emulator.ca_path))

    topology.stop()
    for path in ("/orders", "/profile", "/"):
        started = time.monotonic()
        assert_unavailable_page(browser.http.get(f"{live.url}{path}", allow_redirects=False))
        assert time.monotonic() - started < SECONDS
    assert_unavailable_api(api.get(f"{live.url}/api/orders", headers=bearer))

    topology.start()
    page = browser.http.get(f"{live.url}/orders", allow_redirects=False)
    assert page.status_code == 200 and "Megan Bowen" in page.text, (page.status_code, page.text[:300])
    assert browser.cookie(SESSION_COOKIE) == cookie
    assert api.get(f"{live.url}/api/orders", headers=bearer).status_code == 200
    api.close()


def test_a_hung_redis_costs_seconds_not_the_worker_timeout(topology, start_app, new_browser):
    """A cluster: the node that holds the session hangs. Sentinel: the master and the Sentinel hang, so
    the second request, on a new connection, asks the Sentinel where the master is."""
    live = start_app(REDIS_URL=topology.url)
    browser = new_browser()
    sign_in(browser, live, MEGAN, "/orders")
    client = live.app.test_client()
    if topology.kind == "cluster":
        # For less than the cluster's node timeout: the other primaries still count it in.
        hung = topology.node_for(session_key(browser.cookie(SESSION_COOKIE)))
    else:
        hung = topology.server
    hung.pause()
    try:
        for attempt in range(1 if topology.kind == "cluster" else 2):
            started = time.monotonic()
            assert_unavailable_page(browser.http.get(f"{live.url}/orders", allow_redirects=False, timeout=40))
            took = time.monotonic() - started
            # redis-py's own retries took 15-20 s (a cluster node) and 25 s (a Sentinel) here.
            assert took < SECONDS, f"request {attempt + 1}: {took:.1f} s"
        status, failing, took = readyz(client)
        assert (status, failing) == (503, ["redis"]) and took < SECONDS
    finally:
        hung.resume()
    assert browser.http.get(f"{live.url}/orders", allow_redirects=False).status_code == 200
    assert readyz(client)[:2] == (200, [])


def test_readyz_names_redis_when_any_one_primary_of_the_cluster_is_down(cluster, emulator):
    client = create_app(app_settings(emulator, cluster.url)).test_client()
    assert readyz(client)[:2] == (200, [])
    for node in cluster.nodes:  # whichever node a single PING would have gone to
        node.stop()
        try:
            status, failing, took = readyz(client)
            assert (status, failing) == (503, ["redis"]) and took < SECONDS, node.port
        finally:
            node.start()
        cluster.wait_until_serving()
        assert readyz(client)[:2] == (200, [])


def test_a_cross_slot_command_stays_a_bug_and_is_not_disguised_as_an_outage(cluster):
    """Only "cannot reach the cluster" becomes a 503; keys that do not share a hash tag in one command
    (what every multi-key operation of the app avoids) still fail loudly."""
    client = connect(cluster.url)
    client.set("orders:{t1}:a", "1")
    assert client.mget(["orders:{t1}:a", "orders:{t1}:b"]) == [b"1", None]  # one tag, one slot
    with pytest.raises(RedisClusterException, match="same key slot") as raised:
        client.mget(["orders:{t1}:a", "orders:{t2}:a"])
    assert not isinstance(raised.value, redis.RedisError)
    client.close()


def test_an_anonymous_sign_in_start_while_redis_is_down_is_the_503_page(topology, start_app, emulator):
    """The sign-in rate limit counts in the same topology through the app's own client: a cluster's
    "cannot connect" (not a ``redis.RedisError`` by itself) is still the 503 page, never a 500; and
    the limit works on a cluster (its Lua scripts run on the counter's slot) and through Sentinel."""
    live = start_app(REDIS_URL=topology.url, SIGNIN_RATE_LIMIT="2 per minute")
    anonymous = build_http_session(str(emulator.ca_path))
    login = f"{live.url}/auth/login?next=/orders"
    topology.stop()
    started = time.monotonic()
    assert_unavailable_page(anonymous.get(login, allow_redirects=False))
    assert time.monotonic() - started < SECONDS
    topology.start()
    topology.wait_until_serving()
    assert [anonymous.get(login, allow_redirects=False).status_code for _ in range(3)] == [302, 302, 429]
    assert topology.keys("ratelimit:*"), "counted in this topology"
    anonymous.close()
