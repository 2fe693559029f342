"""Logs: one JSON object per line in production, with the request id and the caller's oid/tid;
a redaction filter as the last line of defence; and, after a whole sign-in, an on-behalf-of
call, a refused token and an identity-provider outage logged at DEBUG by every logger
(msal and urllib3 included), not one token the emulator issued appears in the output."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from flask import Flask, g

import logging_setup
from tests.conftest import HOME_TENANT_ID, MI_CLIENT_ID

from ..web.conftest import sign_in
from .conftest import MEGAN, MEGAN_OID, obo_requests

FAKE_JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJzdWIiOiJzb21lb25lIiwiYXVkIjoieCJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
MI_CREDENTIAL = json.dumps([{"SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": MI_CLIENT_ID}])


@pytest.fixture
def json_log(restore_logging):
    """Our JSON handler on the root logger at DEBUG, writing into a buffer."""
    buffer = io.StringIO()
    handler = logging_setup.install("json", "DEBUG", stream=buffer)
    return buffer, handler


def _lines(buffer: io.StringIO) -> list[dict]:
    text = buffer.getvalue()
    assert text.endswith("\n") or not text
    return [json.loads(line) for line in text.splitlines()]  # every line is one whole JSON object


def test_a_record_is_one_json_line_with_the_request_and_the_user(json_log):
    buffer, _ = json_log
    app = Flask(__name__)
    log = logging.getLogger("orders.test")
    log.info("outside any request")
    with app.test_request_context("/"):
        g.request_id = "req-1234567890"
        g.entra_user = type("U", (), {"claims": {"oid": MEGAN_OID, "tid": HOME_TENANT_ID}})()
        log.warning("two\nlines in one event: %s", "arg")
        log.error("identity provider error invalid_request correlation_id=%s trace_id=%s",
                  "0e2b6f3a-1d4c-4f7b-9a1e-3c5d7e9f1a2b", "5f1c2a3b-4d5e-6f70-8192-a3b4c5d6e7f8")
        log.error("with extras", extra={"correlation_id": "c0ffee00-0000-4000-8000-000000000001"})
    first, second, third, fourth = _lines(buffer)
    assert set(first) == {"time", "level", "logger", "message"} and first["message"] == "outside any request"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["time"])
    assert second == {**second, "level": "WARNING", "logger": "orders.test", "message": "two\nlines in one event: arg",
                      "request_id": "req-1234567890", "oid": MEGAN_OID, "tid": HOME_TENANT_ID}
    assert third["correlation_id"] == "0e2b6f3a-1d4c-4f7b-9a1e-3c5d7e9f1a2b"
    assert third["trace_id"] == "5f1c2a3b-4d5e-6f70-8192-a3b4c5d6e7f8"
    assert fourth["correlation_id"] == "c0ffee00-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("message", "args", "left"),
    [
        ("token %s", (FAKE_JWT,), "token [redacted]"),
        ("payload only %s", (FAKE_JWT.split(".")[1],), "payload only [redacted]"),
        ("POST body client_id=abc&client_secret=%s&scope=x", ("s3cr3t-value",), "client_secret=[redacted]&scope=x"),
        ("headers %r", ({"Authorization": "Bearer opaque-token-value-0123456789"},), "'Authorization': 'Bearer [redacted]'"),
        ("Authorization: Bearer %s", ("opaque-token-value-0123456789",), "Authorization: Bearer [redacted]"),
        ("response %s", ('{"access_token": "opaque-at", "refresh_token": "opaque-rt", "expires_in": 3599}',),
         '"refresh_token": "[redacted]", "expires_in": 3599'),
        ("callback %s", ("/auth/callback?code=0.AAAA-code-value&state=xyz",), "/auth/callback?code=[redacted]&state=xyz"),
        ("managed identity %s", ("X-IDENTITY-HEADER: header-secret-value",), "X-IDENTITY-HEADER: [redacted]"),
        # What msal's token cache logs at DEBUG for an authorization-code redemption (code and PKCE verifier):
        ("event=%s", ('{"data": {"code": "0.AAAA-code-value", "code_verifier": "s3cr3t-value"}}',),
         '{"data": {"code": "[redacted]", "code_verifier": "[redacted]"}}'),
    ],
)
def test_the_redaction_filter_scrubs_secrets_from_every_record(json_log, message, args, left):
    buffer, handler = json_log
    logging.getLogger("anything.at.all").debug(message, *args)
    [line] = _lines(buffer)
    assert left in line["message"]
    for secret in ("s3cr3t-value", "opaque-token-value", "opaque-rt", "0.AAAA-code-value", "header-secret-value",
                   FAKE_JWT.split(".")[1]):
        assert secret not in buffer.getvalue()
    [redactor] = [f for f in handler.filters if isinstance(f, logging_setup.RedactingFilter)]
    assert redactor.redactions == 1


def test_a_traceback_holding_a_token_is_scrubbed(json_log):
    buffer, _ = json_log
    try:
        raise ValueError(f"bad token {FAKE_JWT}")
    except ValueError:
        logging.getLogger("orders.test").exception("failed")
    [line] = _lines(buffer)
    assert "ValueError: bad token [redacted]" in line["exception"] and FAKE_JWT not in buffer.getvalue()


def test_development_logs_read_as_text_and_are_scrubbed_too(restore_logging):
    buffer = io.StringIO()
    logging_setup.install("text", "INFO", stream=buffer)
    app = Flask(__name__)
    with app.test_request_context("/"):
        g.request_id = "req-abcdef12"
        logging.getLogger("orders.test").info("hello %s", FAKE_JWT)
    line = buffer.getvalue().strip()
    assert re.fullmatch(r"\S+ \S+ INFO    orders\.test \[request_id=req-abcdef12\] hello \[redacted\]", line), line


def test_a_second_app_replaces_the_handler_instead_of_adding_one(emulator, redis_server, restore_logging):
    from app import create_app
    from tests.conftest import app_settings

    for _ in range(2):
        create_app(app_settings(emulator, redis_server, LOG_FORMAT="json"))
    ours = [h for h in logging.getLogger().handlers if getattr(h, logging_setup.HANDLER_MARK, False)]
    assert len(ours) == 1


class IssuedTokens:
    """Every token and assertion the identity provider handed the app, seen on the app's own HTTP client."""

    FIELDS = ("access_token", "id_token", "refresh_token")

    def __init__(self):
        self.values: set[str] = set()
        self.by_field: dict[str, list[str]] = {f: [] for f in self.FIELDS}

    def hook(self, response, *args, **kwargs):
        if "json" in response.headers.get("Content-Type", ""):
            try:
                body = response.json()
            except ValueError:
                return
            if isinstance(body, dict):
                for field in self.FIELDS:
                    if body.get(field):
                        self.values.add(str(body[field]))
                        self.by_field[field].append(str(body[field]))

    def fragments(self) -> set[str]:
        """The tokens, and each long segment of them (a payload or signature alone is a leak too)."""
        parts = set(self.values)
        for value in self.values:
            parts.update(p for p in value.split(".") if len(p) >= 16)
        return parts


def test_no_token_reaches_the_logs_through_a_whole_session(start_app, new_browser, control, emulator, restore_logging,
                                                            managed_identity_env):
    # The web tier signs in with its certificate; the API tier authenticates for on-behalf-of
    # with the managed identity's federated assertion (another token that must not leak).
    live = start_app(LOG_FORMAT="json", LOG_LEVEL="DEBUG", API_CLIENT_CERTIFICATE_PATH="",
                     API_CLIENT_CREDENTIALS=MI_CREDENTIAL)
    buffer = io.StringIO()
    handler = logging_setup.installed_handler()
    handler.setStream(buffer)
    assert logging.getLogger().level == logging.DEBUG
    assert logging.getLogger("msal").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("urllib3").getEffectiveLevel() == logging.DEBUG
    issued = IssuedTokens()
    live.state.http.hooks["response"].append(issued.hook)
    browser = new_browser()

    # 1. a sign-in, then 2. /profile: the API tier's on-behalf-of call and the downstream /me.
    seq = control.last_seq()
    page = sign_in(browser, live, MEGAN, "/profile")
    assert "Marketing Manager" in page.text
    assert obo_requests(control, seq), "the profile page made an on-behalf-of exchange"
    codes = [h.request.body for h in browser.history if h.request.method == "POST" and "code=" in (h.request.body or "")]
    session_cookie = browser.cookie("__Host-session")

    # 3. refused tokens: every issued token, tampered with, as a bearer; the ID token as it is (not an
    # access token); and a token in the query string (the test's own HTTP client logs that URL at DEBUG,
    # in this process: the redaction filter is what keeps it out).
    for token in list(issued.values):
        resp = browser.http.get(f"{live.url}/api/orders", headers={"Authorization": f"Bearer {token}x"})
        assert resp.status_code == 401
    [id_token] = issued.by_field["id_token"]
    assert browser.http.get(f"{live.url}/api/orders", headers={"Authorization": f"Bearer {id_token}"}).status_code == 401
    resp = browser.http.get(f"{live.url}/api/orders", params={"access_token": id_token})
    assert resp.status_code == 401

    # 4. an identity-provider outage while another user signs in.
    control.fault("token", mode="fail", status=503, seconds=30)
    outage = new_browser().get(f"{live.url}/auth/login?next=/", as_user="adele@contoso.example")
    assert outage.status_code == 503 and "unavailable" in outage.text
    control.fault("token", mode="fail", status=503, seconds=0)

    output = buffer.getvalue()
    records = [json.loads(line) for line in output.splitlines()]
    loggers = {r["logger"] for r in records}
    assert {"msal.application", "msal.managed_identity", "urllib3.connectionpool", "entra_auth.security",
            "entra_auth.credentials", "blueprints.web_errors"} <= loggers, loggers
    secrets = issued.fragments() | {emulator.emulator.identity_header, session_cookie}
    secrets |= {v for body in codes for k, v in re.findall(r"(code)=([^&]+)", body)}
    leaked = [s[:12] + "..." for s in secrets if s and s in output]
    assert not leaked, f"tokens or secrets in the logs: {leaked}"
    # Only library debug output needed scrubbing: msal's token-cache event (it masks tokens but logs the
    # authorization code and the PKCE verifier) and the URL with a token in its query string. Nothing of
    # ours (entra_auth, blueprints, app) relied on the filter.
    scrubbed = {r["logger"] for r in records if "[redacted]" in json.dumps(r)}
    assert scrubbed == {"msal.token_cache", "urllib3.connectionpool"}, scrubbed
    assert any("/api/orders?access_token=[redacted]" in r["message"] for r in records)
    # Access tokens: the user's for the API, the downstream one (on-behalf-of), the managed identity's assertion.
    assert len(issued.by_field["access_token"]) >= 3 and issued.by_field["refresh_token"]
    # Lines logged inside a signed-in request carry the request id and the caller.
    assert any(r.get("oid") == MEGAN_OID and r.get("tid") == HOME_TENANT_ID and r.get("request_id") for r in records)
    assert any(r["logger"] == "blueprints.web_errors" and r["level"] == "ERROR" and r.get("request_id")
               for r in records), "the outage was logged as an error, with the request id"
