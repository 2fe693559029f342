"""The whole chain: web → API (user's token) → downstream (on-behalf-of), over real HTTP(S).

The API tier is reached over HTTPS at ``API_BASE_URL`` (a second app instance
deployed API-only), the downstream is the emulator's Graph-like ``/v1.0/me``.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from urllib.parse import urlsplit

import jwt
import pytest

from entra_auth.http import build_http_session
from tests.conftest import API_CLIENT_ID

from .conftest import record_tokens, sign_in

MEGAN = "megan@contoso.example"
MEGAN_OID = "a0000001-0000-4000-8000-000000000001"
GRAPH_RESOURCE = "https://graph.microsoft.com"
JWT_SHAPE = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")


@pytest.fixture
def chain(start_app):
    """A web instance calling a separate API-only instance over HTTPS."""
    api = start_app(ENABLED_BLUEPRINTS=["api"])
    web = start_app(API_BASE_URL=api.url)
    return web, api


def _log(control, since: int, endpoint: str) -> list[dict]:
    return [e for e in control.requests(since) if e["endpoint"] == endpoint]


def _authorize_requests(control, since: int) -> list[dict]:
    """Authorization requests (the account picker's own POST is logged under the same endpoint)."""
    return [e for e in _log(control, since, "authorize") if e["path"].endswith("/oauth2/v2.0/authorize")]


def _obo_requests(control, since: int) -> list[dict]:
    return [e for e in _log(control, since, "token") if e.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer"]


def test_the_downstream_gets_the_users_token_through_on_behalf_of(chain, user_browser, control):
    web, api = chain
    sign_in(user_browser, web, MEGAN)
    seq = control.last_seq()
    page = user_browser.get(f"{web.url}/profile")
    assert page.status_code == 200 and "Marketing Manager" in page.text

    (obo,) = _obo_requests(control, seq)
    assert obo["requested_token_use"] == "on_behalf_of"
    assert obo["client_id"] == API_CLIENT_ID, "the API redeemed it, as itself"
    (issued,) = [i for i in obo["issued"] if i["kind"] == "access_token"]
    # Graph's tokens are v1.0 and name Graph as the scope did (DOWNSTREAM_API_SCOPES: its URI).
    assert issued["aud"] == GRAPH_RESOURCE and issued["ver"] == "1.0" and issued["oid"] == MEGAN_OID
    (me,) = _log(control, seq, "graph")
    assert me["status"] == 200 and me["bearer"]["oid"] == MEGAN_OID and me["bearer"]["aud"] == GRAPH_RESOURCE


def test_a_second_call_with_the_same_incoming_token_makes_no_obo_request(chain, user_browser, control, redis_client):
    web, _ = chain
    control.settings(access_token_lifetime=3600)  # pinned: Entra's default varies per token (60-90 min)
    sign_in(user_browser, web, MEGAN)
    user_browser.get(f"{web.url}/profile")  # first: one exchange
    seq = control.last_seq()
    for _ in range(3):
        assert "Marketing Manager" in user_browser.get(f"{web.url}/profile").text
    assert _obo_requests(control, seq) == []
    assert len(_log(control, seq, "graph")) == 3, "the downstream is still called each time"
    (key,) = redis_client.keys("tokencache:obo:*")
    ttl = redis_client.ttl(key)
    assert 0 < ttl <= 3600, "the cached downstream token lives no longer than the incoming token"


def test_the_api_answers_a_claims_challenge_and_the_web_tier_re_signs_in_with_it(chain, user_browser, control):
    web, api = chain
    sign_in(user_browser, web, MEGAN, "/profile")
    control.revoke(MEGAN)  # continuous access evaluation: the user's sessions are revoked
    seq = control.last_seq()
    page = user_browser.get(f"{web.url}/profile", as_user=MEGAN)
    assert page.status_code == 200 and "Marketing Manager" in page.text
    assert urlsplit(page.url).path == "/profile", "brought back to the page they asked for"
    (authorize,) = _authorize_requests(control, seq)
    assert json.loads(authorize["claims"]).get("access_token"), "the re-sign-in carried the claims challenge"
    assert authorize["login_hint"] == MEGAN, "and named the user, so Entra does not ask which account"


def test_the_apis_401_carries_the_insufficient_claims_challenge(chain, user_browser, control, emulator):
    web, api = chain
    tokens = record_tokens(web)
    sign_in(user_browser, web, MEGAN)
    user_browser.get(f"{web.url}/profile")
    access_token = _access_token(tokens)
    control.revoke(MEGAN)
    client = build_http_session(str(emulator.ca_path))
    response = client.get(f"{api.url}/api/me", headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'error="insufficient_claims"' in challenge
    claims = re.search(r'claims="([^"]+)"', challenge).group(1)
    assert json.loads(base64.b64decode(claims)), "the claims value is base64 of a JSON object"
    assert access_token not in response.text and access_token not in challenge


def test_a_second_challenge_right_after_re_authentication_is_an_error_page_not_a_loop(chain, user_browser, control):
    web, _ = chain
    sign_in(user_browser, web, MEGAN, "/profile")
    control.revoke(MEGAN)
    assert "Marketing Manager" in user_browser.get(f"{web.url}/profile", as_user=MEGAN).text
    control.revoke(MEGAN)  # the policy is not satisfied by the sign-in just done
    page = user_browser.get(f"{web.url}/profile", as_user=MEGAN)
    assert page.status_code == 403 and "extra verification" in page.text


def test_incremental_consent_asks_for_orders_write_on_the_first_order_only(chain, user_browser, control):
    web, _ = chain
    sign_in(user_browser, web, MEGAN, "/orders")
    seq = control.last_seq()
    form = {"csrf_token": user_browser.csrf_token(f"{web.url}/orders"), "item": "Pens", "quantity": "3",
            "note": "blue"}
    page = user_browser.post(f"{web.url}/orders", data=form, as_user=MEGAN)
    # The round trip asked Entra for Orders.Write and came back to the form, still filled in.
    (authorize,) = _authorize_requests(control, seq)
    assert "Orders.Write" in authorize["scope"]
    assert urlsplit(page.url).path == "/orders" and 'value="Pens"' in page.text and "blue" in page.text
    assert "kept while you granted access" in page.text

    form["csrf_token"] = user_browser.csrf_token(f"{web.url}/orders")
    # The form was kept across the round trip: re-submitting it places the order.
    placed = user_browser.post(f"{web.url}/orders", data=form)
    assert placed.status_code == 200 and "Order placed: 3 × Pens" in placed.text
    seq = control.last_seq()
    form["csrf_token"] = user_browser.csrf_token(f"{web.url}/orders")
    second = user_browser.post(f"{web.url}/orders", data={**form, "item": "Paper"})
    assert "Order placed: 3 × Paper" in second.text
    assert _authorize_requests(control, seq) == [], "the second order needs no new consent"


def test_missing_admin_consent_for_the_downstream_is_a_403_naming_the_permission(start_app, user_browser, emulator):
    api = start_app(ENABLED_BLUEPRINTS=["api"], DOWNSTREAM_API_SCOPES=["https://graph.microsoft.com/Mail.Read"])
    web = start_app(API_BASE_URL=api.url)
    tokens = record_tokens(web)
    sign_in(user_browser, web, MEGAN)
    page = user_browser.get(f"{web.url}/profile")
    assert page.status_code == 200, "the rest of the page renders"
    assert "Mail.Read" in page.text and "admin" in page.text.lower()
    # The API's own answer: 403, JSON, naming the permission, with a correlation id.
    response = build_http_session(str(emulator.ca_path)).get(
        f"{api.url}/api/me", headers={"Authorization": f"Bearer {_access_token(tokens)}"})
    assert response.status_code == 403 and response.json()["error"] == "consent_required"
    assert response.json()["permission"] == "https://graph.microsoft.com/Mail.Read"
    assert response.json()["request_id"]


def test_an_api_with_a_refused_credential_answers_503_and_logs_the_credential_problem(start_app, user_browser,
                                                                                        emulator, caplog):
    # The API presents the web app's certificate: Entra refuses it (invalid_client).
    api = start_app(ENABLED_BLUEPRINTS=["api"],
                    API_CLIENT_CERTIFICATE_PATH=str(emulator.emulator.certificates["orders-web"].path))
    web = start_app(API_BASE_URL=api.url)
    tokens = record_tokens(web)
    sign_in(user_browser, web, MEGAN)
    page = user_browser.get(f"{web.url}/profile")
    assert page.status_code == 200 and "unavailable" in page.text
    assert any("client credential was refused" in r.getMessage() and "invalid_client" in r.getMessage()
               for r in caplog.records)
    response = build_http_session(str(emulator.ca_path)).get(
        f"{api.url}/api/me", headers={"Authorization": f"Bearer {_access_token(tokens)}"})
    assert response.status_code == 503 and response.json()["error"] == "temporarily_unavailable"


def test_a_transient_downstream_failure_is_retried(chain, user_browser, control):
    web, _ = chain
    sign_in(user_browser, web, MEGAN)
    seq = control.last_seq()
    control.fault("graph", mode="fail", status=503, count=1)  # Retry-After: 1
    page = user_browser.get(f"{web.url}/profile")
    assert "Marketing Manager" in page.text
    assert [e["status"] for e in _log(control, seq, "graph")] == [503, 200]


def test_the_downstream_down_gives_503_on_the_panel_while_the_page_renders(chain, user_browser, control):
    web, api = chain
    sign_in(user_browser, web, MEGAN)
    control.fault("graph", mode="fail", status=503, seconds=30)
    page = user_browser.get(f"{web.url}/profile")
    assert page.status_code == 200
    assert "Megan Bowen" in page.text and "unavailable right now" in page.text
    assert "Traceback" not in page.text


def test_twenty_users_at_once_each_see_only_their_own_profile(start_app, new_browser, redis_client, emulator):
    api = start_app(ENABLED_BLUEPRINTS=["api"])
    web = start_app(API_BASE_URL=api.url)
    tokens = record_tokens(web, api)
    users = [(f"loaduser{i:02d}@contoso.example", f"c0000003-0000-4000-8000-{i:012d}") for i in range(1, 21)]
    browsers = {}
    for username, oid in users:
        browser = new_browser()
        sign_in(browser, web, username)
        browsers[oid] = browser
    mixups: list[str] = []
    errors: list[int] = []

    def hammer(oid: str, browser) -> None:
        for _ in range(5):
            response = browser.http.get(f"{web.url}/profile", allow_redirects=False)
            if response.status_code != 200:
                errors.append(response.status_code)
                continue
            oids = set(re.findall(r"c0000003-0000-4000-8000-\d{12}", response.text))
            if oids != {oid}:
                mixups.append(f"{oid} saw {sorted(oids)}")

    threads = [threading.Thread(target=hammer, args=item) for item in browsers.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and mixups == []
    _assert_no_clear_text_tokens(redis_client, tokens)


# -- helpers --------------------------------------------------------------------------------------
def _access_token(tokens: list[str]) -> str:
    """The last access token for the Orders API among captured tokens."""
    return next(t for t in reversed(tokens)
                if t.startswith("eyJ") and jwt.decode(t, options={"verify_signature": False}).get("scp"))


def _assert_no_clear_text_tokens(redis_client, tokens: list[str]) -> None:
    assert tokens, "tokens were captured"
    for key in redis_client.scan_iter(count=500):
        dump = redis_client.dump(key) or b""
        assert not JWT_SHAPE.search(dump), f"{key!r} holds something JWT-shaped"
        for token in tokens:
            assert token[-40:].encode() not in dump, f"{key!r} holds a token in clear text"
