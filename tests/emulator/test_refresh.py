"""Refresh tokens: a new one with every refresh, the old one still valid (as at Entra); strict
single use only as an explicit test setting."""

from __future__ import annotations

import pytest

from entra_auth.http import build_http_session
from tests.conftest import API_SCOPE_READ, API_SCOPE_WRITE, sign_in_with_msal

from .helpers import assert_entra_error, unverified

MEGAN = "megan@contoso.example"


@pytest.fixture
def new_session_browser(emulator):
    return build_http_session(str(emulator.ca_path))


def test_a_used_refresh_token_stays_valid_as_at_entra(emulator, http, browser, control):
    """Entra answers a refresh with a new refresh token and does not revoke the old one."""
    app, _, first = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    old_rt = first["refresh_token"]
    second = app.acquire_token_by_refresh_token(old_rt, [API_SCOPE_READ])
    assert "access_token" in second, second
    assert second["refresh_token"] != old_rt
    assert unverified(second["access_token"])["oid"] == unverified(first["access_token"])["oid"]
    assert unverified(second["id_token"])["sid"] == unverified(first["id_token"])["sid"]

    mark = control.last_seq()
    # A retry, or a second instance still holding the old one: both work, each with a new refresh token.
    replay = app.acquire_token_by_refresh_token(old_rt, [API_SCOPE_READ])
    assert "access_token" in replay, replay
    assert replay["refresh_token"] not in (old_rt, second["refresh_token"])
    assert "access_token" in app.acquire_token_by_refresh_token(second["refresh_token"], [API_SCOPE_READ])
    assert [e["status"] for e in control.requests(mark) if e.get("grant_type") == "refresh_token"] == [200, 200]


def test_single_use_refresh_tokens_is_an_explicit_test_setting_not_the_default(emulator, http, browser, control):
    assert control.settings()["single_use_refresh_tokens"] is False, "Entra's behaviour is the default"
    assert control.settings(single_use_refresh_tokens=True)["single_use_refresh_tokens"] is True
    app, _, first = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    old_rt = first["refresh_token"]
    second = app.acquire_token_by_refresh_token(old_rt, [API_SCOPE_READ])
    assert "access_token" in second, second

    replay = app.acquire_token_by_refresh_token(old_rt, [API_SCOPE_READ])
    assert_entra_error(replay, "invalid_grant", 70043)
    # The new one works, once.
    rotated = second["refresh_token"]
    assert "access_token" in app.acquire_token_by_refresh_token(rotated, [API_SCOPE_READ])
    assert_entra_error(app.acquire_token_by_refresh_token(rotated, [API_SCOPE_READ]), "invalid_grant", 70043)


def test_refresh_switches_scopes_only_to_consented_ones(emulator, http, browser, new_session_browser):
    app, _, first = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    # Orders.Write is not admin-consented: the refresh token cannot buy it yet.
    refused = app.acquire_token_by_refresh_token(first["refresh_token"], [API_SCOPE_WRITE])
    assert_entra_error(refused, "invalid_grant", 65001)
    assert refused.get("suberror") == "consent_required"
    # Once the user consented (an interactive sign-in asking for it), it can.
    sign_in_with_msal(emulator, http, new_session_browser, MEGAN, [API_SCOPE_WRITE])
    _, _, again = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    result = app.acquire_token_by_refresh_token(again["refresh_token"], [API_SCOPE_WRITE])
    assert unverified(result["access_token"])["scp"] == "Orders.Write"


def test_msal_silent_refresh_follows_the_rotation(emulator, http, browser, control):
    app, _, first = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    account = app.get_accounts(username=MEGAN)[0]
    seq = control.last_seq()
    tokens = {first["access_token"]}
    for _ in range(3):
        result = app.acquire_token_silent([API_SCOPE_READ], account, force_refresh=True)
        assert result and "access_token" in result, result
        tokens.add(result["access_token"])
    assert len(tokens) == 4
    refreshes = [e for e in control.requests(seq) if e.get("grant_type") == "refresh_token"]
    assert [e["status"] for e in refreshes] == [200, 200, 200]


def test_refresh_token_of_another_client_is_refused(emulator, http, browser, api_app):
    app, _, first = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    result = api_app.acquire_token_by_refresh_token(first["refresh_token"], [API_SCOPE_READ])
    assert_entra_error(result, "invalid_grant", 9002313)
    # Another client presenting it does not burn the owner's refresh token.
    assert "access_token" in app.acquire_token_by_refresh_token(first["refresh_token"], [API_SCOPE_READ])


def test_refresh_after_revocation_is_refused(emulator, http, browser, control):
    app, _, first = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    control.revoke(MEGAN)
    result = app.acquire_token_by_refresh_token(first["refresh_token"], [API_SCOPE_READ])
    assert_entra_error(result, "invalid_grant", 50173)
    assert "suberror" not in result, "Entra sends no suberror with AADSTS50173"
