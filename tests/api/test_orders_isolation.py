"""Resource rules: an employee sees their own orders, Orders.Admin and the daemon the tenant's,
and nobody crosses tenants. Someone else's order is "not found", exactly like a missing one.

Which set a list holds is what the request asks for (``?view=own|tenant``): a user's
default is their own, even an administrator's; an app-only caller's is the tenant's."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import FOREIGN_TENANT_ID, HOME_TENANT_ID

from .conftest import READ, READ_WRITE
from .helpers import ADELE, LEE, LOADUSER, MEGAN, bearer, claims_of


@pytest.fixture
def orders(client, tokens):
    """Megan's and loaduser01's orders (home tenant) and Lee's (foreign tenant), created through the API."""

    def create(username: str, item: str) -> dict:
        resp = client.post("/api/orders", json={"item": item, "quantity": 2, "note": "for the team"},
                           headers=bearer(tokens.user(username, READ_WRITE)))
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()

    return {"megan": create(MEGAN, "Megan's stapler"), "loaduser": create(LOADUSER, "Loaduser's pens"),
            "lee": create(LEE, "Lee's paper")}


def _list(client, token, view: str | None = None) -> tuple[set[str], str]:
    resp = client.get("/api/orders" + (f"?view={view}" if view else ""), headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["scope"] == body["view"], "scope is the earlier name of view"
    return {o["id"] for o in body["orders"]}, body["view"]


def _not_found_shape(resp) -> dict:
    assert resp.status_code == 404 and resp.mimetype == "application/json"
    return {k: v for k, v in resp.get_json().items() if k != "request_id"}


def test_an_order_belongs_to_its_creator_and_tenant(orders, tokens):
    megan = claims_of(tokens.user(MEGAN, READ_WRITE))
    order = orders["megan"]
    assert (order["tid"], order["owner_oid"], order["owner_name"]) == (HOME_TENANT_ID, megan["oid"], "Megan Bowen")
    assert orders["lee"]["tid"] == FOREIGN_TENANT_ID


def test_an_employee_sees_only_their_own_orders(client, tokens, orders):
    assert _list(client, tokens.user(MEGAN, READ)) == ({orders["megan"]["id"]}, "own")
    assert _list(client, tokens.user(LOADUSER, READ)) == ({orders["loaduser"]["id"]}, "own")


def test_an_employee_gets_404_for_a_colleagues_order_same_as_for_a_missing_one(client, tokens, orders):
    token = tokens.user(LOADUSER, READ)
    own = client.get(f"/api/orders/{orders['loaduser']['id']}", headers=bearer(token))
    assert own.status_code == 200 and own.get_json()["item"] == "Loaduser's pens"
    theirs = client.get(f"/api/orders/{orders['megan']['id']}", headers=bearer(token))
    missing = client.get(f"/api/orders/{uuid.uuid4()}", headers=bearer(token))
    assert _not_found_shape(theirs) == _not_found_shape(missing)
    assert "stapler" not in theirs.get_data(as_text=True)


def test_an_admin_sees_the_whole_tenant_and_only_it_when_asking_for_it(client, tokens, orders):
    token = tokens.user(ADELE, READ)
    assert _list(client, token, "tenant") == ({orders["megan"]["id"], orders["loaduser"]["id"]}, "tenant")
    resp = client.get(f"/api/orders/{orders['megan']['id']}", headers=bearer(token))
    assert resp.status_code == 200 and resp.get_json()["item"] == "Megan's stapler"
    assert _not_found_shape(client.get(f"/api/orders/{orders['lee']['id']}", headers=bearer(token)))


def test_a_foreign_tenant_admin_sees_none_of_the_home_tenants_orders(client, tokens, orders):
    token = tokens.user(LEE, READ)
    assert "Orders.Admin" in claims_of(token)["roles"]
    assert _list(client, token, "tenant") == ({orders["lee"]["id"]}, "tenant")
    theirs = client.get(f"/api/orders/{orders['megan']['id']}", headers=bearer(token))
    missing = client.get(f"/api/orders/{uuid.uuid4()}", headers=bearer(token))
    assert _not_found_shape(theirs) == _not_found_shape(missing)


def test_an_admins_own_list_is_their_own_orders_only(client, tokens, orders):
    adele = tokens.user(ADELE, READ_WRITE)
    created = client.post("/api/orders", json={"item": "Adele's toner", "quantity": 1}, headers=bearer(adele))
    assert created.status_code == 201
    assert _list(client, adele) == ({created.get_json()["id"]}, "own")
    assert _list(client, adele, "own") == ({created.get_json()["id"]}, "own")


def test_an_employee_asking_for_the_tenant_is_refused_with_a_reason(client, tokens, orders):
    resp = client.get("/api/orders?view=tenant", headers=bearer(tokens.user(MEGAN, READ)))
    assert resp.status_code == 403 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["error"] == "forbidden" and "Orders.Admin" in body["message"] and body["request_id"]
    assert "stapler" not in resp.get_data(as_text=True).lower()


@pytest.mark.parametrize("view", ["all", "TENANT", "", "own,tenant"])
def test_an_unknown_view_is_a_400(client, tokens, orders, view):
    resp = client.get(f"/api/orders?view={view}", headers=bearer(tokens.user(ADELE, READ)))
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"


def test_the_daemon_sees_its_tenants_orders(client, tokens, orders):
    token = tokens.daemon()
    # An app-only caller owns nothing: its default, and the only set it may ask for, is the tenant's.
    assert _list(client, token) == ({orders["megan"]["id"], orders["loaduser"]["id"]}, "tenant")
    assert _list(client, token, "tenant") == ({orders["megan"]["id"], orders["loaduser"]["id"]}, "tenant")
    own = client.get("/api/orders?view=own", headers=bearer(token))
    assert own.status_code == 400 and "app-only" in own.get_json()["message"]
    assert client.get(f"/api/orders/{orders['loaduser']['id']}", headers=bearer(token)).status_code == 200
    assert client.get(f"/api/orders/{orders['lee']['id']}", headers=bearer(token)).status_code == 404


def test_orders_are_stored_under_their_tenant(orders, redis_client):
    keys = {k.decode() for k in redis_client.keys("orders:*")}
    assert f"orders:{{{HOME_TENANT_ID}}}:order:{orders['megan']['id']}" in keys
    assert f"orders:{{{FOREIGN_TENANT_ID}}}:order:{orders['lee']['id']}" in keys
    assert not any(orders["lee"]["id"] in k for k in keys if HOME_TENANT_ID in k)


@pytest.mark.parametrize("order_id", ["not-a-uuid", "..%2F..%2Fall", "*", "%00", "x" * 300])
def test_odd_order_ids_are_plain_404s(client, tokens, orders, order_id):
    resp = client.get(f"/api/orders/{order_id}", headers=bearer(tokens.user(ADELE, READ)))
    assert resp.status_code == 404 and resp.mimetype == "application/json"
