"""Security groups as roles on the web tier (issue #19): pages gated by group membership, the groups
overage resolved through Graph once per session, and every way Graph can fail answered closed.

The emulator's manifest: Orders-Approvers (``GROUP_ROLES`` maps it to Orders.Admin) holds Grace
directly, Nina through EU-Approvers (nested) and Nestor through one of his 250 groups (past the
200 a JWT carries: his tokens bear the overage marker, never a ``groups`` claim). Megan is in
Marketing only, a group the app does not map.
"""

from __future__ import annotations

import http.server
import ssl
import threading
import time

import pytest

from tests.conftest import API_CLIENT_ID, WEB_CLIENT_ID

from .conftest import record_tokens, sign_in
from .test_production_settings import jwt_claims

GRACE = "grace@contoso.example"
NINA = "nina@contoso.example"
NESTOR = "nestor@contoso.example"
MEGAN = "megan@contoso.example"
ADELE = "adele@contoso.example"
ORDERS_APPROVERS = "f0000006-0000-4000-8000-000000000001"
EU_APPROVERS = "f0000006-0000-4000-8000-000000000002"
ADMIN_HEADING = "All orders"
MEMBER_OBJECTS = "/v1.0/me/getMemberObjects"


def membership_lookups(control, since: int = 0, *, client_id: str | None = None) -> list[dict]:
    """Graph getMemberObjects requests the emulator served (optionally: made with ``client_id``'s token)."""
    return [e for e in control.requests(since) if e["path"] == MEMBER_OBJECTS
            and (client_id is None or (e.get("bearer") or {}).get("appid") == client_id)]


def lookups_logged(control, since: int, expected: int, *, wait: float = 6.0) -> list[dict]:
    """The lookups logged, once ``expected`` are (a slow answer is logged when the emulator sends it,
    after the app stopped waiting), or after ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while len(found := membership_lookups(control, since)) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def clear_faults(control) -> None:
    assert control.http.delete(f"{control.base}/faults").status_code in (200, 204)


def admin_status(browser, live) -> int:
    return browser.http.get(f"{live.url}/admin", allow_redirects=False).status_code


def test_a_direct_member_of_a_mapped_group_opens_admin(live, new_browser):
    grace = new_browser()
    page = sign_in(grace, live, GRACE, "/admin")
    assert page.status_code == 200 and ADMIN_HEADING in page.text
    # The navigation offers the page too, and the profile says where the role came from.
    profile = grace.get(f"{live.url}/profile")
    assert profile.status_code == 200
    assert "Orders.Admin" in profile.text and f"from group {ORDERS_APPROVERS}" in profile.text
    assert "assigned as an app role" not in profile.text


def test_a_nested_membership_counts(live, new_browser):
    nina = new_browser()
    page = sign_in(nina, live, NINA, "/admin")
    assert page.status_code == 200 and ADMIN_HEADING in page.text


def test_a_user_in_no_mapped_group_gets_403(live, new_browser):
    megan = new_browser()
    sign_in(megan, live, MEGAN)
    refused = megan.http.get(f"{live.url}/admin", allow_redirects=False)
    assert refused.status_code == 403 and "Orders.Admin" in refused.text
    assert f'href="/admin"' not in megan.get(f"{live.url}/").text


def test_an_app_role_still_opens_admin_and_the_profile_says_so(live, new_browser):
    adele = new_browser()
    assert sign_in(adele, live, ADELE, "/admin").status_code == 200
    profile = adele.get(f"{live.url}/profile")
    assert "Orders.Admin" in profile.text and "assigned as an app role" in profile.text


def test_an_id_token_with_the_group_but_a_bad_signature_grants_nothing(live, new_browser, control, redis_client):
    """Grace's ID token carries the mapped group; signed wrongly it is refused, and with it the group."""
    control.token_fault("bad_signature", token_type="id_token", client_id=WEB_CLIENT_ID)
    grace = new_browser()
    refused = grace.get(f"{live.url}/auth/login?next=/admin", as_user=GRACE)
    assert refused.status_code == 400 and ADMIN_HEADING not in refused.text
    assert not redis_client.keys("session:*")
    assert admin_status(grace, live) == 302  # not signed in at all
    # The fault was one-shot: the same user, signed in properly, is a member.
    assert sign_in(new_browser(), live, GRACE, "/admin").status_code == 200


def test_an_app_role_holder_with_an_overage_does_not_wait_on_graph(live, new_browser, control):
    """Adele holds Orders.Admin as an app role; in more groups than the (lowered) limit, her token has the
    overage marker. Graph being down changes nothing for her: the role she needs is in the token."""
    control.settings(group_claim_limit=1)
    control.membership("marketing", user=ADELE)
    control.membership("eu-approvers", user=ADELE)
    control.fault("graph", status=503)
    since = control.last_seq()
    adele = new_browser()
    assert sign_in(adele, live, ADELE, "/admin").status_code == 200
    assert membership_lookups(control, since) == []


def test_without_group_roles_a_group_grants_nothing(start_app, new_browser):
    """The map is what grants: the same member, the same tokens, no GROUP_ROLES: 403."""
    live = start_app(GROUP_ROLES="")
    grace = new_browser()
    sign_in(grace, live, GRACE)
    assert admin_status(grace, live) == 403


def test_the_overage_user_gets_in_through_graph_once_per_session(live, new_browser, control):
    since = control.last_seq()
    nestor = new_browser()
    page = sign_in(nestor, live, NESTOR, "/admin")
    assert page.status_code == 200 and ADMIN_HEADING in page.text
    # The web tier asked Graph once, with the user's own token for the web app.
    assert len(membership_lookups(control, since, client_id=WEB_CLIENT_ID)) == 1
    for path in ("/admin", "/profile", "/orders", "/admin"):
        assert nestor.get(f"{live.url}{path}").status_code == 200
    assert len(membership_lookups(control, since, client_id=WEB_CLIENT_ID)) == 1
    assert "Orders.Admin" in nestor.get(f"{live.url}/profile").text
    # A second session (another browser) is another resolution.
    other = new_browser()
    assert sign_in(other, live, NESTOR, "/admin").status_code == 200
    assert len(membership_lookups(control, since, client_id=WEB_CLIENT_ID)) == 2


@pytest.mark.parametrize("idle_timeout, cap", [(3600, 3), (3, 3600)], ids=["one-hour-cap", "idle-timeout"])
def test_a_resolved_membership_is_asked_again_past_its_bound(start_app, new_browser, control, monkeypatch,
                                                              idle_timeout, cap):
    """Kept at most min(SESSION_IDLE_TIMEOUT_SECONDS, 1 hour): the hour is shortened to 3 s in one case
    (the constant the code reads), the idle timeout is 3 s in the other (requests every half second keep
    the session itself alive). The second lookup comes, and never before 3 s have passed."""
    import entra_auth.flask_groups as flask_groups

    monkeypatch.setattr(flask_groups, "MAX_RESOLVED_AGE_SECONDS", cap)
    bound = min(idle_timeout, cap)
    live = start_app(SESSION_IDLE_TIMEOUT_SECONDS=idle_timeout)
    since = control.last_seq()
    nestor = new_browser()
    started = time.monotonic()  # the resolution's timestamp is later than this
    assert sign_in(nestor, live, NESTOR, "/admin").status_code == 200
    assert len(membership_lookups(control, since, client_id=WEB_CLIENT_ID)) == 1
    while len(membership_lookups(control, since, client_id=WEB_CLIENT_ID)) == 1:
        assert time.monotonic() - started < bound + 10, "never asked again"
        time.sleep(0.5)
        assert admin_status(nestor, live) == 200
    assert time.monotonic() - started >= bound
    assert len(membership_lookups(control, since, client_id=WEB_CLIENT_ID)) == 2


def test_the_session_keeps_only_the_mapped_groups(live, new_browser, control, redis_client):
    nestor = new_browser()
    sign_in(nestor, live, NESTOR, "/admin")
    sessions = live.app.session_interface
    record = next(iter(redis_client.keys("session:*")), None)
    assert record is not None
    opened = sessions._unseal(record.decode(), redis_client.get(record))
    assert opened["groups_resolved"]["ids"] == [ORDERS_APPROVERS]  # not his 249 other groups
    assert "_claim_sources" not in opened["claims"]


class _Catcher(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def _any(self):
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"value": ["f0000006-0000-4000-8000-000000000001"]}')

    do_GET = do_POST = _any

    def log_message(self, *args):
        pass


@pytest.fixture
def elsewhere(emulator):
    """An HTTPS server the token's _claim_sources will name (trusted as the emulator's CA is): it answers as
    Graph would, and counts."""
    _Catcher.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Catcher)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(emulator.emulator.ca.server_certificate(["127.0.0.1", "localhost"])))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, _Catcher.hits
    server.shutdown()
    server.server_close()


def test_the_claim_sources_endpoint_is_never_requested(live, new_browser, control, emulator, elsewhere):
    server, hits = elsewhere
    url = f"https://127.0.0.1:{server.server_address[1]}/{{tid}}/users/{{oid}}/getMemberObjects"
    control.settings(group_overage_endpoint=url)
    issued = record_tokens(live)
    since = control.last_seq()
    nestor = new_browser()
    assert sign_in(nestor, live, NESTOR, "/admin").status_code == 200
    # The ID token named the catcher (so a request there would have been seen), and none came.
    named = {jwt_claims(t).get("_claim_sources", {}).get("src1", {}).get("endpoint") for t in issued}
    assert any(str(endpoint).startswith(f"https://127.0.0.1:{server.server_address[1]}/") for endpoint in named)
    assert hits == []
    assert membership_lookups(control, since, client_id=WEB_CLIENT_ID)  # Graph at GRAPH_API_BASE_URL instead


@pytest.mark.parametrize("fault", [
    pytest.param({"status": 503}, id="graph-503"),
    pytest.param({"mode": "slow", "delay": 3.0}, id="graph-timeout"),
    pytest.param({"status": 200, "body": "html"}, id="graph-html-200"),
])
def test_graph_failures_answer_503_never_403_nor_access_and_recover(start_app, new_browser, control, fault):
    live = start_app(HTTP_TIMEOUT_SECONDS=1.0)
    nestor = new_browser()
    sign_in(nestor, live, NESTOR)
    since = control.last_seq()
    control.fault("graph", **fault)
    for _ in range(2):  # nothing cached by a failure: the second try asks Graph again
        failed = nestor.http.get(f"{live.url}/admin", allow_redirects=False)
        assert failed.status_code == 503, failed.status_code
        assert failed.headers["Retry-After"] == "5"
        assert "Your access cannot be checked right now" in failed.text and ADMIN_HEADING not in failed.text
    # A faulted answer names no caller in the log; only the web tier asked (the page stops before the API).
    assert len(lookups_logged(control, since, 2)) == 2
    # The rest of the app works meanwhile (no page needs the membership but /admin).
    assert nestor.http.get(f"{live.url}/orders", allow_redirects=False).status_code == 200
    clear_faults(control)
    recovered = nestor.http.get(f"{live.url}/admin", allow_redirects=False)
    assert recovered.status_code == 200 and ADMIN_HEADING in recovered.text


@pytest.mark.parametrize("status", [401, 403])
def test_graph_refusing_the_token_is_a_configuration_page(live, new_browser, control, caplog, status):
    nestor = new_browser()
    sign_in(nestor, live, NESTOR)
    control.fault("graph", status=status, body="graph")
    with caplog.at_level("ERROR", logger="entra_auth.group_membership"):
        refused = nestor.http.get(f"{live.url}/admin", allow_redirects=False)
    assert refused.status_code == 403 and ADMIN_HEADING not in refused.text
    assert "User.Read (Microsoft Graph, delegated)" in refused.text and "administrator" in refused.text
    assert any("configuration problem" in r.getMessage() and "User.Read" in r.getMessage() for r in caplog.records)
    clear_faults(control)
    assert nestor.http.get(f"{live.url}/admin", allow_redirects=False).status_code == 200


def test_a_removed_membership_counts_from_the_next_sign_in(live, new_browser, control):
    grace = new_browser()
    assert sign_in(grace, live, GRACE, "/admin").status_code == 200
    control.membership(ORDERS_APPROVERS, user=GRACE, present=False)
    # This session was signed in with the group in its ID token: it keeps it until the next sign-in.
    assert admin_status(grace, live) == 200
    again = new_browser()
    sign_in(again, live, GRACE)
    assert admin_status(again, live) == 403


def test_a_removed_nested_membership_of_an_overage_user_counts_from_the_next_sign_in(live, new_browser, control):
    nestor = new_browser()
    assert sign_in(nestor, live, NESTOR, "/admin").status_code == 200
    control.membership(ORDERS_APPROVERS, member_group="project-team-249", present=False)
    assert admin_status(nestor, live) == 200  # resolved once for this session
    again = new_browser()
    sign_in(again, live, NESTOR)
    assert admin_status(again, live) == 403
