"""Where the token comes from: the Authorization header only, and nothing there ever gives a 5xx."""

from __future__ import annotations

import base64
import os

import pytest

from .conftest import READ_WRITE
from .helpers import (
    assert_bare_challenge,
    assert_invalid_token,
    b64url,
    b64url_json,
    bearer,
    claims_of,
    header_of,
    sign_rs256,
)


def test_no_token_gets_a_bare_bearer_challenge(client):
    resp = client.get("/api/orders")
    body = assert_bare_challenge(resp)
    assert body["error"] == "unauthorized"


@pytest.mark.parametrize("method, path", [("GET", "/api/orders"), ("POST", "/api/orders"),
                                          ("GET", "/api/orders/3f2b5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b")])
def test_every_api_route_asks_for_a_token(client, method, path):
    assert_bare_challenge(client.open(path, method=method, json={"item": "x", "quantity": 1}))


def test_a_valid_token_in_the_header_is_accepted(client, tokens):
    resp = client.get("/api/orders", headers=bearer(tokens.user()))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"orders": [], "view": "own", "scope": "own"}


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_the_scheme_is_case_insensitive(client, tokens, scheme):
    resp = client.get("/api/orders", headers=bearer(tokens.user(), scheme=scheme))
    assert resp.status_code == 200, resp.get_json()


def test_a_token_in_the_query_string_is_ignored(client, tokens):
    token = tokens.user()
    resp = client.get("/api/orders", query_string={"access_token": token})
    assert_bare_challenge(resp, token)


def test_a_token_in_a_form_body_is_ignored(client, tokens):
    token = tokens.user(scopes=READ_WRITE)
    resp = client.post("/api/orders", data={"access_token": token, "item": "pens", "quantity": "1"})
    assert_bare_challenge(resp, token)


def test_another_scheme_is_a_missing_bearer_token(client, tokens):
    token = tokens.user()
    assert_bare_challenge(client.get("/api/orders", headers={"Authorization": f"Basic {token}"}), token)
    assert_bare_challenge(client.get("/api/orders", headers={"Authorization": f"MAC {token}"}), token)


def test_garbage_is_an_invalid_token(client):
    assert_invalid_token(client.get("/api/orders", headers=bearer("garbage")), "malformed token", "garbage")


def test_a_20_kb_token_is_refused_cheaply(client):
    token = "A" * (20 * 1024)
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "malformed token", token)


def test_a_20_kb_token_properly_signed_by_the_identity_provider_is_still_refused(client, emulator, tokens):
    """The size limit holds even for a genuine signature (no 20 KB parse/verify per request)."""
    claims = {**claims_of(tokens.user()), "padding": "x" * (20 * 1024)}
    key = emulator.emulator.keys.active
    token = sign_rs256({"alg": "RS256", "typ": "JWT", "kid": key.kid}, claims, key.private_key)
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "malformed token", token)


def _segment(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


_RANDOM = os.urandom(512)
_INFINITY_HEADER = _segment(b'{"alg":1e99999}')
_NESTED_CLAIMS = _segment(b'{"a":' * 1500 + b"1" + b"}" * 1500)  # about 12 KB: under the size limit

NASTY_AUTHORIZATION_VALUES = [
    pytest.param("", id="empty"),
    pytest.param("Bearer", id="scheme-only"),
    pytest.param("Bearer    ", id="scheme-and-spaces"),
    pytest.param("Bearer a b", id="two-tokens"),
    pytest.param("Bearer x, Bearer y", id="two-credentials"),
    pytest.param("Bearer\tabc.def.ghi", id="tab-separator"),
    pytest.param("\x00\x01\x02\x7f", id="control-bytes"),
    pytest.param("Bearer " + _RANDOM.decode("latin-1").replace("\r", "").replace("\n", ""), id="random-bytes"),
    pytest.param("Bearer \u00fc\u00f1\u00ee\u00e7\u00f8d\u00e9", id="latin-1"),
    pytest.param("Bearer \u2603.\u2603.\u2603", id="non-latin-1"),
    pytest.param("Bearer \udcff\udcfe", id="lone-surrogates"),
    pytest.param("Bearer " + "A" * 100_000, id="100-kb"),
    pytest.param("Bearer " + "." * 5000, id="dots"),
    pytest.param("Bearer ==.==.==", id="padding-only"),
    pytest.param("Bearer a.b.c.d.e", id="jwe-shape"),
    pytest.param("Bearer " + f"{_segment(bytes([0xff, 0xfe, 0xfd]))}.{b64url_json({})}.abcd", id="header-not-utf8"),
    pytest.param("Bearer " + f"{_segment(b'null')}.{_segment(b'[]')}.abcd", id="json-not-objects"),
    pytest.param("Bearer " + f"{_INFINITY_HEADER}.{b64url_json({})}.abcd", id="json-infinity"),
    pytest.param("Bearer " + f"{b64url_json({'alg': ['RS256'], 'kid': {}})}.{b64url_json({})}.abcd",
                 id="header-wrong-types"),
    pytest.param("Bearer " + f"{b64url_json({'alg': 'RS256', 'kid': 'k' * 8000})}.{b64url_json({})}.abcd",
                 id="huge-kid"),
    pytest.param("Bearer " + f"{b64url_json({'alg': 'RS256', 'typ': ['JWT'], 'kid': 'x'})}.{b64url_json({})}.abcd",
                 id="typ-list"),
    pytest.param("Bearer " + f"{b64url_json({'alg': 'RS256', 'typ': {}, 'kid': 'x'})}.{b64url_json({})}.abcd",
                 id="typ-object"),
    pytest.param("Bearer " + f"{_segment(b'[' * 5000 + b']' * 5000)}.{b64url_json({})}.abcd",
                 id="deeply-nested-header"),
    pytest.param("Bearer " + f"{b64url_json({'alg': 'RS256', 'kid': 'x'})}.{_NESTED_CLAIMS}.abcd",
                 id="deeply-nested-claims"),
]


@pytest.mark.parametrize("value", NASTY_AUTHORIZATION_VALUES)
def test_nasty_authorization_headers_never_give_a_5xx(client, value):
    resp = client.get("/api/orders", headers={"Authorization": value})
    assert resp.status_code == 401, (resp.status_code, resp.data[:200])
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge == "Bearer" or challenge.startswith('Bearer error="invalid_token", error_description="')
    assert resp.mimetype == "application/json" and isinstance(resp.get_json(), dict)
    token = value.partition(" ")[2]
    if len(token) >= 8:
        assert token not in resp.get_data(as_text=True) and token not in challenge


def test_nasty_headers_besides_authorization_never_give_a_5xx(client, tokens):
    token = tokens.user()
    junk = _RANDOM.decode("latin-1").replace("\r", "").replace("\n", "")
    headers = {**bearer(token), "X-Request-Id": junk, "Content-Type": junk, "Accept": junk,
               "X-Forwarded-For": "\u2603" * 2000, "X-Custom": "A" * 64_000}
    resp = client.get("/api/orders", headers=headers)
    assert resp.status_code == 200, resp.data[:200]
    assert resp.headers["X-Request-Id"] != junk, "a junk request id is not echoed"


def test_the_payload_and_signature_of_a_refused_token_never_come_back(client, tokens):
    """A refused token (here: a genuine one re-signed with a wrong kid) is never echoed, even in part."""
    token = tokens.user()
    header = {**header_of(token), "kid": b64url(os.urandom(20))}
    forged = f"{b64url_json(header)}.{token.split('.', 1)[1]}"
    resp = client.get("/api/orders", headers=bearer(forged))
    assert_invalid_token(resp, "unknown signing key", forged)
