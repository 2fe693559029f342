"""Security review of issue #19 on the API tier: findings, each shown through the real stack (tokens from
real sign-ins through unmodified MSAL, the emulator's Graph over HTTPS, a real Redis).

The emulator's manifest is described in tests/web/test_groups.py.
"""

from __future__ import annotations

import pytest

from .conftest import READ_WRITE
from .helpers import bearer, claims_of
from .test_groups_api import MEMBER_OBJECTS, NESTOR, TENANT_VIEW, clear_faults, membership_lookups

MEGAN = "megan@contoso.example"


@pytest.fixture
def api(make_app):
    return make_app(ENABLED_BLUEPRINTS=["api"]).test_client()


def _place_order(api, token: str) -> str:
    placed = api.post("/api/orders", json={"item": "Pens", "quantity": 2, "note": ""}, headers=bearer(token))
    assert placed.status_code == 201, placed.get_json()
    return placed.get_json()["id"]


def test_reading_ones_own_order_never_waits_on_graph(api, tokens, control):
    """An overage caller's own order is theirs whatever their groups: reading it asks Graph nothing, and a
    Graph outage does not turn it into a 503. Someone else's order still needs the membership, and without
    Graph that stays a 503 (never a 404 as if not an administrator, never the order)."""
    nestor = tokens.sign_in(NESTOR, READ_WRITE)["access_token"]
    assert "_claim_names" in claims_of(nestor)
    own = _place_order(api, nestor)
    others = _place_order(api, tokens.user(MEGAN, READ_WRITE))
    since = control.last_seq()
    control.fault("graph", status=503)
    try:
        mine = api.get(f"/api/orders/{own}", headers=bearer(nestor))
        assert mine.status_code == 200 and mine.get_json()["id"] == own
        assert [e for e in control.requests(since) if e["path"] == MEMBER_OBJECTS] == []
        theirs = api.get(f"/api/orders/{others}", headers=bearer(nestor))
        assert theirs.status_code == 503 and theirs.headers["Retry-After"] == "5"
        assert "item" not in theirs.get_json()
    finally:
        clear_faults(control)
    # With Graph back, the administrator (through the nested Orders-Approvers group) reads it.
    assert api.get(f"/api/orders/{others}", headers=bearer(nestor)).status_code == 200
