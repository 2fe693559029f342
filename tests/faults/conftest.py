"""Fixtures of the fault tests: one app instance as a gunicorn process (the Procfile's line, over
HTTPS, one worker so that "warm" means the same thing for every request), on a Redis of its own
that tests stop, restart (same port, same data folder: append-only persistence) and pause."""

from __future__ import annotations

import pytest

from entra_auth.http import build_http_session
from localdev.embedded_redis import EmbeddedRedis
from tests.scale.conftest import AppInstance, start_instances, stop_all
from tests.scale.conftest import bearer_for, new_browser, redis_topology  # noqa: F401 - fixtures
from tests.web.conftest import sign_in, start_app  # noqa: F401 - start_app is a fixture

MEGAN = "megan@contoso.example"

INSTANCE_PORT_INDEX = 2  # LIVE_APP_PORTS[2]: tests/web's start_app takes 0 and 1 first


@pytest.fixture(scope="package")
def faulty_redis(tmp_path_factory) -> EmbeddedRedis:
    server = EmbeddedRedis(tmp_path_factory.mktemp("faulty-redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def instance(emulator, faulty_redis, tmp_path_factory) -> AppInstance:
    [started] = start_instances(emulator, faulty_redis.url, tmp_path_factory.mktemp("fault-instance"), 1,
                                first_port=INSTANCE_PORT_INDEX, WEB_CONCURRENCY="1")
    yield started
    stop_all([started])


@pytest.fixture
def app_instance(instance, faulty_redis) -> AppInstance:
    """The instance, its Redis up and empty; and afterwards, no request ended in the catch-all 500."""
    if faulty_redis.process is None:  # a test that failed half-way left it stopped
        faulty_redis.start()
    faulty_redis.resume()
    client = faulty_redis_client(faulty_redis)
    client.flushall()
    client.close()
    mark = len(instance.unhandled_errors())
    yield instance
    if faulty_redis.process is None:
        faulty_redis.start()
    faulty_redis.resume()
    assert instance.unhandled_errors()[mark:] == [], "a request ended in the catch-all 500 handler"


def faulty_redis_client(server: EmbeddedRedis):
    import redis

    return redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=2)


@pytest.fixture
def signed_in(app_instance, new_browser, bearer_for, emulator):
    """Megan, signed in, with an order placed through the API tier (her bearer token)."""
    bearer = bearer_for(MEGAN)
    with build_http_session(str(emulator.ca_path)) as http:
        created = http.post(f"{app_instance.url}/api/orders", json={"item": "Persistent chair", "quantity": 2},
                            headers=bearer)
    assert created.status_code == 201, created.text
    browser = new_browser()
    page = sign_in(browser, app_instance, MEGAN, "/orders")
    assert "Persistent chair" in page.text
    assert "Marketing Manager" in browser.http.get(f"{app_instance.url}/profile").text  # on-behalf-of cached too
    return browser, bearer
