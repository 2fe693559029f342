"""A refused client authentication spends nothing: the emulator, like Entra, authenticates the
client before it looks at the grant, so the app can retry with its next credential.

Microsoft documents no rule for this; Microsoft.Identity.Web relies on it (it redeems the same
authorization code again with the next certificate after AADSTS700027, TokenAcquisition.cs
``AddAccountToCacheFromAuthorizationCodeInternalAsync``). An authorization code is otherwise
single-use (AADSTS54005 on a second redemption), which the last assertion shows.
"""

from __future__ import annotations

from tests.conftest import (
    API_SCOPE_READ,
    SECRETS,
    WEB_CLIENT_ID,
    authorization_response,
    confidential_app,
    pick_account,
)

MEGAN = "megan@contoso.example"


def test_a_code_survives_a_refused_client_credential_and_is_single_use_after(emulator, http, browser):
    refused_app = confidential_app(emulator, http, WEB_CLIENT_ID, credential="not-the-secret",
                                   tenant="organizations")
    flow = refused_app.initiate_auth_code_flow([API_SCOPE_READ], redirect_uri="http://localhost:5000/auth/callback",
                                               response_mode="form_post")
    answer = authorization_response(pick_account(browser, flow["auth_uri"], MEGAN))

    refused = refused_app.acquire_token_by_auth_code_flow(dict(flow), answer)
    assert refused["error"] == "invalid_client" and refused["error_description"].startswith("AADSTS7000215:")

    good_app = confidential_app(emulator, http, WEB_CLIENT_ID, credential=SECRETS[WEB_CLIENT_ID],
                                tenant="organizations")
    redeemed = good_app.acquire_token_by_auth_code_flow(dict(flow), answer)
    assert "access_token" in redeemed, redeemed.get("error_description")

    again = good_app.acquire_token_by_auth_code_flow(dict(flow), answer)
    assert again["error"] == "invalid_grant" and again["error_description"].startswith("AADSTS54005:")


def test_a_refresh_token_survives_a_refused_client_credential(emulator, http, browser):
    good_app = confidential_app(emulator, http, WEB_CLIENT_ID, tenant="organizations")
    flow = good_app.initiate_auth_code_flow([API_SCOPE_READ], redirect_uri="http://localhost:5000/auth/callback",
                                            response_mode="form_post")
    result = good_app.acquire_token_by_auth_code_flow(flow, authorization_response(
        pick_account(browser, flow["auth_uri"], MEGAN)))
    refresh_token = result["refresh_token"]

    refused_app = confidential_app(emulator, http, WEB_CLIENT_ID, credential="not-the-secret",
                                   tenant="organizations")
    refused = refused_app.acquire_token_by_refresh_token(refresh_token, [API_SCOPE_READ])
    assert refused["error"] == "invalid_client"
    refreshed = good_app.acquire_token_by_refresh_token(refresh_token, [API_SCOPE_READ])
    assert "access_token" in refreshed, refreshed.get("error_description")
