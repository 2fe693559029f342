"""Authorization: delegated scopes for users, app roles for apps, nothing that merely looks alike."""

from __future__ import annotations

import pytest

from entra_auth.authorization import authorize
from entra_auth.errors import InsufficientScope
from entra_auth.jwt_validation import ValidatedToken
from tests.conftest import API_SCOPE_READ, API_SCOPE_WRITE, WEB_CLIENT_ID

from .helpers import ADELE, assert_insufficient_scope, bearer, claims_of

READ_ENDPOINT = {"scopes": ("Orders.Read",), "app_roles": ("Orders.Read.All",)}  # GET /api/orders
WRITE_ENDPOINT = {"scopes": ("Orders.Write",), "app_roles": ()}  # POST /api/orders
ORDER = {"item": "Printer paper", "quantity": 3}


def _token(**claims) -> ValidatedToken:
    # sub equal to oid, as in an app's own token (a user's sub is pairwise): without idtyp, that and
    # the absence of scp are what make a token app-only (entra_auth/authorization.py).
    return ValidatedToken(claims={"tid": "t", "oid": "o", "sub": "o", **claims})


# -- unit: authorize() ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "scp",
    ["Orders.ReadWrite", "Orders.Read.All", "orders.read", "ORDERS.READ", "Orders.Read,Orders.Write",
     "Orders.Write\tOrders.Read", " Orders.Rea", "Orders", "", "api://6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8/Orders.Rea"],
)
def test_a_look_alike_scope_is_not_the_scope(scp):
    with pytest.raises(InsufficientScope) as exc:
        authorize(_token(scp=scp), **READ_ENDPOINT)
    assert exc.value.reason == "missing scope" and exc.value.needed == ["Orders.Read"]


@pytest.mark.parametrize("scp", ["Orders.Read", "Orders.Write Orders.Read", "User.Read Orders.Read openid"])
def test_the_exact_scope_among_others_is_enough(scp):
    authorize(_token(scp=scp), **READ_ENDPOINT)


def test_a_scope_list_instead_of_a_string_is_not_a_scope():
    with pytest.raises(InsufficientScope):
        authorize(_token(scp=["Orders.Read"]), **READ_ENDPOINT)


def test_a_users_roles_do_not_replace_the_missing_scope():
    """A delegated token carrying the app role's name in roles is still a user token."""
    with pytest.raises(InsufficientScope) as exc:
        authorize(_token(scp="User.Read", roles=["Orders.Read.All", "Orders.Admin"]), **READ_ENDPOINT)
    assert exc.value.reason == "missing scope"


@pytest.mark.parametrize(
    "claims",
    [
        {"idtyp": "app", "roles": []},
        {"idtyp": "app"},
        {"idtyp": "app", "roles": "Orders.Read.All"},  # a string, not a list
        {"idtyp": "app", "roles": ["orders.read.all"]},
        {"idtyp": "app", "roles": ["Orders.Read.All.Extra", "Orders.Admin"]},
        {"roles": ["Orders.Admin"]},  # no scp and no idtyp: app-only, and not the app role
        {"idtyp": "app", "scp": "Orders.Read"},  # idtyp wins: a scope does not make an app a user
    ],
    ids=["empty-roles", "no-roles", "roles-string", "role-case", "role-look-alike", "no-scp-user-role", "app-with-scp"],
)
def test_an_app_token_without_the_app_role_is_refused(claims):
    with pytest.raises(InsufficientScope) as exc:
        authorize(_token(**claims), **READ_ENDPOINT)
    assert exc.value.reason == "missing app role" and exc.value.needed == ["Orders.Read.All"]


def test_an_app_token_with_the_app_role_passes():
    authorize(_token(idtyp="app", roles=["Orders.Read.All"]), **READ_ENDPOINT)
    authorize(_token(roles=["Orders.Read.All"]), **READ_ENDPOINT)  # v2 tokens without idtyp: no scp = app


def test_an_app_token_on_a_user_only_endpoint_is_refused_whatever_its_roles():
    with pytest.raises(InsufficientScope) as exc:
        authorize(_token(idtyp="app", roles=["Orders.Read.All", "Orders.Write"], scp="Orders.Write"), **WRITE_ENDPOINT)
    assert exc.value.reason == "app-only token on a user endpoint"


def test_a_user_token_on_an_app_only_endpoint_is_refused():
    with pytest.raises(InsufficientScope) as exc:
        authorize(_token(scp="Orders.Read"), scopes=(), app_roles=("Orders.Read.All",))
    assert exc.value.reason == "user token on an app-only endpoint"


def test_the_calling_app_allow_list():
    allowed = frozenset({WEB_CLIENT_ID})
    authorize(_token(scp="Orders.Read", azp=WEB_CLIENT_ID), allowed_apps=allowed, **READ_ENDPOINT)
    with pytest.raises(InsufficientScope) as exc:
        authorize(_token(scp="Orders.Read", azp="someone-else"), allowed_apps=allowed, **READ_ENDPOINT)
    assert exc.value.reason == "calling application not allowed"


# -- over HTTP ------------------------------------------------------------------------------------
def test_a_read_only_token_cannot_create_an_order(client, tokens):
    token = tokens.user(scopes=(API_SCOPE_READ,))
    assert claims_of(token)["scp"] == "Orders.Read"
    resp = client.post("/api/orders", json=ORDER, headers=bearer(token))
    body = assert_insufficient_scope(resp, "Orders.Write", "missing scope", token)
    assert body["needed"] == ["Orders.Write"]


def test_a_write_only_token_cannot_list_orders(client, tokens):
    token = tokens.user(scopes=(API_SCOPE_WRITE,))
    assert_insufficient_scope(client.get("/api/orders", headers=bearer(token)), "Orders.Read",
                              "missing scope", token)
    assert client.post("/api/orders", json=ORDER, headers=bearer(token)).status_code == 201


def test_the_admin_role_does_not_replace_the_write_scope(client, tokens):
    token = tokens.user(ADELE, scopes=(API_SCOPE_READ,))
    assert "Orders.Admin" in claims_of(token)["roles"]
    assert_insufficient_scope(client.post("/api/orders", json=ORDER, headers=bearer(token)), "Orders.Write",
                              "missing scope", token)


def test_the_daemon_reads_but_cannot_use_a_delegated_endpoint(client, tokens):
    token = tokens.daemon()
    assert claims_of(token)["roles"] == ["Orders.Read.All"]
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200
    resp = client.post("/api/orders", json=ORDER, headers=bearer(token))
    assert_insufficient_scope(resp, "Orders.Write", "app-only token on a user endpoint", token)


def test_an_app_token_without_a_role_grant_is_refused(client, tokens):
    """The web app's own client-credentials token: a valid token for our audience, but no app role."""
    token = tokens.client_credentials(WEB_CLIENT_ID)
    claims = claims_of(token)
    assert claims["oid"] == claims["sub"] and "scp" not in claims and "roles" not in claims  # app-only
    resp = client.get("/api/orders", headers=bearer(token))
    assert_insufficient_scope(resp, "Orders.Read.All", "missing app role", token)
    resp = client.get("/api/orders/3f2b5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", headers=bearer(token))
    assert_insufficient_scope(resp, "Orders.Read.All", "missing app role", token)


def test_the_calling_app_allow_list_over_http(make_app, tokens):
    client = make_app(API_ALLOWED_CLIENT_APPS=[WEB_CLIENT_ID]).test_client()
    assert client.get("/api/orders", headers=bearer(tokens.user())).status_code == 200
    resp = client.get("/api/orders", headers=bearer(tokens.daemon()))
    assert resp.status_code == 403 and 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]
