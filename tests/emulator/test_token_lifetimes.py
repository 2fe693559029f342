"""Access-token lifetimes as Entra assigns them, and long-lived CAE tokens for cp1 clients.

Microsoft (access-tokens.md, "Token lifetime"): a random 60-90 minutes per token; with CAE the
long-lived lifetime is 20-28 hours. claims-challenge.md: a client declares the ``cp1`` capability
in the ``claims`` parameter (``{"access_token":{"xms_cc":{"values":["cp1"]}}}``) and receives
``xms_cc`` only from a resource that asks for that optional claim; app-resilience-continuous-
access-evaluation.md: CAE tokens come only from a resource that implements CAE (here Graph).
"""

from __future__ import annotations

import msal

from tests.conftest import (
    API_CLIENT_ID,
    API_DEFAULT,
    API_SCOPE_READ,
    DAEMON_CLIENT_ID,
    GRAPH_USER_READ,
    HOME_TENANT_ID,
    SECRETS,
    confidential_app,
)

from .helpers import unverified

DEFAULT_RANGE = range(60 * 60, 90 * 60 + 1)
CAE_RANGE = range(20 * 3600, 28 * 3600 + 1)


def _capable_app(emulator, http, client_id: str) -> msal.ConfidentialClientApplication:
    """An unmodified MSAL client declaring the cp1 capability (MSAL sends it in ``claims``)."""
    return msal.ConfidentialClientApplication(
        client_id, client_credential=SECRETS[client_id], authority=f"{emulator.url}/{HOME_TENANT_ID}",
        http_client=http, instance_discovery=False, client_capabilities=["cp1"],
    )


def _lifetime(result: dict) -> int:
    assert "access_token" in result, result
    claims = unverified(result["access_token"])
    assert result["expires_in"] == claims["exp"] - claims["iat"], "the answer and the token agree"
    return result["expires_in"]


def test_default_lifetimes_are_60_to_90_minutes_and_vary(emulator, http):
    lifetimes = [_lifetime(confidential_app(emulator, http, DAEMON_CLIENT_ID).acquire_token_for_client([API_DEFAULT]))
                 for _ in range(8)]
    assert all(t in DEFAULT_RANGE for t in lifetimes), lifetimes
    assert len(set(lifetimes)) > 1, f"Entra varies each token's lifetime: {lifetimes}"


def test_a_cp1_client_gets_a_long_lived_cae_token_for_graph_with_xms_cc(emulator, http, control, user_api_token):
    assertion = user_api_token()
    seq = control.last_seq()
    capable = _capable_app(emulator, http, API_CLIENT_ID).acquire_token_on_behalf_of(assertion, [GRAPH_USER_READ])
    assert _lifetime(capable) in CAE_RANGE
    assert unverified(capable["access_token"])["xms_cc"] == ["cp1"]
    (call,) = [e for e in control.requests(seq) if e["endpoint"] == "token"]
    assert '"xms_cc": {"values": ["cp1"]}' in call["claims"], "MSAL declared it on the wire"
    # The same exchange without the capability: an ordinary token, no xms_cc.
    plain = confidential_app(emulator, http, API_CLIENT_ID).acquire_token_on_behalf_of(assertion, [GRAPH_USER_READ])
    assert _lifetime(plain) in DEFAULT_RANGE
    assert "xms_cc" not in unverified(plain["access_token"])


def test_cp1_gives_no_cae_token_for_an_api_without_cae(emulator, http, browser):
    """The Orders API implements no CAE and asks for no xms_cc: an ordinary token."""
    from tests.conftest import REDIRECT_URI, WEB_CLIENT_ID, authorization_response, pick_account

    app = _capable_app(emulator, http, WEB_CLIENT_ID)
    flow = app.initiate_auth_code_flow([API_SCOPE_READ], redirect_uri=REDIRECT_URI, response_mode="form_post")
    assert "xms_cc" in flow["auth_uri"]
    result = app.acquire_token_by_auth_code_flow(
        flow, authorization_response(pick_account(browser, flow["auth_uri"], "megan@contoso.example")))
    assert _lifetime(result) in DEFAULT_RANGE
    assert "xms_cc" not in unverified(result["access_token"])


def test_a_pinned_lifetime_wins_and_null_restores_entras(emulator, http, control, user_api_token):
    control.settings(access_token_lifetime=60)
    assertion = user_api_token()
    assert unverified(assertion)["exp"] - unverified(assertion)["iat"] == 60
    capable = _capable_app(emulator, http, API_CLIENT_ID).acquire_token_on_behalf_of(assertion, [GRAPH_USER_READ])
    assert _lifetime(capable) == 60, "a test that pins short lifetimes keeps them, CAE or not"
    assert control.settings(access_token_lifetime=None)["access_token_lifetime"] is None
    again = confidential_app(emulator, http, DAEMON_CLIENT_ID).acquire_token_for_client([API_DEFAULT])
    assert _lifetime(again) in DEFAULT_RANGE


def test_cae_tokens_on_sign_in_and_on_refresh(emulator, http, browser):
    """The capability travels with every grant MSAL sends it on: code redemption and refresh."""
    from tests.conftest import REDIRECT_URI, WEB_CLIENT_ID, authorization_response, pick_account

    app = _capable_app(emulator, http, WEB_CLIENT_ID)
    flow = app.initiate_auth_code_flow([GRAPH_USER_READ], redirect_uri=REDIRECT_URI, response_mode="form_post")
    signed_in = app.acquire_token_by_auth_code_flow(
        flow, authorization_response(pick_account(browser, flow["auth_uri"], "megan@contoso.example")))
    assert _lifetime(signed_in) in CAE_RANGE and unverified(signed_in["access_token"])["xms_cc"] == ["cp1"]
    (account,) = app.get_accounts()
    refreshed = app.acquire_token_silent([GRAPH_USER_READ], account, force_refresh=True)
    assert refreshed["access_token"] != signed_in["access_token"]
    assert _lifetime(refreshed) in CAE_RANGE and unverified(refreshed["access_token"])["xms_cc"] == ["cp1"]
