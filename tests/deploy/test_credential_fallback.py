"""The credential list falls back (security review, issue 17 item 2).

``*_CLIENT_CREDENTIALS`` lists, as Microsoft.Identity.Web's ``ClientCredentials`` do, a
credential first and its successor next, so that a rotation survives: here the first entry
is a certificate Entra does not know (generated in the test, never uploaded to the
registration), the second a valid secret. Entra answers the certificate ``invalid_client``
AADSTS700027; the app marks it refused, retries once with the secret, and keeps skipping it:
sign-in lands on the page on the first try, and refresh, on-behalf-of and the daemon work.
The log, ``/readyz`` and ``flask entra check`` name the refused source (never a secret).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.conftest import API_CLIENT_ID, DAEMON_CLIENT_ID, SECRETS, WEB_CLIENT_ID, app_settings

from ..web.conftest import sign_in
from .conftest import MEGAN, OBO_GRANT, token_requests

PREFIXES = {"ENTRA_CLIENT": WEB_CLIENT_ID, "API_CLIENT": API_CLIENT_ID, "DAEMON_CLIENT": DAEMON_CLIENT_ID}


def unregistered_pem() -> bytes:
    """A valid, unexpired RSA key and certificate that no registration of the emulator lists."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orders-web (removed from the registration)")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM)


def write_pem(path, data: bytes) -> None:
    """As a secret store mounts a new version: a new file put in place of the old one."""
    staged = path.with_suffix(".new")
    staged.write_bytes(data)
    os.chmod(staged, 0o600)
    os.replace(staged, path)


@pytest.fixture
def unregistered_certificate(tmp_path) -> str:
    path = tmp_path / "removed-certificate.pem"
    write_pem(path, unregistered_pem())
    return str(path)


def rotation_settings(certificate: str) -> dict:
    """Every tier: [the certificate Entra no longer knows, a valid secret]; nothing else configured."""
    settings = {}
    for prefix, client_id in PREFIXES.items():
        settings[f"{prefix}_CERTIFICATE_PATH"] = ""
        settings[f"{prefix}_SECRET"] = None
        settings[f"{prefix}_CREDENTIALS"] = json.dumps([
            {"SourceType": "Path", "CertificateDiskPath": certificate},
            {"SourceType": "ClientSecret", "ClientSecret": SECRETS[client_id]},
        ])
    return settings


def attempts(control, since: int, client_id: str, grant: str) -> list[tuple[int, int | None, str | None]]:
    """(status, AADSTS code, how the client authenticated) of each token request of ``client_id`` for ``grant``."""
    return [(c["status"], (c.get("error") or {}).get("code"), c.get("client_auth"))
            for c in token_requests(control, since) if c["client_id"] == client_id and c["grant_type"] == grant]


REFUSED = (401, 700027, None)  # Entra: the key was not found (certificate not on the registration)


def test_a_credential_entra_refuses_falls_back_to_the_next_on_every_grant(
        start_app, new_browser, control, emulator, redis_server, unregistered_certificate, caplog):
    control.settings(access_token_lifetime=60)  # every page refreshes (MSAL's 5-minute margin)
    settings = rotation_settings(unregistered_certificate)
    live = start_app(**settings)
    seq = control.last_seq()
    with caplog.at_level(logging.INFO):
        # Sign-in (code redemption) and the profile's on-behalf-of call: on the first try.
        page = sign_in(new_browser_ := new_browser(), live, MEGAN, "/profile")
        assert "Megan Bowen" in page.text and "Marketing Manager" in page.text
        # Refresh: the web tier's source stays the secret, the certificate is not tried again.
        refresh_mark = control.last_seq()
        assert new_browser_.get(f"{live.url}/orders").status_code == 200
        # The daemon (client credentials), another process in real life.
        daemon = live.app.test_cli_runner().invoke(args=["orders", "list", "--as-app"])
    assert daemon.exit_code == 0, daemon.output

    assert attempts(control, seq, WEB_CLIENT_ID, "authorization_code") == [REFUSED, (200, None, "client_secret")]
    assert attempts(control, seq, API_CLIENT_ID, OBO_GRANT) == [REFUSED, (200, None, "client_secret")]
    assert attempts(control, refresh_mark, WEB_CLIENT_ID, "refresh_token") == [(200, None, "client_secret")]
    assert attempts(control, seq, DAEMON_CLIENT_ID, "client_credentials") == [REFUSED, (200, None, "client_secret")]

    refused_lines = [r.getMessage() for r in caplog.records
                     if r.name == "entra_auth.credentials" and r.levelno == logging.WARNING]
    assert len(refused_lines) == 3, refused_lines  # web, API, daemon: once each
    for line in refused_lines:
        assert line.startswith(f"client credential refused by Entra: certificate {unregistered_certificate} "
                               "(thumbprint sha256 ")
        assert line.endswith("(invalid_client AADSTS700027); trying the next one")
    for secret in SECRETS.values():
        assert secret not in caplog.text

    ready = new_browser_.http.get(f"{live.url}/readyz")
    assert ready.status_code == 200
    detail = ready.json()["credentials"]
    for tier, prefix in (("web", "ENTRA_CLIENT"), ("api", "API_CLIENT")):
        assert detail[tier]["in_use"] == f"{prefix}_CREDENTIALS[1] (client_secret)"
        [refused] = detail[tier]["refused"]
        assert refused["source"] == f"{prefix}_CREDENTIALS[0] (certificate)"
        assert refused["reason"] == "invalid_client AADSTS700027"
        assert 0 < refused["retried_in_seconds"] <= 300
    assert unregistered_certificate not in ready.text and "thumbprint" not in ready.text

    env = {k: ",".join(v) if isinstance(v, list) else str(v)
           for k, v in app_settings(emulator, redis_server, **settings).items() if v is not None}
    check = CliRunner().invoke(live.app.cli, ["entra", "check"], env=env, obj=None)
    assert check.exit_code == 0, check.output
    for tier, prefix in (("web", "ENTRA_CLIENT"), ("api", "API_CLIENT"), ("daemon", "DAEMON_CLIENT")):
        [line] = [line for line in check.output.splitlines() if f"{tier} credential at Entra" in line]
        assert line.startswith("warn"), line
        assert f"certificate {unregistered_certificate} (thumbprint sha256 " in line
        assert "refused (invalid_client AADSTS700027) at " in line and ", skipped until " in line
        assert line.endswith(f"first in line now: client secret from {prefix}_CREDENTIALS[1]"), line
    for secret in SECRETS.values():
        assert secret not in check.output


def test_entra_check_says_nothing_was_refused_when_nothing_was(live, emulator, redis_server):
    env = {k: ",".join(v) if isinstance(v, list) else str(v) for k, v in app_settings(emulator, redis_server).items()}
    check = CliRunner().invoke(live.app.cli, ["entra", "check"], env=env, obj=None)
    [line] = [line for line in check.output.splitlines() if "web credential at Entra" in line]
    assert line.startswith("ok") and "no refusal recorded; first in line: certificate " in line
    assert live.app.test_client().get("/readyz").json == {"status": "ready"}  # detail only once one is refused


def test_a_refused_source_is_tried_again_after_its_time(start_app, new_browser, control, unregistered_certificate):
    """Skipped for a while, not for good: a certificate uploaded again is used again without a restart."""
    live = start_app(**rotation_settings(unregistered_certificate))
    sign_in(new_browser(), live, MEGAN, "/")
    credential = live.state.web.msal_apps.credential
    assert credential.status()["in_use"] == "ENTRA_CLIENT_CREDENTIALS[1] (client_secret)"
    for source in list(credential._refused):  # as if the skip time had run out  # noqa: SLF001
        credential._refused[source] = (0.0, "invalid_client AADSTS700027")  # noqa: SLF001
    seq = control.last_seq()
    sign_in(new_browser(), live, MEGAN, "/")
    assert attempts(control, seq, WEB_CLIENT_ID, "authorization_code") == [REFUSED, (200, None, "client_secret")]


def test_when_every_source_is_refused_the_sign_in_is_a_clear_503_after_one_retry(
        start_app, new_browser, control, unregistered_certificate, redis_client):
    live = start_app(ENTRA_CLIENT_CERTIFICATE_PATH="", ENTRA_CLIENT_CREDENTIALS=json.dumps([
        {"SourceType": "Path", "CertificateDiskPath": unregistered_certificate},
        {"SourceType": "ClientSecret", "ClientSecret": "not-the-secret"},
        {"SourceType": "ClientSecret", "ClientSecret": SECRETS[WEB_CLIENT_ID]},  # third: not tried in this request
    ]))
    seq = control.last_seq()
    response = new_browser().get(f"{live.url}/auth/login?next=/profile", as_user=MEGAN)
    assert response.status_code == 503 and "Sign-in is unavailable" in response.text
    assert attempts(control, seq, WEB_CLIENT_ID, "authorization_code") == [REFUSED, (401, 7000215, None)]
    assert not redis_client.keys("session:*")
    # The next sign-in starts with the third entry: both refused ones are skipped for a while.
    seq = control.last_seq()
    sign_in(new_browser(), live, MEGAN, "/")
    assert attempts(control, seq, WEB_CLIENT_ID, "authorization_code") == [(200, None, "client_secret")]


def test_a_certificate_refused_at_refresh_and_on_behalf_of_falls_back_there(
        start_app, new_browser, control, emulator, tmp_path, caplog):
    """The rotation gone wrong after sign-in: a new certificate is mounted but was never uploaded to the
    registration. The next refresh and the next on-behalf-of exchange are refused, retried with the
    secret, and the page renders."""
    control.settings(access_token_lifetime=60)  # every page refreshes, and each new token means a new OBO
    web, api = tmp_path / "web.pem", tmp_path / "api.pem"
    for path, name in ((web, "orders-web"), (api, "orders-api")):
        write_pem(path, emulator.emulator.certificates[name].path.read_bytes())
    settings = {}
    for prefix, client_id, path in (("ENTRA_CLIENT", WEB_CLIENT_ID, web), ("API_CLIENT", API_CLIENT_ID, api)):
        settings.update({f"{prefix}_CERTIFICATE_PATH": "", f"{prefix}_CREDENTIALS": json.dumps([
            {"SourceType": "Path", "CertificateDiskPath": str(path)},
            {"SourceType": "ClientSecret", "ClientSecret": SECRETS[client_id]}])})
    live = start_app(**settings)
    browser = new_browser()
    seq = control.last_seq()
    sign_in(browser, live, MEGAN, "/profile")
    assert attempts(control, seq, WEB_CLIENT_ID, "authorization_code") == [(200, None, "certificate")]
    assert attempts(control, seq, API_CLIENT_ID, OBO_GRANT) == [(200, None, "certificate")]

    write_pem(web, unregistered_pem())
    write_pem(api, unregistered_pem())
    seq = control.last_seq()
    with caplog.at_level(logging.WARNING, logger="entra_auth.credentials"):
        page = browser.get(f"{live.url}/profile")
    assert page.status_code == 200 and "Megan Bowen" in page.text and "Marketing Manager" in page.text
    assert attempts(control, seq, WEB_CLIENT_ID, "refresh_token") == [REFUSED, (200, None, "client_secret")]
    assert attempts(control, seq, API_CLIENT_ID, OBO_GRANT) == [REFUSED, (200, None, "client_secret")]
    refused = [r.getMessage() for r in caplog.records if "refused by Entra" in r.getMessage()]
    assert [m.split(" (thumbprint")[0] for m in refused] == [
        f"client credential refused by Entra: certificate {web}", f"client credential refused by Entra: certificate {api}"]
