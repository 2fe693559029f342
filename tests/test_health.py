"""Liveness and readiness against the real emulator and a real Redis."""

from app import create_app
from localdev.embedded_redis import EmbeddedRedis

from .conftest import app_settings


def test_healthz_answers(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}
    assert resp.headers["X-Request-Id"]


def test_readyz_is_ready_when_redis_and_the_identity_provider_answer(client, control):
    resp = client.get("/readyz")
    assert resp.status_code == 200, resp.get_json()
    discovery = [e for e in control.requests() if e["endpoint"] == "discovery"]
    assert len(discovery) == 1
    client.get("/readyz")
    assert len([e for e in control.requests() if e["endpoint"] == "discovery"]) == 1, "metadata is fetched once"


def test_readyz_names_the_identity_provider_when_its_metadata_cannot_load(emulator, redis_server, control):
    control.fault("discovery", mode="fail", status=503)
    client = create_app(app_settings(emulator, redis_server)).test_client()
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["failing"] == ["identity provider"]


def test_readyz_names_redis_when_it_is_down_and_recovers_when_it_returns(emulator, tmp_path):
    redis_server = EmbeddedRedis(tmp_path / "redis").start()
    client = create_app(app_settings(emulator, redis_server.url)).test_client()
    assert client.get("/readyz").status_code == 200
    redis_server.stop()
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.get_json()["failing"] == ["redis"]
    assert client.get("/healthz").status_code == 200, "liveness stays up while Redis is down"
    redis_server.start()
    try:
        assert client.get("/readyz").status_code == 200
    finally:
        redis_server.stop()


def test_unknown_page_is_a_friendly_404_without_a_stack_trace(client):
    resp = client.get("/no-such-page")
    assert resp.status_code == 404
    assert b"Traceback" not in resp.data and b"<h1>Page not found</h1>" in resp.data
    assert b"was not found on the server" not in resp.data, "not werkzeug's stock sentence"
    assert b'<a href="/">Go to the home page</a>' in resp.data, "a way on"


def test_api_only_deployment_has_no_web_pages(emulator, redis_server):
    client = create_app(app_settings(emulator, redis_server, ENABLED_BLUEPRINTS=["api"])).test_client()
    assert client.get("/").status_code == 404
    assert client.get("/healthz").status_code == 200
