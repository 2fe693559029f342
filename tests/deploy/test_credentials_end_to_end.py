"""Secretless credentials end to end, against the emulator: a web sign-in, the profile page's
on-behalf-of call in the API tier, and the daemon, with certificates only and with a managed
identity's federated credential only (no secret configured anywhere, and none sent, as the
emulator's request log shows); a wrong federated subject and an expired certificate fail with a
clear 503 page and a log line, never a 500; a second credential entry takes over from an expired one."""

from __future__ import annotations

import json
import logging

import pytest

from tests.conftest import API_CLIENT_ID, DAEMON_CLIENT_ID, MI_CLIENT_ID, WEB_CLIENT_ID

from ..web.conftest import sign_in
from .conftest import MEGAN, OBO_GRANT, token_requests

TOKEN_EXCHANGE = "api://AzureADTokenExchange"
SYSTEM_ASSIGNED_PRINCIPAL = "d0000004-0000-4000-8000-000000000002"


def _mi(client_id: str | None = MI_CLIENT_ID) -> str:
    entry = {"SourceType": "SignedAssertionFromManagedIdentity", "TokenExchangeUrl": TOKEN_EXCHANGE}
    if client_id:
        entry["ManagedIdentityClientId"] = client_id
    return json.dumps([entry])


def _cert(emulator, name: str) -> str:
    return str(emulator.emulator.certificates[name].path)


def _settings(kind: str, emulator) -> dict:
    no_secrets = {"ENTRA_CLIENT_SECRET": None, "API_CLIENT_SECRET": None, "DAEMON_CLIENT_SECRET": None}
    if kind == "certificates":
        return {**no_secrets, "ENTRA_CLIENT_CERTIFICATE_PATH": _cert(emulator, "orders-web"),
                "API_CLIENT_CERTIFICATE_PATH": _cert(emulator, "orders-api"),
                "DAEMON_CLIENT_CERTIFICATE_PATH": _cert(emulator, "daemon")}
    return {**no_secrets, "ENTRA_CLIENT_CERTIFICATE_PATH": "", "API_CLIENT_CERTIFICATE_PATH": "",
            "DAEMON_CLIENT_CERTIFICATE_PATH": "",
            "ENTRA_CLIENT_CREDENTIALS": _mi(), "API_CLIENT_CREDENTIALS": _mi(), "DAEMON_CLIENT_CREDENTIALS": _mi()}


@pytest.mark.parametrize(("kind", "client_auth"), [("certificates", "certificate"), ("managed identity", "federated")])
def test_sign_in_on_behalf_of_and_the_daemon_without_any_secret(kind, client_auth, start_app, new_browser, control,
                                                                 emulator, managed_identity_env):
    live = start_app(**_settings(kind, emulator))
    for prefix in ("ENTRA_CLIENT", "API_CLIENT", "DAEMON_CLIENT"):
        assert not live.app.config.get(f"{prefix}_SECRET")
        assert "ClientSecret" not in str(live.app.config.get(f"{prefix}_CREDENTIALS") or "")
    seq = control.last_seq()

    page = sign_in(new_browser(), live, MEGAN, "/profile")
    assert "Megan Bowen" in page.text and "Marketing Manager" in page.text  # the downstream /me, via OBO
    daemon = live.app.test_cli_runner().invoke(args=["orders", "list", "--as-app"])
    assert daemon.exit_code == 0, daemon.output

    calls = token_requests(control, seq)
    by_client = {(c["client_id"], c["grant_type"]) for c in calls if c["status"] == 200}
    assert (WEB_CLIENT_ID, "authorization_code") in by_client
    assert (API_CLIENT_ID, OBO_GRANT) in by_client
    assert (DAEMON_CLIENT_ID, "client_credentials") in by_client
    assert {c["client_auth"] for c in calls} == {client_auth}, calls
    assert all("client_secret" not in c["redacted_fields"] for c in calls)
    assert all("client_assertion" in c["redacted_fields"] for c in calls)
    msi = [e for e in control.requests(seq) if e["endpoint"] == "msi"]
    if kind == "managed identity":
        assert msi and {e["resource"] for e in msi} == {TOKEN_EXCHANGE}
        assert {e.get("client_id") for e in msi} == {MI_CLIENT_ID}
    else:
        assert msi == []


def test_a_wrong_federated_subject_is_a_clear_503_not_a_500(start_app, new_browser, control, emulator, caplog,
                                                            managed_identity_env, redis_client):
    # The system-assigned identity is on no federated credential of the web registration.
    live = start_app(ENTRA_CLIENT_CERTIFICATE_PATH="", ENTRA_CLIENT_CREDENTIALS=_mi(None))
    seq = control.last_seq()
    with caplog.at_level(logging.INFO):
        response = new_browser().get(f"{live.url}/auth/login?next=/profile", as_user=MEGAN)
    assert response.status_code == 503
    assert "Sign-in is unavailable" in response.text and "Traceback" not in response.text
    assert response.headers["Retry-After"]
    [refused] = [c for c in token_requests(control, seq) if c["client_id"] == WEB_CLIENT_ID]
    assert refused["status"] == 401 and refused["error"]["code"] == 700213  # no matching federated identity record
    messages = [(r.levelname, r.name, r.getMessage()) for r in caplog.records]
    assert ("INFO", "entra_auth.credentials",
            "client credential in use: managed identity assertion (system-assigned)") in messages
    [error] = [m for level, _, m in messages if level == "ERROR"]
    assert error.startswith("the web app's client credential was refused: invalid_client AADSTS700213")
    assert not redis_client.keys("session:*"), "no session for a sign-in that did not finish"


def test_an_expired_certificate_falls_back_to_the_next_entry(start_app, new_browser, control, emulator, caplog):
    expired, valid = _cert(emulator, "orders-web-expired"), _cert(emulator, "orders-web")
    live = start_app(ENTRA_CLIENT_CERTIFICATE_PATH="", ENTRA_CLIENT_CREDENTIALS=json.dumps([
        {"SourceType": "Path", "CertificateDiskPath": expired},
        {"SourceType": "Path", "CertificateDiskPath": valid},
    ]))
    seq = control.last_seq()
    with caplog.at_level(logging.INFO, logger="entra_auth.credentials"):
        page = sign_in(new_browser(), live, MEGAN, "/profile")
    assert "Megan Bowen" in page.text
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "entra_auth.credentials"]
    skipped = [m for level, m in lines if level == "WARNING"]
    in_use = [m for level, m in lines if level == "INFO"]
    assert skipped and all(m.startswith(f"client credential skipped: certificate {expired} (thumbprint sha256 ")
                           and " expired on " in m for m in skipped)
    assert any(m.startswith(f"client credential in use: certificate {valid} (thumbprint sha256 ") for m in in_use)
    [redeemed] = [c for c in token_requests(control, seq) if c["client_id"] == WEB_CLIENT_ID]
    assert redeemed["status"] == 200 and redeemed["client_auth"] == "certificate"


def test_an_expired_certificate_alone_is_a_clear_503(start_app, new_browser, control, emulator, caplog):
    expired = _cert(emulator, "orders-web-expired")
    live = start_app(ENTRA_CLIENT_CERTIFICATE_PATH=expired)
    seq = control.last_seq()
    with caplog.at_level(logging.INFO):
        response = new_browser().get(f"{live.url}/auth/login?next=/profile", as_user=MEGAN)
    assert response.status_code == 503 and "Sign-in is unavailable" in response.text
    [error] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert error.startswith("the web app's client credential was refused: no usable client credential: "
                            f"no client credential can be used: certificate {expired} (thumbprint sha256 ")
    assert " expired on " in error
    assert not [e for e in control.requests(seq) if e["endpoint"] in ("authorize", "token")], \
        "the browser was not sent to Entra with a credential that cannot finish the sign-in"
