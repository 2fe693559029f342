"""Unmodified MSAL Node against the emulator's external (External ID) tenant: its issuer check meets
an issuer on another host than the authority, as with Entra, and the documented workaround works."""

from __future__ import annotations

import json
import os
import subprocess
from urllib.parse import urlsplit

import pytest

from entra_auth.http import build_http_session
from tests.conftest import GRAPH_USER_READ
from tests.emulator.external_tenant import (
    AVERY,
    AVERY_OID,
    CUSTOMER_SECRETS,
    CUSTOMERS_API_CLIENT_ID,
    CUSTOMERS_DAEMON_CLIENT_ID,
    CUSTOMERS_SCOPE_READ,
    CUSTOMERS_TENANT_ID,
    customer_sign_in,
    external_authority,
    external_issuer,
)

from .test_msal_node import NODE_DIR, _node


@pytest.fixture(scope="module")
def results(emulator):
    node = _node()
    http = build_http_session(str(emulator.ca_path))
    _, _, signed_in = customer_sign_in(emulator, http, build_http_session(str(emulator.ca_path)), AVERY,
                                       [CUSTOMERS_SCOPE_READ])
    assert "access_token" in signed_in, signed_in
    payload = {
        "authority": external_authority(emulator),
        "issuerHost": urlsplit(external_issuer(emulator)).netloc,
        "daemon": {"clientId": CUSTOMERS_DAEMON_CLIENT_ID, "secret": CUSTOMER_SECRETS[CUSTOMERS_DAEMON_CLIENT_ID]},
        "api": {"clientId": CUSTOMERS_API_CLIENT_ID, "secret": CUSTOMER_SECRETS[CUSTOMERS_API_CLIENT_ID]},
        "scopes": {"app": [f"api://{CUSTOMERS_API_CLIENT_ID}/.default"], "obo": [GRAPH_USER_READ]},
        "userAssertion": signed_in["access_token"],
    }
    done = subprocess.run([node, "drive-external.mjs"], cwd=NODE_DIR, input=json.dumps(payload), capture_output=True,
                          text=True, timeout=120, env={**os.environ, "NODE_EXTRA_CA_CERTS": str(emulator.ca_path)})
    assert done.returncode == 0, f"MSAL Node script failed:\n{done.stderr[-3000:]}"
    assert signed_in["access_token"] not in done.stdout and "eyJ" not in done.stdout
    return json.loads(done.stdout)


def test_msal_node_refuses_the_issuer_host_it_was_not_told_about(results):
    """What MSAL.js users met with an External ID issuer it did not recognise (microsoft-authentication-
    library-for-js#8592): its issuer check fails inside discovery, surfaced as endpoints_resolution_error.
    The only difference from the next test's call is the issuer host in knownAuthorities."""
    refused = results["authorityHostOnly"]
    assert refused["ok"] is False and refused["errorCode"] == "endpoints_resolution_error", refused


def test_with_the_issuer_host_known_msal_node_gets_customer_tokens(emulator, results):
    app_only = results["clientCredentials"]
    assert app_only["ok"], app_only
    assert app_only["claims"]["iss"] == external_issuer(emulator)
    assert app_only["claims"]["tid"] == CUSTOMERS_TENANT_ID and app_only["claims"]["roles"] == ["Orders.Read.All"]
    obo = results["onBehalfOf"]
    assert obo["ok"], obo
    assert obo["claims"]["oid"] == AVERY_OID and obo["claims"]["tid"] == CUSTOMERS_TENANT_ID
    assert "User.Read" in obo["claims"]["scp"].split()
