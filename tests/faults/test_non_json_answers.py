"""Answers that are not JSON are outages, not bad requests.

What stands in front of Entra can answer for it: a proxy's maintenance page (HTML, at 200 or
5xx, often with a long ``Retry-After``), a captive portal, a body cut off mid-token. At each
place the app meets the token endpoint (code redemption at /auth/callback, a refresh during a
page, on-behalf-of in /api/me, client credentials in ``flask orders list --as-app``) and at the
managed-identity endpoint behind a ``SignedAssertionFromManagedIdentity`` credential, such an
answer gives the 503 page or a 503 JSON error with ``Retry-After`` (the daemon: a clear error, no
traceback), never a 4xx or a 500; the log line names the endpoint and the status and never
repeats the body; and the next request after the provider is back succeeds, with no restart.

The emulator's fault bodies ``html`` and ``truncated_json`` play that proxy; the 5xx pages carry
``Retry-After: 3600``, which MSAL's throttle would otherwise obey for every user of the client
(see entra_auth/json_answers.py).
"""

from __future__ import annotations

import json
import logging
import time
import types
from urllib.parse import urlsplit

import msal
import msal.managed_identity
import pytest

from entra_auth.credentials import ClientCredential, parse_client_credentials
from entra_auth.errors import IdentityProviderUnavailable
from entra_auth.http import build_http_session
from entra_auth.msal_errors import msal_call
from tests.conftest import API_DEFAULT, DAEMON_CLIENT_ID, MI_CLIENT_ID, confidential_app
from tests.emulator.conftest import managed_identity_env  # noqa: F401 - fixture
from tests.web.conftest import sign_in

from .conftest import MEGAN
from .test_identity_provider_down import assert_sign_in_unavailable_page

ADELE = "adele@contoso.example"
MAINTENANCE_RETRY_AFTER = 3600
# (fault, what the log says of the answer): HTML at 200 and 5xx, and a token response cut short.
SHAPES = {
    "200 html": {"body": "html", "status": 200},
    "500 html": {"body": "html", "status": 500, "retry_after": MAINTENANCE_RETRY_AFTER},
    "502 html": {"body": "html", "status": 502, "retry_after": MAINTENANCE_RETRY_AFTER},
    "truncated json": {"body": "truncated_json", "status": 200},
}
# What must never reach a log line: the page, and the token fragment of the cut-off response.
BODY_MARKERS = ("Down for maintenance", "<html", "eyJ0eXAiOiJKV1Qi", "eyJhdWQiOiJ0cnVu")
OBO_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _fault(control, endpoint: str, shape: str) -> None:
    control.fault(endpoint, mode="fail", seconds=60, **SHAPES[shape])  # cleared by the test; 60 s bounds a crash


def _clear(control) -> None:
    assert control.http.delete(f"{control.base}/faults").status_code == 204


def _served(control, since: int, endpoint: str) -> list[dict]:
    return [e for e in control.requests(since) if e["endpoint"] == endpoint]


def assert_unavailable_page(response) -> None:
    assert_sign_in_unavailable_page(response)  # 503, the words, Retry-After, no traceback
    assert "Down for maintenance" not in response.text, "the proxy's page is not passed on"


def assert_logged(caplog, endpoint: str, shape: str) -> None:
    """One ERROR line names the endpoint and the status; no line at any level repeats the body."""
    status = SHAPES[shape]["status"]
    lines = [r.getMessage() for r in caplog.records]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"the {endpoint} (" in m and f"answered HTTP {status} " in m for m in errors), errors
    leaked = [m for m in lines if any(marker in m for marker in BODY_MARKERS)]
    assert leaked == [], leaked
    assert not [m for m in lines if "unhandled error" in m], "a request reached the catch-all 500"


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)  # MSAL's own debug lines too: none may carry the body
    return caplog


@pytest.mark.parametrize("shape", SHAPES)
def test_code_redemption_answered_with_a_non_json_page_is_a_503_page_then_sign_in_works(
        shape, start_app, new_browser, control, logs):
    live = start_app()
    browser = new_browser()
    mark = control.last_seq()
    _fault(control, "token", shape)
    try:
        page = browser.get(f"{live.url}/auth/login?next=/orders", as_user=MEGAN)
        assert urlsplit(page.url).path == "/auth/callback"
        assert_unavailable_page(page)
        assert browser.cookie("__Host-session") is None, "no session for a sign-in that did not finish"
    finally:
        _clear(control)
    assert [e.get("grant_type") for e in _served(control, mark, "token")] == ["authorization_code"]
    assert_logged(logs, "token endpoint", shape)
    page = sign_in(browser, live, MEGAN, "/orders")  # at once: nothing held back
    assert "Megan Bowen" in page.text


@pytest.mark.parametrize("shape", SHAPES)
def test_a_refresh_answered_with_a_non_json_page_is_a_503_page_and_the_next_page_works(
        shape, start_app, new_browser, control, logs):
    control.settings(access_token_lifetime=60)  # MSAL refreshes tokens within 5 minutes of expiry: every page
    live = start_app()
    browser = new_browser()
    sign_in(browser, live, MEGAN, "/orders")
    mark = control.last_seq()
    _fault(control, "token", shape)
    try:
        assert_unavailable_page(browser.http.get(f"{live.url}/orders", allow_redirects=False))
    finally:
        _clear(control)
    assert_logged(logs, "token endpoint", shape)
    page = browser.http.get(f"{live.url}/orders", allow_redirects=False)
    assert page.status_code == 200 and "Megan Bowen" in page.text, (page.status_code, page.text[:300])
    grants = [(e.get("grant_type"), e["status"]) for e in _served(control, mark, "token")]
    assert grants == [("refresh_token", SHAPES[shape]["status"]), ("refresh_token", 200)], \
        "the same refresh token, kept through the outage: no new sign-in"


@pytest.mark.parametrize("shape", SHAPES)
def test_on_behalf_of_answered_with_a_non_json_page_is_a_503_json_then_works_for_every_user(
        shape, start_app, bearer_for, control, emulator, logs):
    live = start_app()
    megan, adele = bearer_for(MEGAN), bearer_for(ADELE)
    mark = control.last_seq()
    with build_http_session(str(emulator.ca_path)) as api:
        _fault(control, "token", shape)
        try:
            response = api.get(f"{live.url}/api/me", headers=megan)
            assert response.status_code == 503, (response.status_code, response.text[:300])
            assert response.headers["Content-Type"].startswith("application/json")
            assert response.json()["error"] == "temporarily_unavailable"
            assert response.headers["Retry-After"].isdigit()
            assert "Down for maintenance" not in response.text and "eyJ" not in response.text
        finally:
            _clear(control)
        assert_logged(logs, "token endpoint", shape)
        # Right after: another user (MSAL would have held back every user's exchange of these
        # scopes until the page's Retry-After), then the same user again.
        for headers, name in ((adele, "Adele Vance"), (megan, "Megan Bowen")):
            response = api.get(f"{live.url}/api/me", headers=headers)
            assert response.status_code == 200 and response.json()["displayName"] == name, response.text[:300]
    exchanges = [e["status"] for e in _served(control, mark, "token") if e.get("grant_type") == OBO_GRANT]
    assert exchanges == [SHAPES[shape]["status"], 200, 200]


@pytest.mark.parametrize("shape", SHAPES)
def test_client_credentials_answered_with_a_non_json_page_fail_the_daemon_clearly_then_it_works(
        shape, start_app, control, logs):
    live = start_app()
    mark = control.last_seq()
    _fault(control, "token", shape)
    try:
        result = live.app.test_cli_runner().invoke(args=["orders", "list", "--as-app"])
    finally:
        _clear(control)
    status = SHAPES[shape]["status"]
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "IdentityProviderUnavailable: the token endpoint (" in result.output, result.output
    assert f"answered HTTP {status} " in result.output
    assert not [m for m in BODY_MARKERS if m in result.output] and "Traceback" not in result.output
    again = live.app.test_cli_runner().invoke(args=["orders", "list", "--as-app"])
    assert again.exit_code == 0, again.output
    grants = [(e.get("grant_type"), e["status"]) for e in _served(control, mark, "token")]
    assert grants == [("client_credentials", status), ("client_credentials", 200)]
    assert not [r for r in logs.records if any(m in r.getMessage() for m in BODY_MARKERS)]


@pytest.mark.parametrize("shape", SHAPES)
def test_the_managed_identity_endpoint_answering_a_non_json_page_is_a_503_page_then_sign_in_works(
        shape, start_app, new_browser, control, managed_identity_env, logs):  # noqa: F811 - fixture
    credentials = json.dumps([{"SourceType": "SignedAssertionFromManagedIdentity",
                               "ManagedIdentityClientId": MI_CLIENT_ID,
                               "TokenExchangeUrl": "api://AzureADTokenExchange"}])
    live = start_app(ENTRA_CLIENT_CERTIFICATE_PATH="", ENTRA_CLIENT_CREDENTIALS=credentials)
    browser = new_browser()
    mark = control.last_seq()
    _fault(control, "msi", shape)
    try:
        # The credential is first needed to start the sign-in (MSAL builds its app with it).
        assert_unavailable_page(browser.get(f"{live.url}/auth/login?next=/orders", as_user=MEGAN))
    finally:
        _clear(control)
    assert_logged(logs, "managed-identity endpoint", shape)
    assert [e["status"] for e in _served(control, mark, "msi")] == [SHAPES[shape]["status"]]
    assert _served(control, mark, "token") == [], "nothing was sent to Entra without a credential"
    page = sign_in(browser, live, MEGAN, "/orders")
    assert "Megan Bowen" in page.text
    [redeemed] = _served(control, mark, "token")
    assert redeemed["client_auth"] == "federated" and redeemed["status"] == 200


# -- the core, below the tiers ---------------------------------------------------------------------


def _mi_entry() -> dict:
    return {"SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": MI_CLIENT_ID,
            "TokenExchangeUrl": "api://AzureADTokenExchange"}


def test_a_managed_identity_page_during_a_token_request_is_an_outage(emulator, http, control, managed_identity_env,
                                                                     monkeypatch):  # noqa: F811 - fixture
    # The assertion is asked for again on a token request once its token nears expiry: then the
    # page reaches MSAL's call through the credential's callable.
    credential = ClientCredential(parse_client_credentials(
        "DAEMON_CLIENT", {"DAEMON_CLIENT_CREDENTIALS": json.dumps([_mi_entry()])}), http_client=http)
    assertion = credential.msal_credential()["client_assertion"]
    assertion()
    monkeypatch.setattr(msal.managed_identity, "time", types.SimpleNamespace(time=lambda: time.time() + 86400))
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID, credential=credential.msal_credential())
    control.fault("msi", body="html", status=502, seconds=60)
    with pytest.raises(IdentityProviderUnavailable, match=r"the managed-identity endpoint \(.*\) answered HTTP 502 "):
        msal_call(lambda: app.acquire_token_for_client([API_DEFAULT]))


def test_a_managed_identity_outage_falls_back_to_the_next_credential_entry(start_app, new_browser, control, emulator,
                                                                         managed_identity_env, logs):  # noqa: F811
    certificate = {"SourceType": "Path", "CertificateDiskPath": str(emulator.emulator.certificates["orders-web"].path)}
    live = start_app(ENTRA_CLIENT_CERTIFICATE_PATH="", ENTRA_CLIENT_CREDENTIALS=json.dumps([_mi_entry(), certificate]))
    mark = control.last_seq()
    _fault(control, "msi", "502 html")
    try:
        page = sign_in(new_browser(), live, MEGAN, "/orders")
    finally:
        _clear(control)
    assert "Megan Bowen" in page.text
    [redeemed] = _served(control, mark, "token")
    assert redeemed["client_auth"] == "certificate"
    skipped = [r.getMessage() for r in logs.records if r.levelno == logging.WARNING
               and r.getMessage().startswith("client credential skipped: managed identity assertion")]
    assert skipped and "the managed-identity endpoint (" in skipped[0] and "answered HTTP 502 " in skipped[0]
