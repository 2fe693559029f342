"""Consent to several resources at /authorize, a token for one resource at a time.

Entra lets one authorization request carry scopes of several resources, so the user consents to
all of them at once (MSAL's "extra scopes to consent"); the code is then redeemed for one
resource, named by the token request's ``scope``, and a token request naming two is refused
there with AADSTS28000. The refresh token remembers the extra consent: a later refresh for the
other resource needs no new interaction.
"""

from __future__ import annotations

import pytest

from tests.conftest import (
    API_CLIENT_ID,
    API_SCOPE_READ,
    GRAPH_CLIENT_ID,
    REDIRECT_URI,
    WEB_CLIENT_ID,
    authorization_response,
    confidential_app,
    pick_account,
)

from .helpers import assert_entra_error, unverified

MEGAN = "megan@contoso.example"
# Never admin-consented for the web app: only the user's consent at /authorize grants it.
GRAPH_MAIL_READ = "https://graph.microsoft.com/Mail.Read"
GRAPH_AUDIENCES = {GRAPH_CLIENT_ID, "https://graph.microsoft.com"}  # v2.0 or v1.0 Graph tokens


def _authorize_both(emulator, http, browser):
    """One sign-in asking for the Orders API and, as an extra to consent to, Graph's Mail.Read."""
    app = confidential_app(emulator, http, WEB_CLIENT_ID, tenant="organizations")
    flow = app.initiate_auth_code_flow([API_SCOPE_READ, GRAPH_MAIL_READ], redirect_uri=REDIRECT_URI,
                                       response_mode="form_post")
    page = browser.get(flow["auth_uri"], allow_redirects=False)
    assert page.status_code == 200, page.text
    # Both resources' permissions are on the consent page, not an error.
    assert "Read your orders" in page.text and "Read your mail" in page.text, page.text
    auth_response = authorization_response(pick_account(browser, flow["auth_uri"], MEGAN))
    assert "code" in auth_response and "error" not in auth_response, auth_response
    return app, flow, auth_response


def test_a_token_request_naming_both_resources_is_refused_at_the_token_endpoint(emulator, http, browser, control):
    mark = control.last_seq()
    app, flow, auth_response = _authorize_both(emulator, http, browser)
    # Without scopes, MSAL asks for everything the flow asked for: two resources in one token request.
    result = app.acquire_token_by_auth_code_flow(flow, auth_response)
    assert_entra_error(result, "invalid_request", 28000)
    served = [(e["endpoint"], e["status"]) for e in control.requests(mark)]
    assert ("token", 400) in served and not [e for e in control.requests(mark)
                                             if e["endpoint"] == "authorize" and e.get("error")]


@pytest.mark.parametrize(("redeem_for", "audiences", "scp"), [
    (API_SCOPE_READ, {API_CLIENT_ID}, "Orders.Read"),
    (GRAPH_MAIL_READ, GRAPH_AUDIENCES, "Mail.Read"),
])
def test_the_code_is_redeemed_for_the_resource_the_token_request_names(emulator, http, browser, redeem_for,
                                                                       audiences, scp):
    app, flow, auth_response = _authorize_both(emulator, http, browser)
    result = app.acquire_token_by_auth_code_flow(flow, auth_response, scopes=[redeem_for])
    assert "access_token" in result, result
    claims = unverified(result["access_token"])
    assert claims["aud"] in audiences and claims["scp"] == scp


def test_the_refresh_token_carries_the_extra_consent_to_the_other_resource(emulator, http, browser):
    app, flow, auth_response = _authorize_both(emulator, http, browser)
    first = app.acquire_token_by_auth_code_flow(flow, auth_response, scopes=[API_SCOPE_READ])
    assert unverified(first["access_token"])["aud"] == API_CLIENT_ID
    # No new interaction: the user consented to Mail.Read at /authorize.
    mail = app.acquire_token_by_refresh_token(first["refresh_token"], [GRAPH_MAIL_READ])
    assert "access_token" in mail, mail
    claims = unverified(mail["access_token"])
    assert claims["aud"] in GRAPH_AUDIENCES and claims["scp"] == "Mail.Read"


def test_without_that_consent_the_other_resource_needs_interaction(emulator, http, browser):
    """The control: a sign-in for the API alone does not grant Mail.Read to the refresh token."""
    app = confidential_app(emulator, http, WEB_CLIENT_ID, tenant="organizations")
    flow = app.initiate_auth_code_flow([API_SCOPE_READ], redirect_uri=REDIRECT_URI, response_mode="form_post")
    first = app.acquire_token_by_auth_code_flow(flow, authorization_response(pick_account(browser, flow["auth_uri"],
                                                                                          MEGAN)))
    assert "access_token" in first, first
    refused = app.acquire_token_by_refresh_token(first["refresh_token"], [GRAPH_MAIL_READ])
    assert_entra_error(refused, "invalid_grant", 65001)
