"""The manifest's groups and users for the security-group scenarios (issue #19), and sign-ins that
give their ID, access and Graph tokens, each user in a browser of their own."""

from __future__ import annotations

from entra_auth.http import build_http_session
from tests.conftest import API_SCOPE_READ, GRAPH_USER_READ, sign_in_with_msal

from .helpers import unverified

ORDERS_APPROVERS = "f0000006-0000-4000-8000-000000000001"
EU_APPROVERS = "f0000006-0000-4000-8000-000000000002"
MARKETING = "f0000006-0000-4000-8000-000000000003"
CONTOSO_SOCIAL = "f0000006-0000-4000-8000-000000000004"  # Microsoft 365 group: not security-enabled
PROJECT_TEAM_249 = "f0000007-0000-4000-8000-000000000249"  # nestor's path to Orders-Approvers

GRACE = "grace@contoso.example"  # Orders-Approvers directly, Marketing
NINA = "nina@contoso.example"  # Orders-Approvers only through EU-Approvers; Contoso Social
MEGAN = "megan@contoso.example"  # Marketing and Contoso Social: no group that maps to a role
NESTOR = "nestor@contoso.example"  # 249 project teams + Orders-Approvers through team 249 = 250
NESTOR_OID = "a0000001-0000-4000-8000-000000000005"
HOME_TENANT_ID = "11111111-1111-4111-8111-111111111111"


def sign_in(emulator, http, username: str, scopes: list[str] | None = None) -> dict:
    """A fresh browser's sign-in with unmodified MSAL: the token response (ID and access token)."""
    browser = build_http_session(str(emulator.ca_path))
    _, _, result = sign_in_with_msal(emulator, http, browser, username, scopes or [API_SCOPE_READ])
    assert "access_token" in result and "id_token" in result, result
    return result


def id_and_access_claims(emulator, http, username: str) -> tuple[dict, dict]:
    result = sign_in(emulator, http, username)
    return unverified(result["id_token"]), unverified(result["access_token"])


def graph_token(emulator, http, api_app, username: str) -> str:
    """The user's Graph token as the API gets it: on-behalf-of (a v1.0 token for Graph, User.Read)."""
    api_token = sign_in(emulator, http, username)["access_token"]
    result = api_app.acquire_token_on_behalf_of(api_token, [GRAPH_USER_READ])
    assert "access_token" in result, result
    return result["access_token"]
