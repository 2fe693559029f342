"""Endpoint faults that answer like a proxy or a captive portal, not like Entra: an HTML page (at
any status, 200 included) or a JSON body cut short, at the token and managed-identity endpoints.
A test-control fault: Entra itself always answers these endpoints with JSON."""

from __future__ import annotations

import json
import logging

import msal
import pytest

from tests.conftest import API_DEFAULT, DAEMON_CLIENT_ID, HOME_TENANT_ID, confidential_app


def _token_url(emulator) -> str:
    return f"{emulator.url}/{HOME_TENANT_ID}/oauth2/v2.0/token"


@pytest.mark.parametrize("status", [200, 500, 502])
def test_an_html_fault_answers_a_page_with_the_status_asked(emulator, http, control, status):
    control.fault("token", body="html", status=status, count=1)
    resp = http.post(_token_url(emulator), data={"grant_type": "client_credentials"})
    assert resp.status_code == status
    assert resp.headers["Content-Type"].startswith("text/html")
    assert resp.text.startswith("<!DOCTYPE html>") and "Retry-After" not in resp.headers
    again = http.post(_token_url(emulator), data={"grant_type": "client_credentials"})
    assert again.headers["Content-Type"].startswith("application/json"), "count=1: the next answer is Entra's"
    [faulted] = [e for e in control.requests() if e["status"] == status and e["endpoint"] == "token"]
    assert faulted["error"] == {"error": "emulated_fault", "status": status, "body": "html"}


def test_a_truncated_json_fault_is_json_by_its_header_and_cut_off_mid_token(emulator, http, control):
    control.fault("token", body="truncated_json", status=200)
    resp = http.post(_token_url(emulator), data={"grant_type": "client_credentials"})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    assert '"access_token": "eyJ' in resp.text
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.text)


def test_a_retry_after_can_be_asked_for(emulator, http, control):
    control.fault("msi", body="html", status=503, retry_after=3600)
    resp = http.get(emulator.identity_endpoint)
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "3600"
    assert resp.headers["Content-Type"].startswith("text/html")


def test_unmodified_msal_fails_on_such_an_answer_with_a_bare_json_error(emulator, http, control, caplog):
    # What the app must not let through (entra_auth/json_answers.py): MSAL parses the body itself,
    # raises a bare ValueError, and logs the whole body first: here, part of a token.
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID)
    control.fault("token", body="truncated_json", status=200)
    with caplog.at_level(logging.ERROR, logger="msal"), pytest.raises(json.JSONDecodeError):
        app.acquire_token_for_client([API_DEFAULT])
    assert any('"access_token": "eyJ' in r.getMessage() for r in caplog.records if r.name.startswith("msal"))
    control.fault("token", body="html", status=200)
    with pytest.raises(json.JSONDecodeError):
        app.acquire_token_for_client([API_DEFAULT])
    control.fault("token", body="html", status=502)
    with pytest.raises(msal.exceptions.MsalServiceError, match="502"):
        app.acquire_token_for_client([API_DEFAULT])


@pytest.mark.parametrize(("body", "problem"), [
    ({"endpoint": "jwks", "body": "html"}, "a 'html' body is a 'fail' fault of ['graph', 'msi', 'token']"),
    ({"endpoint": "token", "body": "html", "mode": "slow"}, "a 'html' body is a 'fail' fault"),
    ({"endpoint": "token", "body": "xml"}, "body must be one of"),
    ({"endpoint": "token", "status": 200}, "status must be 400-599"),
    ({"endpoint": "token", "body": "html", "status": 199}, "status must be 200-599"),
    ({"endpoint": "token", "body": "html", "retry_after": "soon"}, "must be numbers"),
])
def test_the_control_surface_refuses_what_it_cannot_do(control, body, problem):
    resp = control.http.post(f"{control.base}/faults", json=body)
    assert resp.status_code == 400 and problem in resp.json()["error"], resp.text
