"""A refresh never switches the user (OpenID Connect Core §12.2; Entra: the same ``tid`` and ``oid``).

The emulator's refresh-grant faults answer a refresh with another user's tokens (of the same
tenant, or of another tenant: the whole answer, or only its ID token), or with an ID token that
fails validation (bad signature, wrong audience). Whatever the page or API call that refreshed,
the user sees none of it: the browser is sent through a fresh sign-in, the session ends, Redis
holds nothing of that answer, and a security event is logged without any token in it.

Every access token lives 60 s here, which MSAL treats as expired (its 5-minute margin): every
page that needs one refreshes it.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet

from orders_store import OrderStore
from tests.conftest import FOREIGN_TENANT_ID, HOME_TENANT_ID, TEST_TOKEN_CACHE_KEY, WEB_CLIENT_ID

from .conftest import get_all_at_once, record_tokens, sign_in

MEGAN = "megan@contoso.example"
MEGAN_OID = "a0000001-0000-4000-8000-000000000001"
MEGAN_PARTITION = f"{MEGAN_OID}.{HOME_TENANT_ID}"
ADELE_OID = "a0000001-0000-4000-8000-000000000002"  # other_user: the home tenant's next user
LEE_OID = "b0000002-0000-4000-8000-000000000001"  # other_tenant: the foreign tenant's user
SESSION_COOKIE = "__Host-session"
SHORT_LIFETIME = 60
# What would show that the page or the API answer was the stranger's: names, job titles (the
# downstream profile), object ids, and the orders seeded for them.
ADELE_ORDER, LEE_ORDER = "Adele's private stapler", "Lee's private lamp"
STRANGER_TEXT = ("Adele", "Orders Administrator", ADELE_OID, ADELE_ORDER,
                 "Lee Gu", "Director", LEE_OID, LEE_ORDER, "fabrikam")

# (fault, token_type): the whole answer for someone else, only its ID token, or an invalid ID token.
SWITCHES = [
    pytest.param("other_user", "any", id="answer-for-another-user"),
    pytest.param("other_tenant", "any", id="answer-for-another-tenant"),
    pytest.param("other_user", "id_token", id="id-token-of-another-user"),
    pytest.param("other_tenant", "id_token", id="id-token-of-another-tenant"),
    pytest.param("bad_signature", "id_token", id="id-token-bad-signature"),
    pytest.param("wrong_aud", "id_token", id="id-token-wrong-audience"),
]


@pytest.fixture
def strangers_orders(redis_client):
    """An order of each possible stranger: a page showing it would be showing their data."""
    orders = OrderStore(redis_client)
    orders.create(tid=HOME_TENANT_ID, owner_oid=ADELE_OID, owner_name="Adele Vance", item=ADELE_ORDER, quantity=1,
                  note="")
    orders.create(tid=FOREIGN_TENANT_ID, owner_oid=LEE_OID, owner_name="Lee Gu", item=LEE_ORDER, quantity=1,
                  note="")


@pytest.fixture
def short_tokens(control):
    control.settings(access_token_lifetime=SHORT_LIFETIME)


def refresh_answers(control, since: int) -> list[dict]:
    return [e for e in control.requests(since) if e.get("grant_type") == "refresh_token"]


def decrypted_token_caches(redis_client) -> dict[str, str]:
    """Every token-cache entry in Redis, decrypted with the test key (as an attacker with the key would)."""
    return {key.decode(): Fernet(TEST_TOKEN_CACHE_KEY).decrypt(redis_client.get(key)).decode()
            for key in redis_client.scan_iter("tokencache:*") if not key.endswith(b":lock")}


def assert_nothing_stored(redis_client, live, answer: list[str], stranger_oid: str | None) -> None:
    """No token of the refused answer anywhere in Redis (raw or decrypted), nothing naming the stranger."""
    assert answer, "the refused answer was recorded (otherwise this proves nothing)"
    caches = decrypted_token_caches(redis_client)
    for key, plaintext in caches.items():
        assert not [t for t in answer if t in plaintext], f"a token of the refused answer is stored in {key}"
        if stranger_oid:
            assert stranger_oid not in plaintext, f"{key} holds tokens of the other user"
    for key in redis_client.scan_iter("*"):
        if redis_client.type(key) == b"string":
            raw = redis_client.get(key)
            assert not [t for t in answer if t.encode() in raw], f"a token of the refused answer is in {key!r}"
    assert not redis_client.exists(live.state.web.token_caches.key(MEGAN_PARTITION)), \
        "the partition whose refresh token answered for someone else is dropped"


def assert_sent_to_sign_in(response, emulator) -> None:
    shown = [text for text in STRANGER_TEXT if text in response.text]
    assert not shown, f"the other user's data reached the browser: {shown}"
    assert response.status_code == 302, (response.status_code, response.text[:300])
    location = urlsplit(response.headers["Location"])
    assert (location.netloc, location.path.endswith("/oauth2/v2.0/authorize")) == (urlsplit(emulator.url).netloc,
                                                                                  True), location
    assert "login_hint" not in location.query, "the ended session's user is not hinted at"


def assert_session_ended(response, redis_client) -> None:
    cookie = next((c for c in response.raw.headers.getlist("Set-Cookie") if c.startswith(f"{SESSION_COOKIE}=")), "")
    assert "expires=thu, 01 jan 1970" in cookie.lower() or "max-age=0" in cookie.lower(), cookie
    assert not redis_client.keys("session:*"), "the session is gone from Redis"


def assert_security_event(caplog, answer: list[str]) -> None:
    events = [r for r in caplog.records if r.name == "entra_auth.security" and "refresh refused" in r.getMessage()]
    assert events, "a security event is logged"
    for record in caplog.records:
        message = record.getMessage()
        assert not [t for t in answer if t in message], "no token in the log"


def stranger_of(fault: str) -> str | None:
    return {"other_user": ADELE_OID, "other_tenant": LEE_OID}.get(fault)


@pytest.mark.parametrize("page", ["/profile", "/orders"])
@pytest.mark.parametrize(("fault", "token_type"), SWITCHES)
def test_a_page_whose_refresh_answers_for_someone_else_signs_in_afresh(live, user_browser, control, emulator,
                                                                       redis_client, strangers_orders, short_tokens,
                                                                       caplog, page, fault, token_type):
    answers = record_tokens(live)
    first = sign_in(user_browser, live, MEGAN, page)
    assert "Megan" in first.text
    signed_in_answers = len(answers)
    mark = control.last_seq()
    control.token_fault(fault, token_type=token_type, client_id=WEB_CLIENT_ID, grant="refresh_token")

    with caplog.at_level(logging.INFO):
        response = user_browser.http.get(f"{live.url}{page}", allow_redirects=False)

    refused = answers[signed_in_answers:]
    assert [e["status"] for e in refresh_answers(control, mark)] == [200], "the page refreshed, and got the fault"
    assert_sent_to_sign_in(response, emulator)
    assert_session_ended(response, redis_client)
    assert_nothing_stored(redis_client, live, refused, stranger_of(fault))
    assert_security_event(caplog, refused)
    # The fresh sign-in (Entra's session still knows Megan) brings her back to the page, as herself.
    again = user_browser.follow(response, as_user=MEGAN)
    assert again.status_code == 200 and urlsplit(again.url).path == page
    assert "Megan" in again.text
    for text in STRANGER_TEXT:
        assert text not in again.text
    assert [e for e in control.requests(mark) if e.get("grant_type") == "authorization_code"], "a fresh sign-in"


@pytest.mark.parametrize(("fault", "token_type"), SWITCHES[:3])
def test_an_order_placed_while_the_refresh_answers_for_someone_else_is_not_placed(live, user_browser, control,
                                                                                  emulator, redis_client,
                                                                                  strangers_orders, short_tokens,
                                                                                  fault, token_type):
    """The web tier's API call (POST /orders with the user's Orders.Write token) is never made as the stranger."""
    answers = record_tokens(live)
    sign_in(user_browser, live, MEGAN, "/orders")
    form = {"csrf_token": user_browser.csrf_token(f"{live.url}/orders"), "item": "Pens", "quantity": "3", "note": ""}
    user_browser.post(f"{live.url}/orders", data=form, as_user=MEGAN)  # Orders.Write: consent on first use
    form["csrf_token"] = user_browser.csrf_token(f"{live.url}/orders")
    placed = user_browser.post(f"{live.url}/orders", data=form)
    assert placed.status_code == 200 and "Pens" in placed.text, "Megan can place orders"
    form = {**form, "csrf_token": user_browser.csrf_token(f"{live.url}/orders"), "item": "Forged order"}
    signed_in_answers = len(answers)
    mark = control.last_seq()
    control.token_fault(fault, token_type=token_type, client_id=WEB_CLIENT_ID, grant="refresh_token")
    response = user_browser.http.post(f"{live.url}/orders", data=form, headers={"Referer": f"{live.url}/orders"},
                                      allow_redirects=False)

    assert [e["status"] for e in refresh_answers(control, mark)] == [200]
    assert_sent_to_sign_in(response, emulator)
    assert_nothing_stored(redis_client, live, answers[signed_in_answers:], stranger_of(fault))
    store = OrderStore(redis_client)
    everyone = store.list_for_tenant(HOME_TENANT_ID) + store.list_for_tenant(FOREIGN_TENANT_ID)
    assert "Forged order" not in [o.item for o in everyone], "the API was never called with that answer's token"
    assert not [e for e in control.requests(mark) if e["endpoint"] == "graph"]


def test_two_instances_refreshing_at_once_when_the_answer_is_for_someone_else(start_app, new_browser, control,
                                                                              emulator, redis_client,
                                                                              strangers_orders, short_tokens):
    """Twelve page loads on two instances, all refreshing one user's tokens; the first refresh answers for
    Adele. Under the partition's lock the others find the partition dropped: every one of them signs in
    afresh, none shows a page, and nothing of the answer stays."""
    first, second = start_app(), start_app()
    answers = record_tokens(first, second)
    browser = new_browser()
    sign_in(browser, first, MEGAN, "/orders")
    signed_in_answers = len(answers)
    control.token_fault("other_user", client_id=WEB_CLIENT_ID, grant="refresh_token")
    mark = control.last_seq()

    statuses = get_all_at_once([f"{first.url}/orders", f"{second.url}/orders"] * 6,
                               (SESSION_COOKIE, browser.cookie(SESSION_COOKIE)), str(emulator.ca_path))

    assert statuses == [302] * 12, statuses
    assert refresh_answers(control, mark), "they refreshed"
    assert_nothing_stored(redis_client, first, answers[signed_in_answers:], ADELE_OID)
    assert not redis_client.keys("session:*")
    for live in (first, second):  # signed out on both
        assert_sent_to_sign_in(browser.http.get(f"{live.url}/orders", allow_redirects=False), emulator)


def test_keys_unavailable_while_checking_a_refresh_is_an_outage_that_stores_nothing(start_app, user_browser, control,
                                                                                    redis_client, short_tokens):
    """A worker that has not loaded the signing keys yet cannot validate the refreshed ID token while the
    keys endpoint is down: a 503 (not a sign-out, not a security event), and the unvalidated answer is not
    stored: the partition stays exactly as it was."""
    first, fresh = start_app(), start_app()
    sign_in(user_browser, first, MEGAN, "/orders")
    key = first.state.web.token_caches.key(MEGAN_PARTITION)
    stored = redis_client.get(key)
    mark = control.last_seq()
    control.fault("jwks", mode="fail", status=503)

    response = user_browser.http.get(f"{fresh.url}/orders", allow_redirects=False)

    assert [e["status"] for e in refresh_answers(control, mark)] == [200], "the refresh itself was answered"
    assert response.status_code == 503 and response.headers.get("Retry-After"), response.status_code
    assert redis_client.get(key) == stored, "nothing of the unvalidated answer was stored"
    assert redis_client.keys("session:*"), "an outage ends no session"


def test_every_session_of_the_user_ends_and_other_users_keep_theirs(live, new_browser, control, emulator,
                                                                     redis_client, short_tokens):
    """The refused refresh token lived in the partition all of the user's sessions share: all of them end
    (laptop and phone), on the spot. Another user's session is untouched."""
    laptop, phone, adele = new_browser(), new_browser(), new_browser()
    sign_in(laptop, live, MEGAN, "/orders")
    sign_in(phone, live, MEGAN, "/")
    sign_in(adele, live, "adele@contoso.example", "/")
    control.token_fault("other_tenant", client_id=WEB_CLIENT_ID, grant="refresh_token")

    assert_sent_to_sign_in(laptop.http.get(f"{live.url}/orders", allow_redirects=False), emulator)

    home = phone.http.get(f"{live.url}/", allow_redirects=False)
    assert home.status_code == 200 and "Megan" not in home.text, "the phone's session ended too"
    assert_sent_to_sign_in(phone.http.get(f"{live.url}/profile", allow_redirects=False), emulator)
    assert len(redis_client.keys("session:*")) == 1, "only Adele's session is left"
    page = adele.http.get(f"{live.url}/profile", allow_redirects=False)
    assert page.status_code == 200 and "Adele Vance" in page.text, "another user's session is not touched"


def test_a_refresh_meeting_an_untrusted_discovery_document_is_an_outage_not_a_switch(live, user_browser, control,
                                                                                    redis_client, short_tokens,
                                                                                    caplog):
    """The discovery document now names an issuer of another kind (a tampered or mismatched provider): the
    refreshed ID token cannot be judged. That is the provider's fault, not the user's: the page answers 503,
    the session lives on, no security event claims an identity switch, and the page works again once the
    provider's own document is back."""
    sign_in(user_browser, live, MEGAN, "/orders")
    sessions = redis_client.keys("session:*")
    assert sessions
    metadata = live.app.extensions["entra_auth"].metadata
    document = metadata.get()
    customers = "33333333-3333-4333-8333-333333333333"  # an External ID tenant's issuer, for a workforce authority
    metadata._document = {**document, "issuer": f"https://{customers}.localhost:1/{customers}/v2.0"}
    mark = control.last_seq()
    try:
        with caplog.at_level(logging.INFO):
            response = user_browser.http.get(f"{live.url}/orders", allow_redirects=False)
        assert [e["status"] for e in refresh_answers(control, mark)] == [200], "the page refreshed"
        assert response.status_code == 503 and response.headers.get("Retry-After"), response.status_code
        assert redis_client.keys("session:*") == sessions, "the session was not ended"
        assert not [r for r in caplog.records
                    if r.name == "entra_auth.security" and "refresh refused" in r.getMessage()]
    finally:
        metadata._document = document
    again = user_browser.http.get(f"{live.url}/orders", allow_redirects=False)
    assert again.status_code == 200 and "Megan" in again.text
