"""Every refusal is a security event with its reason, and no log line ever holds a token."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import HOME_TENANT_ID

from .conftest import READ
from .helpers import LEE, MEGAN, b64url_json, bearer, claims_of, unsigned

SECURITY = "entra_auth.security"


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def _security_messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == SECURITY]


def _assert_no_token_in_logs(caplog, token: str) -> None:
    parts = [token, *[p for p in token.split(".") if len(p) >= 16]]
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + (record.exc_text or "")
        for part in parts:
            assert part not in text, f"{record.name} logged (part of) the token: {text[:200]}"


def test_an_expired_token_is_logged_with_its_reason_and_without_the_token(client, tokens, control, logs):
    token = tokens.with_fault(control, "expired")
    logs.clear()
    assert client.get("/api/orders", headers=bearer(token)).status_code == 401
    messages = _security_messages(logs)
    assert len(messages) == 1, messages
    assert "invalid_token" in messages[0] and "reason=token expired" in messages[0]
    assert [r.levelno for r in logs.records if r.name == SECURITY] == [logging.WARNING]
    _assert_no_token_in_logs(logs, token)


def test_a_forged_alg_none_token_is_logged(client, tokens, logs):
    token = unsigned({"alg": "none", "typ": "JWT", "kid": "x"}, claims_of(tokens.user()), signature="AAAA")
    logs.clear()
    client.get("/api/orders", headers=bearer(token))
    assert any("reason=algorithm not allowed" in m for m in _security_messages(logs))
    _assert_no_token_in_logs(logs, token)


def test_a_foreign_tenant_refusal_is_logged(make_app, tokens, logs):
    client = make_app(ENTRA_ALLOWED_TENANTS=[HOME_TENANT_ID]).test_client()
    token = tokens.user(LEE)
    logs.clear()
    assert client.get("/api/orders", headers=bearer(token)).status_code == 401
    assert any("reason=tenant not allowed" in m for m in _security_messages(logs))
    _assert_no_token_in_logs(logs, token)


def test_an_insufficient_scope_refusal_names_the_caller_but_not_the_token(client, tokens, logs):
    token = tokens.user(MEGAN, READ)
    logs.clear()
    resp = client.post("/api/orders", json={"item": "x", "quantity": 1}, headers=bearer(token))
    assert resp.status_code == 403
    messages = _security_messages(logs)
    assert len(messages) == 1 and "insufficient_scope" in messages[0] and "reason=missing scope" in messages[0]
    assert f"tid={HOME_TENANT_ID}" in messages[0] and resp.headers["X-Request-Id"] in messages[0]
    _assert_no_token_in_logs(logs, token)


def test_a_token_in_the_query_string_is_not_logged(client, tokens, logs):
    token = tokens.user()
    logs.clear()
    assert client.get("/api/orders", query_string={"access_token": token}).status_code == 401
    assert _security_messages(logs), "the refusal is still a security event"
    _assert_no_token_in_logs(logs, token)


def test_a_junk_request_id_does_not_reach_the_log(client, logs):
    junk = "x\nlevel=CRITICAL forged=1"
    # Straight into the WSGI environ: the test client refuses a newline in a header value.
    client.get("/api/orders", headers=bearer("garbage"), environ_overrides={"HTTP_X_REQUEST_ID": junk})
    client.get("/api/orders", headers={**bearer("garbage"), "X-Request-Id": "x level=CRITICAL forged=1"})
    messages = _security_messages(logs)
    assert messages and all("forged=1" not in m and "\n" not in m for m in messages)


def test_an_accepted_token_is_not_logged_either(client, tokens, logs):
    token = tokens.user()
    logs.clear()
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200
    _assert_no_token_in_logs(logs, token)


def test_a_garbage_header_is_logged_without_its_value(client, logs):
    value = b64url_json({"secret-looking": "s3cr3t-s3cr3t-s3cr3t"}) + ".abcdefghijklmnopqrstuvwxyz.0123456789abcdef"
    client.get("/api/orders", headers=bearer(value))
    assert any("reason=" in m for m in _security_messages(logs))
    _assert_no_token_in_logs(logs, value)
