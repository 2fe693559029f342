"""entra_auth.credentials against the emulator: every credential source gives unmodified
MSAL what it needs for an app-only token, fallback picks the next source and says so,
and no secret ever reaches a message, a repr or the log."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import socket
import threading
import time
import types
from pathlib import Path

import msal
import msal.managed_identity
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from entra_auth.credentials import (
    ClientCredential,
    CredentialConfigError,
    CredentialUnavailable,
    parse_client_credentials,
)
from tests.conftest import (
    API_CLIENT_ID,
    API_DEFAULT,
    DAEMON_CLIENT_ID,
    MI_CLIENT_ID,
    SECRETS,
    WEB_CLIENT_ID,
    confidential_app,
)

from .helpers import SYSTEM_MI_CLIENT_ID, TOKEN_EXCHANGE, assert_entra_error, header_of, strict_validate, unverified

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PASSWORD = "correct horse battery staple"  # the encrypted-key password; must never be echoed


class RecordingHttp:
    """Delegates to the test HTTP client and keeps, per token request, only the
    client assertion's decoded header and a hash of it (never the assertion)."""

    def __init__(self, inner):
        self.inner = inner
        self.assertions: list[dict] = []

    def post(self, url, *args, **kwargs):
        data = kwargs.get("data") or {}
        if isinstance(data, dict) and data.get("client_assertion"):
            assertion = data["client_assertion"]
            assertion = assertion.decode() if isinstance(assertion, bytes) else assertion
            self.assertions.append({"header": header_of(assertion), "sha256": _sha256(assertion)})
        return self.inner.post(url, *args, **kwargs)

    def get(self, *args, **kwargs):
        return self.inner.get(*args, **kwargs)

    def close(self) -> None:
        pass


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _cert_path(emulator, name: str) -> str:
    return str(emulator.emulator.certificates[name].path)


def _credential(prefix: str, settings: dict, http) -> ClientCredential:
    return ClientCredential(parse_client_credentials(prefix, settings), http_client=http)


def _token_calls(control, seq: int) -> list[dict]:
    return [e for e in control.requests(seq) if e["endpoint"] == "token"]


def _msi_calls(control, seq: int) -> list[dict]:
    return [e for e in control.requests(seq) if e["endpoint"] == "msi"]


@pytest.fixture
def recording_http(http) -> RecordingHttp:
    return RecordingHttp(http)


@pytest.fixture
def mi_token(mi_client):
    """A fresh managed-identity token for the token exchange (a new client, so never a cached one)."""

    def get(client_id: str = MI_CLIENT_ID) -> str:
        result = mi_client(msal.UserAssignedManagedIdentity(client_id=client_id)).acquire_token_for_client(
            resource=TOKEN_EXCHANGE)
        assert "access_token" in result, result.get("error_description")
        return result["access_token"]

    return get


# -- every source, end to end -----------------------------------------------------------------------

def _settings(kind: str, emulator, tmp_path, mi_token) -> tuple[str, str, dict]:
    """(prefix, client id, settings) for one way of configuring a credential."""
    if kind == "secret-json":
        return "DAEMON_CLIENT", DAEMON_CLIENT_ID, {"DAEMON_CLIENT_CREDENTIALS": json.dumps(
            [{"SourceType": "ClientSecret", "ClientSecret": SECRETS[DAEMON_CLIENT_ID]}])}
    if kind == "secret-variable":
        return "DAEMON_CLIENT", DAEMON_CLIENT_ID, {"DAEMON_CLIENT_SECRET": SECRETS[DAEMON_CLIENT_ID]}
    if kind == "certificate-json":
        return "DAEMON_CLIENT", DAEMON_CLIENT_ID, {"DAEMON_CLIENT_CREDENTIALS": json.dumps(
            [{"SourceType": "Path", "CertificateDiskPath": _cert_path(emulator, "daemon"), "SendX5C": False}])}
    if kind == "certificate-x5c-api":  # the "Path" alias, on the Orders API registration
        return "API_CLIENT", API_CLIENT_ID, {"API_CLIENT_CREDENTIALS": json.dumps(
            [{"SourceType": "Path", "Path": _cert_path(emulator, "orders-api"), "SendX5C": True}])}
    if kind == "certificate-variable":
        return "DAEMON_CLIENT", DAEMON_CLIENT_ID, {"DAEMON_CLIENT_CERTIFICATE_PATH": _cert_path(emulator, "daemon")}
    if kind == "managed-identity":
        return "DAEMON_CLIENT", DAEMON_CLIENT_ID, {"DAEMON_CLIENT_CREDENTIALS": json.dumps(
            [{"SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": MI_CLIENT_ID,
              "TokenExchangeUrl": TOKEN_EXCHANGE}])}
    if kind == "managed-identity-api":
        return "API_CLIENT", API_CLIENT_ID, {"API_CLIENT_CREDENTIALS": json.dumps(
            [{"SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": MI_CLIENT_ID}])}
    if kind == "workload-identity-file":
        token_file = tmp_path / "azure-identity-token"
        token_file.write_text(mi_token())
        return "DAEMON_CLIENT", DAEMON_CLIENT_ID, {
            "DAEMON_CLIENT_CREDENTIALS": json.dumps([{"SourceType": "SignedAssertionFilePath"}]),
            "AZURE_FEDERATED_TOKEN_FILE": str(token_file)}
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "source_kind", "method"),
    [
        ("secret-json", "client_secret", "client_secret"),
        ("secret-variable", "client_secret", "client_secret"),
        ("certificate-json", "certificate", "certificate"),
        ("certificate-x5c-api", "certificate", "certificate"),
        ("certificate-variable", "certificate", "certificate"),
        ("managed-identity", "managed_identity", "federated"),
        ("managed-identity-api", "managed_identity", "federated"),
        ("workload-identity-file", "federated_token_file", "federated"),
    ],
)
def test_each_source_gets_an_app_token(emulator, http, recording_http, jwks, control, tmp_path,
                                       managed_identity_env, mi_token, kind, source_kind, method):
    prefix, client_id, settings = _settings(kind, emulator, tmp_path, mi_token)
    credential = _credential(prefix, settings, http)
    assert [s.kind for s in credential.sources] == [source_kind]
    seq = control.last_seq()
    app = confidential_app(emulator, recording_http, client_id, credential=credential.msal_credential())
    result = app.acquire_token_for_client([API_DEFAULT])
    assert "access_token" in result, result.get("error_description")
    claims = strict_validate(result["access_token"], jwks, authority_host=emulator.url, audience=API_CLIENT_ID)
    assert claims["azp"] == client_id and claims["oid"] == claims["sub"] and "scp" not in claims
    # Entra's azpacr: 1 = shared secret, 2 = certificate or assertion.
    assert claims["azpacr"] == ("1" if method == "client_secret" else "2")
    if client_id == DAEMON_CLIENT_ID:
        assert claims["roles"] == ["Orders.Read.All"]

    # What reached the token endpoint, from the emulator's request log: the form
    # field that authenticated the client (redacted) and the assertion type.
    [call] = _token_calls(control, seq)
    assert call["grant_type"] == "client_credentials" and call["status"] == 200
    if method == "client_secret":
        assert call["redacted_fields"] == ["client_secret"] and "client_assertion_type" not in call
        assert recording_http.assertions == []
    else:
        assert call["redacted_fields"] == ["client_assertion"]
        assert call["client_assertion_type"] == JWT_BEARER
        # The log does not say which kind of assertion it was; its header does:
        # a certificate's thumbprint, or the emulator's own signing key (a federated token).
        [sent] = recording_http.assertions
        if method == "certificate":
            assert "x5t" in sent["header"] or "x5t#S256" in sent["header"]
        else:
            assert sent["header"]["kid"] in jwks and "x5t#S256" not in sent["header"]
    msi = _msi_calls(control, seq)
    expected_msi = [TOKEN_EXCHANGE] if source_kind == "managed_identity" else []
    assert [e["resource"] for e in msi] == expected_msi


@pytest.mark.parametrize("send_x5c", [False, True])
def test_send_x5c_decides_the_assertion_header(emulator, http, recording_http, certificate_pem, send_x5c):
    path = _cert_path(emulator, "daemon")
    credential = _credential("DAEMON_CLIENT", {"DAEMON_CLIENT_CREDENTIALS": json.dumps(
        [{"SourceType": "Path", "CertificateDiskPath": path, "SendX5C": send_x5c}])}, http)
    value = credential.msal_credential()
    cert = x509.load_pem_x509_certificate(certificate_pem("daemon").encode())
    app = confidential_app(emulator, recording_http, DAEMON_CLIENT_ID, credential=value)
    assert "access_token" in app.acquire_token_for_client([API_DEFAULT])
    [sent] = recording_http.assertions
    header = sent["header"]
    if send_x5c:  # subject name + issuer: the certificate travels with the assertion
        assert set(value) == {"private_key", "public_certificate"}
        assert header["alg"] == "PS256"
        # MSAL sends the PEM body lines, newlines included (RFC 7515 wants plain base64; Entra accepts both).
        [x5c] = header["x5c"]
        assert x5c.replace("\n", "") == base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        assert header["x5t#S256"].rstrip("=") == _b64url(cert.fingerprint(hashes.SHA256()))
    else:
        assert set(value) == {"private_key", "thumbprint"}
        assert header["alg"] == "RS256"
        assert "x5c" not in header and "x5t#S256" not in header
        assert header["x5t"].rstrip("=") == _b64url(cert.fingerprint(hashes.SHA1()))  # noqa: S303


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- managed identity ---------------------------------------------------------------------------------

def _mi_credential(http, client_id: str | None = MI_CLIENT_ID, prefix: str = "DAEMON_CLIENT") -> ClientCredential:
    entry = {"SourceType": "SignedAssertionFromManagedIdentity"}
    if client_id:
        entry["ManagedIdentityClientId"] = client_id
    return _credential(prefix, {f"{prefix}_CREDENTIALS": json.dumps([entry])}, http)


def test_managed_identity_assertion_is_a_callable_fetched_once_while_valid(emulator, http, control,
                                                                          managed_identity_env):
    credential = _mi_credential(http)
    seq = control.last_seq()
    value = credential.msal_credential()
    assert set(value) == {"client_assertion"} and callable(value["client_assertion"])
    assert credential.msal_credential() is value  # remembered: no probe per MSAL app built
    for _ in range(3):  # a new app each time, as entra_auth.msal_apps builds them
        app = confidential_app(emulator, http, DAEMON_CLIENT_ID, credential=credential.msal_credential())
        assert "access_token" in app.acquire_token_for_client([API_DEFAULT])
    assert len(_token_calls(control, seq)) == 3
    # One managed-identity request in all (the probe in load()); MSAL called the
    # callable three times and the MI client's cache answered.
    assert len(_msi_calls(control, seq)) == 1


def test_managed_identity_assertion_is_renewed_before_it_expires(emulator, http, control, managed_identity_env,
                                                                 monkeypatch):
    credential = _mi_credential(http)
    assertion = credential.msal_credential()["client_assertion"]
    seq = control.last_seq()
    first = assertion()
    lifetime = unverified(first)["exp"] - time.time()
    clock = types.SimpleNamespace(time=time.time)
    monkeypatch.setattr(msal.managed_identity, "time", clock)  # the MI client's clock only

    clock.time = lambda: time.time() + lifetime / 2 - 60  # before MSAL's refresh point (half-life)
    assert assertion() == first
    assert _msi_calls(control, seq) == []
    clock.time = lambda: time.time() + lifetime - 240  # 4 minutes left: MSAL treats it as expired
    second = assertion()
    assert second != first
    assert [e["resource"] for e in _msi_calls(control, seq)] == [TOKEN_EXCHANGE]


def test_managed_identity_failing_later_raises_from_the_callable(emulator, http, control, managed_identity_env,
                                                                 monkeypatch):
    credential = _mi_credential(http)
    assertion = credential.msal_credential()["client_assertion"]
    lifetime = unverified(assertion())["exp"] - time.time()
    control.fault("msi", status=503)
    monkeypatch.setattr(msal.managed_identity, "time",
                        types.SimpleNamespace(time=lambda: time.time() + lifetime - 60))
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID, credential=credential.msal_credential())
    with pytest.raises(CredentialUnavailable, match=r"managed identity assertion \(user-assigned.*cannot get a token"):
        app.acquire_token_for_client([API_DEFAULT])  # MSAL lets the callable's exception through


def test_system_assigned_identity_is_on_no_federated_credential(emulator, http, control, managed_identity_env):
    credential = _mi_credential(http, client_id=None)
    assert credential.describe() == "one of: managed identity assertion (system-assigned)"
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID, credential=credential.msal_credential())
    result = app.acquire_token_for_client([API_DEFAULT])
    assert_entra_error(result, "invalid_client", 700213)
    assert "d0000004-0000-4000-8000-000000000002" in result["error_description"]  # the subject it presented
    # System-assigned: the MI request names no identity, and the emulator answered for the system one.
    [msi] = _msi_calls(control, 0)
    assert "client_id" not in msi and msi["issued"][0]["azp"] == SYSTEM_MI_CLIENT_ID


def test_managed_identity_outside_azure_is_unavailable(emulator, http, monkeypatch, caplog):
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT",
                 "MSI_SECRET", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    # MSAL then tries the VM metadata endpoint; point it at a closed local port so the test is fast.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", f"http://127.0.0.1:{closed_port}")
    credential = _mi_credential(http)
    with caplog.at_level(logging.WARNING, logger="entra_auth.credentials"):
        with pytest.raises(CredentialUnavailable) as excinfo:
            credential.msal_credential()
    message = str(excinfo.value)
    assert message.startswith("no client credential can be used: managed identity assertion (user-assigned")
    assert "ConnectionError" in message and "no IDENTITY_ENDPOINT in the environment" in message
    assert [r.levelname for r in caplog.records] == ["WARNING"]


def test_concurrent_first_use_probes_once_and_announces_once(emulator, http, control, managed_identity_env, caplog):
    credential = _mi_credential(http)
    seq = control.last_seq()
    results, barrier = [], threading.Barrier(8)

    def use():
        barrier.wait()
        results.append(credential.msal_credential())

    with caplog.at_level(logging.INFO, logger="entra_auth.credentials"):
        threads = [threading.Thread(target=use) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(results) == 8 and all(r is results[0] for r in results)
    assert len(_msi_calls(control, seq)) == 1
    assert [r.getMessage() for r in caplog.records] == [
        f"client credential in use: managed identity assertion (user-assigned, client id {MI_CLIENT_ID})"]


# -- certificates -------------------------------------------------------------------------------------

def test_expired_certificate_is_unavailable(emulator, http):
    path = _cert_path(emulator, "orders-web-expired")
    credential = _credential("ENTRA_CLIENT", {"ENTRA_CLIENT_CERTIFICATE_PATH": path}, http)
    with pytest.raises(CredentialUnavailable, match=r"certificate .*orders-web-expired\.pem \(thumbprint sha256 "
                                                    r"[0-9a-f]{64}\) expired on \d{4}-\d\d-\d\d"):
        credential.msal_credential()


def test_fallback_to_the_next_source_is_logged(emulator, http, jwks, control, caplog):
    expired, good = _cert_path(emulator, "orders-web-expired"), _cert_path(emulator, "orders-web")
    credential = _credential("ENTRA_CLIENT", {"ENTRA_CLIENT_CREDENTIALS": json.dumps([
        {"SourceType": "Path", "CertificateDiskPath": expired},
        {"SourceType": "Path", "CertificateDiskPath": good},
    ]), "ENTRA_CLIENT_SECRET": SECRETS[WEB_CLIENT_ID]}, http)
    with caplog.at_level(logging.INFO, logger="entra_auth.credentials"):
        value = credential.msal_credential()
        credential.msal_credential()  # remembered: nothing logged again
    sha256 = emulator.emulator.certificates["orders-web"].certificate.fingerprint(hashes.SHA256()).hex()
    assert [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records] == [
        ("WARNING", "client credential skipped"), ("INFO", "client credential in use")]
    assert "orders-web-expired.pem" in caplog.records[0].getMessage() and "expired on" in caplog.records[0].getMessage()
    assert f"certificate {good} (thumbprint sha256 {sha256}" in caplog.records[1].getMessage()
    assert credential.describe().startswith(f"certificate {good} (thumbprint sha256 {sha256}")
    seq = control.last_seq()
    result = confidential_app(emulator, http, WEB_CLIENT_ID, credential=value).acquire_token_for_client([API_DEFAULT])
    claims = strict_validate(result["access_token"], jwks, authority_host=emulator.url, audience=API_CLIENT_ID)
    assert claims["azp"] == WEB_CLIENT_ID and claims["azpacr"] == "2"
    assert _token_calls(control, seq)[0]["redacted_fields"] == ["client_assertion"]


def test_a_removed_certificate_falls_back_and_reset_retries_in_order(emulator, http, tmp_path, caplog):
    copy = tmp_path / "daemon.pem"
    copy.write_bytes(Path(_cert_path(emulator, "daemon")).read_bytes())
    credential = _credential("DAEMON_CLIENT", {"DAEMON_CLIENT_CERTIFICATE_PATH": str(copy),
                                               "DAEMON_CLIENT_SECRET": SECRETS[DAEMON_CLIENT_ID]}, http)
    assert not credential.only_secrets
    assert isinstance(credential.msal_credential(), dict)
    saved = copy.read_bytes()
    copy.unlink()  # e.g. the secret store unmounted it
    with caplog.at_level(logging.INFO, logger="entra_auth.credentials"):
        assert credential.msal_credential() == SECRETS[DAEMON_CLIENT_ID]
    assert "cannot be read (No such file or directory)" in caplog.records[0].getMessage()
    assert caplog.records[1].getMessage() == "client credential in use: client secret from DAEMON_CLIENT_SECRET"
    copy.write_bytes(saved)
    assert credential.msal_credential() == SECRETS[DAEMON_CLIENT_ID]  # the working source is remembered...
    credential.reset()
    assert isinstance(credential.msal_credential(), dict)  # ...until reset: then tried in order again


def _self_signed(key: rsa.RSAPrivateKey, not_before: dt.datetime, not_after: dt.datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .sign(key, hashes.SHA256()))


def _load_daemon(certificate_pem) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    pem = certificate_pem("daemon").encode()
    return serialization.load_pem_private_key(pem, None), x509.load_pem_x509_certificate(pem)


def test_encrypted_key_with_its_password(emulator, http, jwks, tmp_path, certificate_pem, caplog):
    key, cert = _load_daemon(certificate_pem)
    path = tmp_path / "daemon-encrypted.pem"
    path.write_bytes(
        # The chain may come first; the certificate matching the key is the one used.
        _self_signed(rsa.generate_private_key(65537, 2048), cert.not_valid_before_utc, cert.not_valid_after_utc)
        .public_bytes(serialization.Encoding.PEM)
        + cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(PASSWORD.encode())))
    entry = {"SourceType": "Path", "CertificateDiskPath": str(path), "CertificatePassword": PASSWORD}
    credential = _credential("DAEMON_CLIENT", {"DAEMON_CLIENT_CREDENTIALS": json.dumps([entry])}, http)
    with caplog.at_level(logging.DEBUG):
        value = credential.msal_credential()
        result = confidential_app(emulator, http, DAEMON_CLIENT_ID, credential=value).acquire_token_for_client(
            [API_DEFAULT])
    assert "access_token" in result, result.get("error_description")
    assert "passphrase" not in value and "ENCRYPTED" not in value["private_key"]
    for text in (repr(credential), credential.describe(), repr(credential.sources), caplog.text):
        assert PASSWORD not in text and "PRIVATE KEY" not in text


@pytest.mark.parametrize(
    ("password", "message"),
    [(None, "the private key is encrypted; set CertificatePassword"),
     ("wrong-password-value", "the private key cannot be read")],
)
def test_encrypted_key_without_the_right_password(http, tmp_path, certificate_pem, password, message):
    key, cert = _load_daemon(certificate_pem)
    path = tmp_path / "encrypted.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.BestAvailableEncryption(PASSWORD.encode()))
                     + cert.public_bytes(serialization.Encoding.PEM))
    entry = {"SourceType": "Path", "CertificateDiskPath": str(path)}
    if password:
        entry["CertificatePassword"] = password
    credential = _credential("DAEMON_CLIENT", {"DAEMON_CLIENT_CREDENTIALS": json.dumps([entry])}, http)
    with pytest.raises(CredentialUnavailable, match=message) as excinfo:
        credential.msal_credential()
    assert PASSWORD not in str(excinfo.value) and "wrong-password-value" not in str(excinfo.value)
    assert excinfo.value.__cause__ is None and excinfo.value.__context__ is None  # no chained key error


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not-yet-valid", r"is not valid before \d{4}-"),
        ("key-of-another-certificate", "the private key matches none of the certificates"),
        ("certificate-only", "holds no private key"),
        ("der", "is not a PEM file"),
    ],
)
def test_unusable_certificate_files(http, tmp_path, certificate_pem, content, message):
    key, cert = _load_daemon(certificate_pem)
    now = dt.datetime.now(dt.timezone.utc)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    if content == "not-yet-valid":
        data = key_pem + _self_signed(key, now + dt.timedelta(days=1), now + dt.timedelta(days=30)).public_bytes(
            serialization.Encoding.PEM)
    elif content == "key-of-another-certificate":
        other = x509.load_pem_x509_certificate(certificate_pem("orders-api").encode())
        data = key_pem + other.public_bytes(serialization.Encoding.PEM)
    elif content == "certificate-only":
        data = cert.public_bytes(serialization.Encoding.PEM)
    else:
        data = cert.public_bytes(serialization.Encoding.DER)
    path = tmp_path / "cert.pem"
    path.write_bytes(data)
    credential = _credential("DAEMON_CLIENT", {"DAEMON_CLIENT_CERTIFICATE_PATH": str(path)}, http)
    with pytest.raises(CredentialUnavailable, match=message):
        credential.msal_credential()


# -- workload identity (token file) -------------------------------------------------------------------

def test_workload_identity_file_is_read_again_on_each_use(emulator, http, recording_http, tmp_path, mi_token,
                                                          control):
    token_file = tmp_path / "azure-identity-token"
    first = mi_token()
    token_file.write_text(first + "\n")
    credential = _credential("DAEMON_CLIENT", {
        "DAEMON_CLIENT_CREDENTIALS": json.dumps([{"SourceType": "SignedAssertionFilePath",
                                                  "SignedAssertionFileDiskPath": str(token_file)}]),
        "AZURE_FEDERATED_TOKEN_FILE": "/nonexistent/explicit-path-wins"}, http)
    app = confidential_app(emulator, recording_http, DAEMON_CLIENT_ID, credential=credential.msal_credential())
    seq = control.last_seq()
    assert "access_token" in app.acquire_token_for_client([API_DEFAULT])
    second = mi_token()  # the kubelet rotates the projected token
    assert _sha256(second) != _sha256(first)
    token_file.write_text(second)
    app.remove_tokens_for_client()  # make MSAL go to the token endpoint again
    assert "access_token" in app.acquire_token_for_client([API_DEFAULT])
    assert [a["sha256"] for a in recording_http.assertions] == [_sha256(first), _sha256(second)]
    assert [e["status"] for e in _token_calls(control, seq)] == [200, 200]
    token_file.write_text("")
    app.remove_tokens_for_client()
    with pytest.raises(CredentialUnavailable, match=r"federated token file .* is empty"):
        app.acquire_token_for_client([API_DEFAULT])


@pytest.mark.parametrize("setup", ["missing-file", "empty-file", "no-path"])
def test_workload_identity_file_unavailable(http, tmp_path, setup):
    settings = {"DAEMON_CLIENT_CREDENTIALS": json.dumps([{"SourceType": "SignedAssertionFilePath"}])}
    if setup != "no-path":
        settings["AZURE_FEDERATED_TOKEN_FILE"] = str(tmp_path / "token")
    if setup == "empty-file":
        (tmp_path / "token").write_text("\n")
    credential = _credential("DAEMON_CLIENT", settings, http)
    expected = {"missing-file": "cannot be read", "empty-file": "is empty",
                "no-path": "AZURE_FEDERATED_TOKEN_FILE is not set"}[setup]
    with pytest.raises(CredentialUnavailable, match=expected):
        credential.msal_credential()


# -- configuration ------------------------------------------------------------------------------------

def test_order_of_preference_and_secret_posture(emulator, http):
    settings = {
        "API_CLIENT_CREDENTIALS": json.dumps([
            {"SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": MI_CLIENT_ID},
            {"SourceType": "ClientSecret", "ClientSecret": "json-secret"},
        ]),
        "API_CLIENT_CERTIFICATE_PATH": _cert_path(emulator, "orders-api"),
        "API_CLIENT_SECRET": "variable-secret",
        "DAEMON_CLIENT_SECRET": "someone-else",
    }
    sources = parse_client_credentials("API_CLIENT", settings)
    assert [(s.kind, s.origin) for s in sources] == [
        ("managed_identity", "API_CLIENT_CREDENTIALS[0]"),
        ("client_secret", "API_CLIENT_CREDENTIALS[1]"),
        ("certificate", "API_CLIENT_CERTIFICATE_PATH"),
        ("client_secret", "API_CLIENT_SECRET"),
    ]
    assert parse_client_credentials("ENTRA_CLIENT", settings) == []
    assert ClientCredential(sources[1:2] + sources[3:], http_client=http).only_secrets
    assert not ClientCredential(sources, http_client=http).only_secrets


def test_field_names_and_flags_are_case_insensitive(emulator, http, recording_http):
    credential = _credential("DAEMON_CLIENT", {"DAEMON_CLIENT_CREDENTIALS": json.dumps(
        [{"sourcetype": "path", "certificatediskpath": _cert_path(emulator, "daemon"), "sendx5c": "True"}])}, http)
    [source] = credential.sources
    assert source.kind == "certificate" and source.send_x5c is True
    app = confidential_app(emulator, recording_http, DAEMON_CLIENT_ID, credential=credential.msal_credential())
    assert "access_token" in app.acquire_token_for_client([API_DEFAULT])
    assert "x5c" in recording_http.assertions[0]["header"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('[{"SourceType": "ClientSecret", "ClientSecret": "s3cr3t-in-bad-json"',
         r"DAEMON_CLIENT_CREDENTIALS is not valid JSON \(Expecting ',' delimiter at line 1 column \d+\)"),
        ('{"SourceType": "ClientSecret"}', r"DAEMON_CLIENT_CREDENTIALS must be a JSON list"),
        ('["Path"]', r"DAEMON_CLIENT_CREDENTIALS\[0\] must be a JSON object"),
        ('[{"ClientSecret": "s3cr3t-in-bad-json"}]', r"DAEMON_CLIENT_CREDENTIALS\[0\] has no SourceType"),
        ('[{"SourceType": "KeyVault", "KeyVaultUrl": "https://kv", "KeyVaultCertificateName": "c"}]',
         r"DAEMON_CLIENT_CREDENTIALS\[0\]: SourceType 'KeyVault' is not supported here \(supported: ClientSecret, "
         r"Path, SignedAssertionFromManagedIdentity, SignedAssertionFilePath\)"),
        ('[{"SourceType": "Path", "CertificateDiskPath": "/x.pem"}, {"SourceType": "StoreWithThumbprint"}]',
         r"DAEMON_CLIENT_CREDENTIALS\[1\]: SourceType 'StoreWithThumbprint' is not supported"),
        ('[{"SourceType": "Base64Encoded", "Base64EncodedValue": "s3cr3t-in-bad-json"}]',
         r"'Base64Encoded' is not supported"),
        ('[{"SourceType": "Path"}]', r"DAEMON_CLIENT_CREDENTIALS\[0\] needs CertificateDiskPath \(or Path\)"),
        ('[{"SourceType": "ClientSecret"}]', r"DAEMON_CLIENT_CREDENTIALS\[0\] needs ClientSecret"),
        ('[{"SourceType": "ClientSecret", "ClientSecret": 42}]',
         r"DAEMON_CLIENT_CREDENTIALS\[0\]\.ClientSecret must be a string"),
        ('[{"SourceType": "Path", "Path": "/x.pem", "SendX5C": "yes"}]',
         r"DAEMON_CLIENT_CREDENTIALS\[0\]\.SendX5C must be true or false"),
        ('[{"SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": "my-identity"}]',
         r"DAEMON_CLIENT_CREDENTIALS\[0\]\.ManagedIdentityClientId must be the managed identity's client id"),
    ],
    ids=["bad-json", "not-a-list", "entry-not-object", "no-source-type", "key-vault", "store-second-entry",
         "base64", "path-missing-file", "secret-missing", "secret-not-string", "bad-flag", "bad-mi-client-id"],
)
def test_configuration_errors_name_the_variable(value, message):
    with pytest.raises(CredentialConfigError, match=message) as excinfo:
        parse_client_credentials("DAEMON_CLIENT", {"DAEMON_CLIENT_CREDENTIALS": value})
    assert "s3cr3t-in-bad-json" not in str(excinfo.value)
    assert excinfo.value.__cause__ is None  # no chained JSON error quoting the text


def test_no_credential_configured_is_a_configuration_error():
    with pytest.raises(CredentialConfigError, match="no client credential is configured"):
        ClientCredential(parse_client_credentials("DAEMON_CLIENT", {"DAEMON_CLIENT_SECRET": ""}), http_client=object())


def test_no_secret_in_repr_describe_messages_or_logs(emulator, http, tmp_path, caplog, mi_token):
    secret = "this-is-the-secret-value-9f3a"
    token_file = tmp_path / "token"
    assertion = mi_token()
    token_file.write_text(assertion)
    missing = tmp_path / "missing.pem"
    settings = {
        "DAEMON_CLIENT_CREDENTIALS": json.dumps([
            {"SourceType": "Path", "CertificateDiskPath": str(missing), "CertificatePassword": PASSWORD},
            {"SourceType": "ClientSecret", "ClientSecret": secret},
        ]),
        "DAEMON_CLIENT_SECRET": secret,
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
    }
    with caplog.at_level(logging.DEBUG):
        credential = _credential("DAEMON_CLIENT", settings, http)
        assert credential.msal_credential() == secret
        file_credential = _credential("DAEMON_CLIENT", {
            "DAEMON_CLIENT_CREDENTIALS": json.dumps([{"SourceType": "SignedAssertionFilePath"}]),
            "AZURE_FEDERATED_TOKEN_FILE": str(token_file)}, http)
        file_value = file_credential.msal_credential()
        missing_everything = _credential("DAEMON_CLIENT", {"DAEMON_CLIENT_CREDENTIALS": json.dumps(
            [{"SourceType": "Path", "CertificateDiskPath": str(missing), "CertificatePassword": PASSWORD}])}, http)
        with pytest.raises(CredentialUnavailable) as excinfo:
            missing_everything.msal_credential()
    texts = [repr(credential), credential.describe(), repr(credential.sources), repr(file_credential),
             repr(file_value), repr(file_credential.sources), str(excinfo.value), caplog.text]
    for text in texts:
        for forbidden in (secret, PASSWORD, assertion, "PRIVATE KEY"):
            assert forbidden not in text
    assert credential.describe() == "client secret from DAEMON_CLIENT_CREDENTIALS[1]"
    assert "client secret from DAEMON_CLIENT_SECRET" in repr(credential.sources)
    assert credential.only_secrets is False
