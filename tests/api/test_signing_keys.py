"""Signing keys: rotation, the rate-limited refetch for unknown kids, and identity-provider outages."""

from __future__ import annotations

import os
import threading
import time

import pytest

from .helpers import assert_invalid_token, b64url, bearer, claims_of, header_of, jwks_fetches, sign_rs256

COOLDOWN = 30


def _forged_unknown_kid(claims: dict, rogue_key) -> str:
    return sign_rs256({"alg": "RS256", "typ": "JWT", "kid": b64url(os.urandom(20))}, claims, rogue_key)


def _clear_faults(control) -> None:
    assert control.http.delete(f"{control.base}/faults").status_code == 204


def _assert_unavailable(resp) -> None:
    assert resp.status_code == 503, (resp.status_code, resp.data[:300])
    assert resp.mimetype == "application/json"
    assert resp.get_json()["error"] == "temporarily_unavailable"
    assert resp.headers["Retry-After"].isdigit()
    assert "invalid_token" not in resp.headers.get("WWW-Authenticate", ""), "an outage is not the caller's fault"


# -- rotation -------------------------------------------------------------------------------------
def test_a_token_from_a_freshly_rotated_key_passes_right_after_warm_up(make_app, tokens, control):
    client = make_app().test_client()
    assert client.get("/api/orders", headers=bearer(tokens.daemon())).status_code == 200  # keys warm
    control.rotate_keys(emergency=True)
    token = tokens.client_credentials(fresh=True)
    seq = control.last_seq()
    resp = client.get("/api/orders", headers=bearer(token))
    assert resp.status_code == 200, resp.headers.get("WWW-Authenticate")
    assert len(jwks_fetches(control, seq)) == 1


def test_a_token_from_a_rotated_key_passes_after_one_refetch_and_forged_kids_add_none(
    make_app, clocked_keys, tokens, control, rogue_key
):
    client_app = make_app()
    clock = clocked_keys(client_app)
    client = client_app.test_client()
    old_token = tokens.daemon()
    assert client.get("/api/orders", headers=bearer(old_token)).status_code == 200
    assert len(jwks_fetches(control)) == 1

    rotated = control.rotate_keys(emergency=True)
    new_token = tokens.client_credentials(fresh=True)
    assert header_of(new_token)["kid"] == rotated["active"] != header_of(old_token)["kid"]
    clock.advance(COOLDOWN + 1)
    seq = control.last_seq()
    assert client.get("/api/orders", headers=bearer(new_token)).status_code == 200
    assert len(jwks_fetches(control, seq)) == 1, "the unknown kid is fetched exactly once"
    assert client.get("/api/orders", headers=bearer(new_token)).status_code == 200
    assert client.get("/api/orders", headers=bearer(old_token)).status_code == 200, "the retired key still validates"

    # A burst of forged kids inside the cooldown: refused, and no JWKS request at all.
    seq = control.last_seq()
    claims = claims_of(new_token)
    for _ in range(25):
        clock.advance(0.5)
        forged = _forged_unknown_kid(claims, rogue_key)
        assert_invalid_token(client.get("/api/orders", headers=bearer(forged)), "unknown signing key", forged)
    assert jwks_fetches(control, seq) == []

    # Once the cooldown has passed, the next unknown kid may cause one more fetch, not more.
    clock.advance(COOLDOWN)
    for _ in range(5):
        client.get("/api/orders", headers=bearer(_forged_unknown_kid(claims, rogue_key)))
    assert len(jwks_fetches(control, seq)) == 1


def test_a_burst_of_forged_kids_on_a_cold_worker_loads_the_jwks_once_and_refetches_at_most_once(
    make_app, tokens, control, rogue_key
):
    client = make_app().test_client()
    claims = claims_of(tokens.user())
    for _ in range(40):
        forged = _forged_unknown_kid(claims, rogue_key)
        assert_invalid_token(client.get("/api/orders", headers=bearer(forged)), "unknown signing key", forged)
    assert 1 <= len(jwks_fetches(control)) <= 2, "the first load, then at most one refetch per cooldown"
    assert client.get("/api/orders", headers=bearer(tokens.user())).status_code == 200
    assert len(jwks_fetches(control)) <= 2


def test_a_concurrent_burst_of_forged_kids_fetches_the_jwks_at_most_once(make_app, tokens, control, rogue_key):
    app = make_app()
    client = app.test_client()
    assert client.get("/api/orders", headers=bearer(tokens.user())).status_code == 200
    seq = control.last_seq()
    claims = claims_of(tokens.user())
    statuses: list[int] = []

    def attack():
        own = app.test_client()
        for _ in range(5):
            statuses.append(own.get("/api/orders", headers=bearer(_forged_unknown_kid(claims, rogue_key))).status_code)

    threads = [threading.Thread(target=attack) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [401] * 40
    assert len(jwks_fetches(control, seq)) <= 1


# -- identity provider outages ----------------------------------------------------------------------
@pytest.mark.parametrize("down", [("discovery", "jwks"), ("jwks",), ("discovery",)], ids=["both", "jwks", "discovery"])
def test_a_cold_worker_answers_503_when_the_keys_cannot_be_loaded(make_app, tokens, control, down):
    token = tokens.user()  # before the outage: MSAL needs discovery too
    for endpoint in down:
        control.fault(endpoint, mode="fail", status=503)
    client = make_app().test_client()
    started = time.monotonic()
    for _ in range(5):
        _assert_unavailable(client.get("/api/orders", headers=bearer(token)))
    assert time.monotonic() - started < 3, "an outage answers in seconds"
    hits = [e for e in control.requests() if e["endpoint"] in ("discovery", "jwks")]
    assert 1 <= len(hits) <= 2, "no request storm against a failing identity provider"
    # A request with no token is still a plain 401: the outage does not hide the challenge.
    assert client.get("/api/orders").status_code == 401


def test_a_cold_worker_recovers_by_itself_when_the_identity_provider_returns(make_app, clocked_keys, tokens, control):
    token = tokens.user()
    control.fault("jwks", mode="fail", status=503)
    app = make_app()
    clock = clocked_keys(app)
    client = app.test_client()
    _assert_unavailable(client.get("/api/orders", headers=bearer(token)))
    _clear_faults(control)
    clock.advance(COOLDOWN + 1)
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200


def test_warm_keys_keep_validating_while_the_identity_provider_is_down(make_app, clocked_keys, tokens, control,
                                                                         rogue_key):
    app = make_app()
    clock = clocked_keys(app)
    client = app.test_client()
    token = tokens.user()
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200
    control.fault("jwks", mode="fail", status=503)
    control.fault("discovery", mode="fail", status=503)

    for _ in range(3):
        assert client.get("/api/orders", headers=bearer(token)).status_code == 200
    # Past the cooldown, an unknown kid tries a refetch, which fails: the last known good keys stay,
    # the forged token is an invalid token (not a 503), and genuine tokens keep passing.
    clock.advance(COOLDOWN + 1)
    seq = control.last_seq()
    forged = _forged_unknown_kid(claims_of(token), rogue_key)
    assert_invalid_token(client.get("/api/orders", headers=bearer(forged)), "unknown signing key", forged)
    assert [e["status"] for e in jwks_fetches(control, seq)] == [503]
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200
