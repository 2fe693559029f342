"""Security review of issue #19 on the API tier: findings, each shown through the real stack (tokens from
real sign-ins through unmodified MSAL, the emulator's Graph over HTTPS, a real Redis).

The emulator's manifest is described in tests/web/test_groups.py.
"""

from __future__ import annotations

import http.server
import ssl
import threading

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


class _StandInGraph(http.server.BaseHTTPRequestHandler):
    """Answers getMemberObjects with ``body`` (status 200, JSON content type), and counts."""

    body = b""
    status = 200
    location: str | None = None
    hits: list[str] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        type(self).hits.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))  # unread, a close could cut our answer
        self.send_response(self.status)
        if self.location:
            self.send_header("Location", self.location)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def stand_in_graph(emulator):
    """An HTTPS server (trusted as the emulator's CA is) put at GRAPH_API_BASE_URL: whatever stands where the
    app looks for Graph (a proxy, a misbehaving gateway) and answers 200 with a body of its choosing."""
    _StandInGraph.hits, _StandInGraph.status, _StandInGraph.location = [], 200, None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StandInGraph)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(emulator.emulator.ca.server_certificate(["127.0.0.1", "localhost"])))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/v1.0", _StandInGraph
    server.shutdown()
    server.server_close()


def test_a_deeply_nested_graph_answer_is_503_not_500(make_app, tokens, stand_in_graph, redis_client):
    """JSON nested past Python's recursion limit (a few hundred kilobytes) raised RecursionError out of the
    membership lookup: a 500, where an answer that is not Graph's is an outage (503, Retry-After)."""
    base_url, graph = stand_in_graph
    depth = 100_000
    graph.body = b'{"value": ' + b"[" * depth + b"]" * depth + b"}"
    api = make_app(ENABLED_BLUEPRINTS=["api"], GRAPH_API_BASE_URL=base_url).test_client()
    token = tokens.sign_in(NESTOR)["access_token"]
    answer = api.get(TENANT_VIEW, headers=bearer(token))
    assert graph.hits == ["/v1.0/me/getMemberObjects"]
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert answer.get_json()["error"] == "temporarily_unavailable"
    assert redis_client.keys("groups:api:*") == []


def test_a_redirect_from_graph_is_never_followed(make_app, tokens, control, stand_in_graph, redis_client):
    """Whatever answers at GRAPH_API_BASE_URL with a 307 to another host (here the emulator's real Graph, which
    would grant the role) gets no bearer token sent there: the lookup is an outage (503), nothing cached."""
    base_url, graph = stand_in_graph
    graph.status, graph.location = 307, f"{control.base.rsplit('/', 1)[0]}/v1.0/me/getMemberObjects"
    graph.body = b"{}"
    api = make_app(ENABLED_BLUEPRINTS=["api"], GRAPH_API_BASE_URL=base_url).test_client()
    token = tokens.sign_in(NESTOR)["access_token"]
    since = control.last_seq()
    answer = api.get(TENANT_VIEW, headers=bearer(token))
    assert graph.hits == ["/v1.0/me/getMemberObjects"]
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert [e for e in control.requests(since) if e["path"] == MEMBER_OBJECTS] == []
    assert redis_client.keys("groups:api:*") == []
