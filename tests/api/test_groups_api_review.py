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


def _implicit_flow_shape(claims: dict) -> dict:
    """The claims as an implicit-grant token carries them past six groups: ``hasgroups`` in place of both the
    ``groups`` claim and the overage marker (access-token claims reference, ``hasgroups``)."""
    shaped = {k: v for k, v in claims.items() if k not in ("groups", "_claim_names", "_claim_sources")}
    shaped["hasgroups"] = True
    return shaped


@pytest.mark.parametrize("user, expected", [(NESTOR, 200), (MEGAN, 403)], ids=["member", "not-a-member"])
def test_hasgroups_is_resolved_through_graph(api, tokens, control, resign, user, expected):
    """``hasgroups: true`` says the groups did not fit in the token: Graph is asked (once), and its answer
    decides; never read as "in no group" (a member refused as if they were not one)."""
    token = resign(_implicit_flow_shape(claims_of(tokens.sign_in(user)["access_token"])))
    since = control.last_seq()
    for _ in range(2):
        answer = api.get(TENANT_VIEW, headers=bearer(token))
        assert answer.status_code == expected, answer.get_json()
    assert len(membership_lookups(control, since)) == 1


def test_hasgroups_that_graph_cannot_answer_is_503(api, tokens, control, resign):
    token = resign(_implicit_flow_shape(claims_of(tokens.sign_in(NESTOR)["access_token"])))
    control.fault("graph", status=503)
    try:
        failed = api.get(TENANT_VIEW, headers=bearer(token))
        assert failed.status_code == 503 and failed.headers["Retry-After"] == "5"
    finally:
        clear_faults(control)


@pytest.mark.parametrize("value", [False, "true", 1], ids=["false", "text", "number"])
def test_only_a_boolean_true_hasgroups_is_a_marker(api, tokens, control, resign, value):
    claims = {**_implicit_flow_shape(claims_of(tokens.sign_in(NESTOR)["access_token"])), "hasgroups": value}
    since = control.last_seq()
    assert api.get(TENANT_VIEW, headers=bearer(resign(claims))).status_code == 403
    assert membership_lookups(control, since) == []
