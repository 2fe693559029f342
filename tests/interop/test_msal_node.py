"""Another Microsoft library drives the emulator: unmodified MSAL Node (interop/msal-node).

Its script does client credentials (certificate and secret), on-behalf-of and refresh by
refresh token against the session's emulator and prints what it got (claims and MSAL's fields,
never a token). Node and npm are required: a missing toolchain fails here, it is not skipped
(.ci/run installs them when absent).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from entra_auth.http import build_http_session
from tests.conftest import (
    API_CLIENT_ID,
    API_SCOPE_READ,
    DAEMON_CLIENT_ID,
    GRAPH_CLIENT_ID,
    GRAPH_USER_READ,
    HOME_TENANT_ID,
    REDIRECT_URI,
    ROOT,
    SECRETS,
    WEB_CLIENT_ID,
    Control,
    sign_in_with_msal,
)
from tests.node_packages import node_with_locked_packages

NODE_DIR = ROOT / "interop" / "msal-node"
MEGAN = "megan@contoso.example"
MEGAN_OID = "a0000001-0000-4000-8000-000000000001"
ADELE = "adele@contoso.example"
GRAPH_MAIL_READ = "https://graph.microsoft.com/Mail.Read"  # never admin-consented: only the user's consent grants it
GRAPH_AUDIENCES = {GRAPH_CLIENT_ID, "https://graph.microsoft.com"}  # v2.0 or v1.0 Graph tokens
TOKEN_GRANTS = ("client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer", "refresh_token",
                "authorization_code")


def _node() -> str:
    """node, with interop/msal-node's locked dependencies installed (npm ci, once per lockfile). Not skipped
    without Node: this is the emulator's check against a second Microsoft library."""
    return node_with_locked_packages(NODE_DIR, "MSAL Node interop")


def _logged(run, correlation_id: str) -> list[dict]:
    """The emulator's log entries of the requests MSAL Node sent under this correlation id."""
    return [e for e in run["log"] if e.get("client_request_id") == correlation_id]


@pytest.fixture(scope="module")
def run(emulator):
    """One run of the MSAL Node script: its results, the emulator's log of it, and the user tokens it got."""
    node = _node()
    emulator.emulator.state.reset()
    http = build_http_session(str(emulator.ca_path))
    # The user's tokens come from a real sign-in with MSAL Python (MSAL Node has no browser here).
    _, _, signed_in = sign_in_with_msal(emulator, http, build_http_session(str(emulator.ca_path)), MEGAN,
                                        [API_SCOPE_READ])
    assert "access_token" in signed_in and "refresh_token" in signed_in, signed_in
    control = Control(emulator, http)
    mark = control.last_seq()
    payload = {
        "authorityHost": emulator.url,
        "tenantId": HOME_TENANT_ID,
        "daemon": {"clientId": DAEMON_CLIENT_ID, "certificatePath": str(emulator.emulator.certificates["daemon"].path),
                   "secret": SECRETS[DAEMON_CLIENT_ID]},
        "api": {"clientId": API_CLIENT_ID, "secret": SECRETS[API_CLIENT_ID]},
        "web": {"clientId": WEB_CLIENT_ID, "secret": SECRETS[WEB_CLIENT_ID]},
        "scopes": {"app": [f"api://{API_CLIENT_ID}/.default"], "obo": [GRAPH_USER_READ], "refresh": [API_SCOPE_READ]},
        "userAssertion": signed_in["access_token"],
        "refreshToken": signed_in["refresh_token"],
        "authCode": {"username": ADELE, "redirectUri": REDIRECT_URI, "scopes": [API_SCOPE_READ],
                     "extraScopesToConsent": [GRAPH_MAIL_READ],
                     "expectPermissions": ["Read your orders", "Read your mail"]},
    }
    done = subprocess.run([node, "drive.mjs"], cwd=NODE_DIR, input=json.dumps(payload), capture_output=True,
                          text=True, timeout=120, env={**os.environ, "NODE_EXTRA_CA_CERTS": str(emulator.ca_path)})
    assert done.returncode == 0, f"MSAL Node script failed:\n{done.stderr[-3000:]}"
    return {"results": json.loads(done.stdout), "stdout": done.stdout, "stderr": done.stderr,
            "log": control.requests(mark), "user_tokens": signed_in}


def test_client_credentials_with_a_certificate_and_with_a_secret(run):
    results = run["results"]
    for name in ("clientCredentialsCertificate", "clientCredentialsSecret"):
        result = results[name]
        assert result["ok"], result
        claims = result["accessToken"]["claims"]
        assert claims["aud"] == API_CLIENT_ID and claims["oid"] == claims["sub"] and "scp" not in claims, claims
        assert claims["tid"] == HOME_TENANT_ID and "scp" not in claims
        assert result["tokenType"] == "Bearer" and result["expiresInSeconds"] > 0
    assert results["clientCredentialsCached"]["ok"] and results["clientCredentialsCached"]["fromCache"] is True
    auth = [e.get("client_auth") for e in run["log"] if e.get("grant_type") == "client_credentials"
            and e["status"] == 200]
    assert auth == ["certificate", "client_secret"], "one certificate assertion, one secret; the cached call sent none"


def test_on_behalf_of_gives_the_users_graph_token(run):
    result = run["results"]["onBehalfOf"]
    assert result["ok"], result
    claims = result["accessToken"]["claims"]
    assert claims["aud"] in GRAPH_AUDIENCES and "User.Read" in claims["scp"].split(), claims
    assert claims["oid"] == MEGAN_OID and claims["tid"] == HOME_TENANT_ID


def test_refresh_by_refresh_token_twice_with_the_same_token(run):
    """The second use of the same refresh token works too: Entra keeps a used refresh token valid."""
    for name in ("refreshToken", "refreshTokenAgain"):
        result = run["results"][name]
        assert result["ok"], result
        assert result["account"]["username"] == MEGAN and result["account"]["localAccountId"] == MEGAN_OID
        claims = result["accessToken"]["claims"]
        assert claims["aud"] == API_CLIENT_ID and claims["scp"] == "Orders.Read"
        assert result["hasIdToken"] is True and result["fromCache"] is False
    for name in ("refreshToken", "refreshTokenAgain"):
        [entry] = _logged(run, run["results"][name]["correlationId"])
        assert (entry["grant_type"], entry["status"]) == ("refresh_token", 200)


def test_msal_nodes_correlation_ids_line_up_with_the_emulators_log(run):
    token_requests = [e for e in run["log"] if e.get("grant_type") in TOKEN_GRANTS]
    assert len(token_requests) == 9, [e.get("grant_type") for e in token_requests]
    sent = [e["client_request_id"] for e in token_requests]
    assert all(sent) and len(set(sent)) == len(sent), "MSAL Node sends its own client-request-id with each request"
    assert all(e["correlation_id"] == e["client_request_id"] for e in token_requests)
    reported = {r["correlationId"] for name, r in run["results"].items()
                if name not in ("warnings", "consentPage") and not r.get("fromCache")}
    assert reported == set(sent), "MSAL Node's correlationId is the id the emulator logged"
    # MSAL Node keeps the answer's x-ms-request-id on a refreshed result: the emulator's request id.
    for name in ("refreshToken", "refreshTokenAgain", "silentForTheExtraResource"):
        [entry] = _logged(run, run["results"][name]["correlationId"])
        assert run["results"][name]["requestId"] == entry["request_id"]


def test_extra_scopes_to_consent_at_authorize_then_a_token_per_resource(run):
    """MSAL Node's extraScopesToConsent: both resources at /authorize, the code redeemed for one,
    the other resource's token silently from the refresh token afterwards."""
    page = run["results"]["consentPage"]
    assert API_SCOPE_READ in page["sentScopes"] and GRAPH_MAIL_READ in page["sentScopes"], page
    assert page["permissionsListed"] == ["Read your orders", "Read your mail"], "one consent page for both"
    signed_in = run["results"]["authCodeWithExtraScopesToConsent"]
    assert signed_in["ok"], signed_in
    assert signed_in["account"]["username"] == ADELE
    assert signed_in["accessToken"]["claims"]["aud"] == API_CLIENT_ID
    assert signed_in["accessToken"]["claims"]["scp"] == "Orders.Read"
    mail = run["results"]["silentForTheExtraResource"]
    assert mail["ok"] and mail["fromCache"] is False, mail
    assert mail["accessToken"]["claims"]["aud"] in GRAPH_AUDIENCES and mail["accessToken"]["claims"]["scp"] == "Mail.Read"
    authorize = [e for e in run["log"] if e["endpoint"] == "authorize"]
    assert authorize and not [e for e in authorize if e.get("error")], "no refusal at /authorize"


def test_msal_node_reads_the_emulators_refusals_as_entras(run):
    """error, error_codes, correlation and trace ids parsed by MSAL Node as it parses Entra's."""
    wrong_secret = run["results"]["clientCredentialsWrongSecret"]
    assert wrong_secret["ok"] is False and wrong_secret["errorName"] == "ServerError", wrong_secret
    assert wrong_secret["errorCode"] == "invalid_client" and wrong_secret["errorNo"] == 7000215
    assert wrong_secret["status"] == 401 and wrong_secret["errorMessage"].startswith("Error(s): 7000215 - Timestamp: ")
    unknown = run["results"]["refreshTokenUnknown"]
    assert unknown["ok"] is False and unknown["errorCode"] == "invalid_grant" and unknown["errorNo"] == 9002313
    for result in (wrong_secret, unknown):
        [entry] = _logged(run, result["correlationId"])
        assert f"Correlation ID: {result['correlationId']} - Trace ID: {entry['request_id']}" in result["errorMessage"]
        assert entry["status"] in (400, 401) and "NOT_AVAILABLE" not in result["errorMessage"]


def test_the_script_prints_no_token(run):
    for token in (run["user_tokens"]["access_token"], run["user_tokens"]["refresh_token"]):
        assert token not in run["stdout"] and token not in run["stderr"]
    assert "eyJ" not in run["stdout"] and "eyJ" not in run["stderr"], "no JWT of any kind on the output"
