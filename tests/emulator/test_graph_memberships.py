"""The Graph-like membership reads: POST /v1.0/me/getMemberObjects and GET /v1.0/me/transitiveMemberOf
(paging with $top and @odata.nextLink), User.Read required, Graph's faults and the request log."""

from __future__ import annotations

import msal
import pytest

from entra_auth.http import build_http_session
from tests.conftest import MI_CLIENT_ID, sign_in_with_msal

from .groups_helpers import (
    CONTOSO_SOCIAL,
    EU_APPROVERS,
    GRACE,
    MARKETING,
    MEGAN,
    NESTOR,
    NINA,
    ORDERS_APPROVERS,
    PROJECT_TEAM_249,
    graph_token,
)
from .helpers import unverified

MAIL_READ = "https://graph.microsoft.com/Mail.Read"


def _member_objects(emulator, http, token: str, security_only: object = True):
    return http.post(f"{emulator.url}/v1.0/me/getMemberObjects", json={"securityEnabledOnly": security_only},
                     headers={"Authorization": f"Bearer {token}"})


def _transitive(http, url: str, token: str):
    return http.get(url, headers={"Authorization": f"Bearer {token}"})


def test_get_member_objects_is_transitive_and_filters_security_groups(emulator, http, api_app):
    token = graph_token(emulator, http, api_app, NINA)
    assert unverified(token)["ver"] == "1.0"  # Graph's tokens are v1.0, as the emulator already issued them
    resp = _member_objects(emulator, http, token, True)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)"
    assert sorted(body["value"]) == sorted([ORDERS_APPROVERS, EU_APPROVERS])  # nested Orders-Approvers counts
    everything = _member_objects(emulator, http, token, False).json()["value"]
    assert sorted(everything) == sorted([ORDERS_APPROVERS, EU_APPROVERS, CONTOSO_SOCIAL])


def test_the_250_group_user_gets_every_group(emulator, http, api_app):
    ids = _member_objects(emulator, http, graph_token(emulator, http, api_app, NESTOR)).json()["value"]
    assert len(ids) == len(set(ids)) == 250
    assert ORDERS_APPROVERS in ids and PROJECT_TEAM_249 in ids


@pytest.mark.parametrize("body", [{}, {"securityEnabledOnly": "true"}, {"securityEnabledOnly": None}, []])
def test_get_member_objects_needs_the_boolean(emulator, http, api_app, body):
    token = graph_token(emulator, http, api_app, GRACE)
    resp = http.post(f"{emulator.url}/v1.0/me/getMemberObjects", json=body, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "Request_BadRequest"


def test_transitive_member_of_pages_with_next_links(emulator, http, api_app):
    token = graph_token(emulator, http, api_app, NESTOR)
    url, pages, seen = f"{emulator.url}/v1.0/me/transitiveMemberOf?$top=100", [], []
    while url:
        resp = _transitive(http, url, token)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#directoryObjects"
        pages.append(len(body["value"]))
        seen.extend(body["value"])
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith(f"{emulator.url}/v1.0/me/transitiveMemberOf?$top=100&$skiptoken=")
    assert pages == [100, 100, 50]
    assert len({o["id"] for o in seen}) == 250
    approvers = next(o for o in seen if o["id"] == ORDERS_APPROVERS)
    assert approvers["@odata.type"] == "#microsoft.graph.group"
    assert approvers["displayName"] == "Orders-Approvers" and approvers["securityEnabled"] is True


def test_transitive_member_of_lists_every_kind_of_group(emulator, http, api_app):
    token = graph_token(emulator, http, api_app, MEGAN)
    body = _transitive(http, f"{emulator.url}/v1.0/me/transitiveMemberOf", token).json()
    assert "@odata.nextLink" not in body
    by_id = {o["id"]: o for o in body["value"]}
    assert set(by_id) == {MARKETING, CONTOSO_SOCIAL}
    assert by_id[CONTOSO_SOCIAL]["securityEnabled"] is False and by_id[CONTOSO_SOCIAL]["groupTypes"] == ["Unified"]


def test_default_page_is_100(emulator, http, api_app):
    token = graph_token(emulator, http, api_app, NESTOR)
    body = _transitive(http, f"{emulator.url}/v1.0/me/transitiveMemberOf", token).json()
    assert len(body["value"]) == 100 and "$top=100" in body["@odata.nextLink"]


@pytest.mark.parametrize("top", ["0", "1000", "ten", "-1"])
def test_a_page_size_out_of_range_is_400(emulator, http, api_app, top):
    token = graph_token(emulator, http, api_app, GRACE)
    resp = _transitive(http, f"{emulator.url}/v1.0/me/transitiveMemberOf?$top={top}", token)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_a_skip_token_is_bound_to_its_user_and_cannot_be_forged(emulator, http, api_app):
    nestor = graph_token(emulator, http, api_app, NESTOR)
    next_link = _transitive(http, f"{emulator.url}/v1.0/me/transitiveMemberOf?$top=2", nestor).json()["@odata.nextLink"]
    grace = graph_token(emulator, http, api_app, GRACE)
    assert _transitive(http, next_link, grace).status_code == 400
    tampered = next_link[:-3] + ("AAA" if not next_link.endswith("AAA") else "BBB")
    assert _transitive(http, tampered, nestor).status_code == 400
    assert _transitive(http, next_link, nestor).status_code == 200


def _mail_read_only_token(emulator, http) -> str:
    """A Graph token with Mail.Read and without User.Read (the user consents to Mail.Read on the page)."""
    browser = build_http_session(str(emulator.ca_path))
    _, _, result = sign_in_with_msal(emulator, http, browser, GRACE, [MAIL_READ])
    assert "access_token" in result, result
    return result["access_token"]


@pytest.mark.parametrize("path", ["getMemberObjects", "transitiveMemberOf"])
def test_a_token_without_user_read_is_refused(emulator, http, path):
    token = _mail_read_only_token(emulator, http)
    if path == "getMemberObjects":
        resp = _member_objects(emulator, http, token)
    else:
        resp = _transitive(http, f"{emulator.url}/v1.0/me/transitiveMemberOf", token)
    assert resp.status_code == 403, resp.text
    error = resp.json()["error"]
    assert error["code"] == "Authorization_RequestDenied"
    assert error["message"] == "Insufficient privileges to complete the operation."
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}


def test_an_app_only_token_and_no_token_are_refused(emulator, http, mi_client):
    client = mi_client(msal.UserAssignedManagedIdentity(client_id=MI_CLIENT_ID))
    app_token = client.acquire_token_for_client(resource="https://graph.microsoft.com")["access_token"]
    assert _member_objects(emulator, http, app_token).status_code == 403
    resp = http.post(f"{emulator.url}/v1.0/me/getMemberObjects", json={"securityEnabledOnly": True})
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer ")


def test_a_token_for_another_audience_is_401(emulator, http):
    browser = build_http_session(str(emulator.ca_path))
    _, _, result = sign_in_with_msal(emulator, http, browser, GRACE, ["api://6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8/Orders.Read"])
    assert _member_objects(emulator, http, result["access_token"]).status_code == 401


def test_graph_faults_reach_both_and_the_log_counts_them(emulator, http, api_app, control):
    token = graph_token(emulator, http, api_app, GRACE)
    seq = control.last_seq()
    control.fault("graph", mode="fail", status=503, count=1)
    assert _member_objects(emulator, http, token).status_code == 503
    control.fault("graph", mode="fail", status=200, body="html", count=1)
    resp = _transitive(http, f"{emulator.url}/v1.0/me/transitiveMemberOf", token)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    control.fault("graph", mode="fail", status=403, body="graph", count=1)
    resp = _member_objects(emulator, http, token)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "Authorization_RequestDenied"
    assert _member_objects(emulator, http, token).status_code == 200  # each fault was for one call
    calls = [(e["method"], e["path"], e["status"]) for e in control.requests(seq) if e["endpoint"] == "graph"]
    assert calls == [
        ("POST", "/v1.0/me/getMemberObjects", 503),
        ("GET", "/v1.0/me/transitiveMemberOf", 200),
        ("POST", "/v1.0/me/getMemberObjects", 403),
        ("POST", "/v1.0/me/getMemberObjects", 200),
    ]
    assert [e["bearer"]["oid"] for e in control.requests(seq) if e.get("bearer")] == ["a0000001-0000-4000-8000-000000000003"]


def test_a_slow_graph_is_a_timeout_for_an_impatient_client(emulator, http, api_app, control):
    import requests

    token = graph_token(emulator, http, api_app, GRACE)
    impatient = build_http_session(str(emulator.ca_path), timeout=(1.0, 0.3))
    control.fault("graph", mode="slow", delay=0.8, count=1)
    with pytest.raises(requests.Timeout):
        _member_objects(emulator, impatient, token)


def test_a_graph_body_is_only_for_the_graph_endpoint(http, control):
    resp = http.post(f"{control.base}/faults", json={"endpoint": "token", "body": "graph", "status": 403})
    assert resp.status_code == 400
