"""Correlation ids line up as at Entra: the client's ``client-request-id`` becomes the answer's
``correlation_id`` (and is echoed as a header when sent as one), every answer carries its own
``x-ms-request-id``, error bodies call that ``trace_id``, and the request log records both."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from entra_auth.http import build_http_session
from tests.conftest import DAEMON_CLIENT_ID, HOME_TENANT_ID, SECRETS, confidential_app

from .helpers import assert_entra_error

API_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"


@pytest.fixture
def wire(emulator):
    """An HTTP client that keeps every (request, response) pair it exchanged: what went over the wire."""
    session = build_http_session(str(emulator.ca_path))
    exchanges: list[requests.Response] = []
    session.hooks["response"].append(lambda response, *args, **kwargs: exchanges.append(response))
    session.exchanges = exchanges
    return session


def _token_exchanges(wire) -> list[requests.Response]:
    return [r for r in wire.exchanges if r.request.url.split("?")[0].endswith("/oauth2/v2.0/token")]


def _logged(control, request_id: str) -> dict:
    [entry] = [e for e in control.requests() if e.get("request_id") == request_id]
    return entry


def test_msal_python_client_request_id_is_echoed_and_logged_with_the_request_id(emulator, wire, control):
    app = confidential_app(emulator, wire, DAEMON_CLIENT_ID)
    result = app.acquire_token_for_client([API_DEFAULT_SCOPE])
    assert "access_token" in result, result
    [answer] = _token_exchanges(wire)
    sent = answer.request.headers["client-request-id"]  # MSAL Python sends it as a header
    assert answer.headers["client-request-id"] == sent
    request_id = answer.headers["x-ms-request-id"]
    assert uuid.UUID(request_id) and request_id != sent
    entry = _logged(control, request_id)
    assert entry["client_request_id"] == sent == entry["correlation_id"]
    assert entry["endpoint"] == "token" and entry["status"] == 200


def test_an_error_body_carries_the_client_request_id_and_the_request_id_as_trace_id(emulator, wire, control):
    app = confidential_app(emulator, wire, DAEMON_CLIENT_ID, credential="not-the-secret")
    result = app.acquire_token_for_client([API_DEFAULT_SCOPE])
    assert_entra_error(result, "invalid_client", 7000215)
    [answer] = _token_exchanges(wire)
    sent = answer.request.headers["client-request-id"]
    assert result["correlation_id"] == sent
    assert result["trace_id"] == answer.headers["x-ms-request-id"]
    assert f"Trace ID: {result['trace_id']}\r\nCorrelation ID: {sent}" in result["error_description"]
    assert _logged(control, result["trace_id"])["client_request_id"] == sent


def test_a_client_request_id_parameter_as_msal_node_sends_it_is_the_correlation_id(emulator, http, control):
    """MSAL.js and MSAL Node send it as a parameter; a recorded Entra answer to that has no echo header."""
    correlation = "0f0f0f0f-2222-4333-8444-555555555555"
    resp = http.post(f"{emulator.url}/{HOME_TENANT_ID}/oauth2/v2.0/token",
                     params={"client-request-id": correlation},
                     data={"grant_type": "client_credentials", "client_id": DAEMON_CLIENT_ID,
                           "client_secret": SECRETS[DAEMON_CLIENT_ID], "scope": "api://nobody/.default"})
    body = resp.json()
    assert_entra_error(body, "invalid_resource", 500011)
    assert body["correlation_id"] == correlation and body["trace_id"] == resp.headers["x-ms-request-id"]
    assert "client-request-id" not in resp.headers
    entry = _logged(control, resp.headers["x-ms-request-id"])
    assert entry["client_request_id"] == correlation


@pytest.mark.parametrize("sent", ["not-a-guid", "<script>", "0f0f0f0f-2222-4333-8444-555555555555" + "x" * 60])
def test_a_client_request_id_that_is_no_guid_is_not_taken(emulator, http, control, sent):
    resp = http.post(f"{emulator.url}/{HOME_TENANT_ID}/oauth2/v2.0/token", headers={"client-request-id": sent},
                     data={"grant_type": "client_credentials", "client_id": DAEMON_CLIENT_ID})
    body = resp.json()
    assert resp.status_code in (400, 401) and uuid.UUID(body["correlation_id"])
    assert sent not in resp.text and "client-request-id" not in resp.headers
    assert _logged(control, resp.headers["x-ms-request-id"])["client_request_id"] is None


def test_every_answer_has_its_own_request_id(emulator, http, browser):
    base = f"{emulator.url}/{HOME_TENANT_ID}"
    answers = [
        http.get(f"{base}/v2.0/.well-known/openid-configuration"),
        http.get(f"{base}/discovery/v2.0/keys"),
        browser.get(f"{base}/oauth2/v2.0/authorize", params={"client_id": "nobody"}),  # an error page
        http.post(f"{base}/oauth2/v2.0/token", data={}),  # an error body
        browser.get(f"{base}/oauth2/v2.0/logout"),
    ]
    ids = [a.headers.get("x-ms-request-id") for a in answers]
    assert all(ids) and len(set(ids)) == len(ids), ids
    assert all(uuid.UUID(i) for i in ids)
    # The error page shows it, as Entra's sign-in error page shows its Request Id.
    assert re.search(rf"Request Id</dt><dd>{ids[2]}<", answers[2].text)
    assert answers[3].json()["trace_id"] == ids[3]


def test_an_oversized_body_is_refused_with_its_request_id_not_a_500(emulator, http):
    resp = http.post(f"{emulator.url}/{HOME_TENANT_ID}/oauth2/v2.0/token",
                     data={"grant_type": "client_credentials", "padding": "x" * 300_000})
    assert resp.status_code == 413
    assert uuid.UUID(resp.headers["x-ms-request-id"])
