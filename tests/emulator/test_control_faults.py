"""Endpoint faults of the control surface: fail, slow, and for a while (seconds / count)."""

from __future__ import annotations

import time

import msal
import pytest
import requests

from entra_auth.http import build_http_session
from tests.conftest import API_DEFAULT, DAEMON_CLIENT_ID, HOME_TENANT_ID, confidential_app

from .helpers import assert_entra_error


def _probe(emulator, endpoint: str) -> str:
    """A URL answered by ``endpoint`` (without fault it answers 2xx or an ordinary 4xx)."""
    base = f"{emulator.url}/{HOME_TENANT_ID}"
    return {
        "discovery": f"{base}/v2.0/.well-known/openid-configuration",
        "jwks": f"{base}/discovery/v2.0/keys",
        "authorize": f"{base}/oauth2/v2.0/authorize",
        "token": f"{base}/oauth2/v2.0/token",
        "logout": f"{base}/oauth2/v2.0/logout",
        "msi": f"{emulator.url}/msi/token",
        "graph": f"{emulator.url}/v1.0/me",
    }[endpoint]


ENDPOINTS = ["discovery", "jwks", "authorize", "token", "logout", "msi", "graph"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_fail_fault_with_count_hits_that_endpoint_only_then_expires(emulator, http, control, endpoint):
    control.fault(endpoint, mode="fail", status=500, count=2)
    url = _probe(emulator, endpoint)
    for _ in range(2):
        resp = http.get(url)
        assert resp.status_code == 500
        assert_entra_error(resp.json(), "temporarily_unavailable", 90033)
    assert http.get(url).status_code not in (500, 503)
    # Other endpoints were never affected.
    other = "jwks" if endpoint != "jwks" else "discovery"
    control.fault(endpoint, mode="fail", status=500)
    assert http.get(_probe(emulator, other)).status_code == 200


def test_fail_fault_reaches_msal_as_a_service_error(emulator, http, control):
    control.fault("token", mode="fail", status=503)
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID)
    seq = control.last_seq()
    with pytest.raises(msal.exceptions.MsalServiceError, match="503"):
        app.acquire_token_for_client([API_DEFAULT])
    # MSAL then throttles that client id + scope for Retry-After: no second request leaves.
    with pytest.raises(msal.exceptions.MsalServiceError):
        app.acquire_token_for_client([API_DEFAULT])
    calls = [e for e in control.requests(seq) if e["endpoint"] == "token"]
    assert [e["status"] for e in calls] == [503]
    assert calls[0]["error"] == {"error": "emulated_fault", "status": 503}


def test_fail_fault_answers_with_retry_after(emulator, http, control):
    control.fault("token", mode="fail", status=429)
    resp = http.post(_probe(emulator, "token"), data={"grant_type": "client_credentials"})
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "1"
    assert_entra_error(resp.json(), "temporarily_unavailable", 50196)


def test_fail_fault_on_discovery_stops_msal_at_construction(emulator, http, control):
    control.fault("discovery", mode="fail", status=503)
    with pytest.raises(msal.exceptions.MsalServiceError, match="503"):
        confidential_app(emulator, http, DAEMON_CLIENT_ID)


def test_fail_fault_for_some_seconds_expires(emulator, http, control):
    control.fault("jwks", mode="fail", status=503, seconds=0.6)
    url = _probe(emulator, "jwks")
    assert http.get(url).status_code == 503
    assert http.get(url).status_code == 503  # not one-shot: it lasts the whole window
    time.sleep(0.7)
    assert http.get(url).status_code == 200


def test_wildcard_fault_hits_every_endpoint(emulator, http, control):
    control.fault("*", mode="fail", status=502, count=3)
    statuses = [http.get(_probe(emulator, e)).status_code for e in ("discovery", "jwks", "msi", "graph")]
    assert statuses == [502, 502, 502, 401]  # the count is shared; graph then answers normally (no token)


def test_slow_fault_delays_the_answer(emulator, http, control):
    control.fault("discovery", mode="slow", delay=0.5, count=1)
    url = _probe(emulator, "discovery")
    started = time.perf_counter()
    resp = http.get(url)
    slow = time.perf_counter() - started
    assert resp.status_code == 200 and slow >= 0.5
    started = time.perf_counter()
    assert http.get(url).status_code == 200
    assert time.perf_counter() - started < 0.5


def test_slow_token_endpoint_delays_msal(emulator, http, control):
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID)
    control.fault("token", mode="slow", delay=0.4)
    started = time.perf_counter()
    result = app.acquire_token_for_client([API_DEFAULT])
    assert "access_token" in result and time.perf_counter() - started >= 0.4


def test_slow_fault_beyond_the_client_timeout_is_a_timeout(emulator, control):
    impatient = build_http_session(str(emulator.ca_path), timeout=(1.0, 0.3))
    control.fault("jwks", mode="slow", delay=0.8, count=1)
    with pytest.raises(requests.Timeout):
        impatient.get(_probe(emulator, "jwks"))


def test_slow_fault_can_also_fail(emulator, http, control):
    control.fault("msi", mode="fail", status=504, delay=0.3)
    started = time.perf_counter()
    assert http.get(_probe(emulator, "msi")).status_code == 504
    assert time.perf_counter() - started >= 0.3


def test_faults_can_be_cleared(emulator, http, control):
    control.fault("jwks", mode="fail")
    assert http.get(_probe(emulator, "jwks")).status_code == 503
    assert http.delete(f"{control.base}/faults").status_code == 204
    assert http.get(_probe(emulator, "jwks")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/faults", {"endpoint": "nowhere"}, 400),
        ("post", "/faults", {"endpoint": "token", "mode": "flaky"}, 400),
        ("post", "/faults", {"endpoint": "token", "status": 200}, 400),
        ("post", "/faults", {"endpoint": "token", "mode": "slow", "delay": 61}, 400),
        ("post", "/faults", {"endpoint": "token", "count": "many"}, 400),
        ("post", "/token-faults", {"fault": "spicy"}, 400),
        ("post", "/token-faults", {"fault": "expired", "token_type": "refresh_token"}, 400),
        ("post", "/settings", {"access_token_lifetime": 0}, 400),
        ("post", "/settings", {"id_token_lifetime": "1h"}, 400),
        ("post", "/settings", {"single_use_refresh_tokens": "yes"}, 400),
        ("put", "/users/megan@contoso.example/roles", {"roles": "Orders.Admin"}, 400),
        ("put", "/users/nobody@contoso.example/roles", {"roles": []}, 404),
        ("post", "/users/nobody@contoso.example/revoke", {}, 404),
    ],
)
def test_control_surface_refuses_bad_requests(emulator, http, control, method, path, body, status):
    resp = http.request(method, f"{control.base}{path}", json=body)
    assert resp.status_code == status
    assert resp.json()["error"]
    assert emulator.emulator.state.endpoint_faults == {} and emulator.emulator.state.token_faults == []
