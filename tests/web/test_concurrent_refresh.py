"""Two workers refreshing one user's tokens at once must not lose the refresh token.

Entra answers each refresh with a new refresh token and keeps the old one valid (Microsoft
Learn, "Refresh tokens in the Microsoft identity platform"), so against Entra a race costs a
redundant refresh and one cache write overwriting another. An identity provider that rotates
strictly refuses the second redemption with ``invalid_grant``, which would sign the user out.
The app takes a short per-partition lock in Redis and re-reads the partition under it before
refreshing, so it survives both. These tests turn on the emulator's strict mode
(``single_use_refresh_tokens``, not Entra's default) explicitly: only there does a lost race show.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import msal
import pytest

from entra_auth.errors import InteractionRequired
from tests.conftest import (
    API_SCOPE_READ,
    HOME_TENANT_ID,
    REDIRECT_URI,
    WEB_CLIENT_ID,
    authorization_response,
    confidential_app,
    pick_account,
)

from tests.stored_records import session_key, stored_session

from .conftest import get_all_at_once, sign_in

MEGAN = "megan@contoso.example"
MEGAN_PARTITION = f"a0000001-0000-4000-8000-000000000001.{HOME_TENANT_ID}"
SESSION_COOKIE = "__Host-session"
# MSAL treats an access token expiring within 5 minutes as expired: with 60 s tokens every use refreshes.
SHORT_LIFETIME = 60
# Parallel page loads per instance. Every one of them refreshes (60 s tokens), one at a time under
# the lock, at about 0.15 s each here: 2 x 6 keeps the test short and still races twelve requests.
PER_INSTANCE = 6


@pytest.fixture
def strict_rotation(control):
    """The emulator refuses a used refresh token (not Entra's default): what makes a lost race visible."""
    assert control.settings(single_use_refresh_tokens=True)["single_use_refresh_tokens"] is True


def signed_in_claims(live, browser) -> dict:
    """The claims the browser's session keeps: whom the web tier says the user signed in as."""
    return stored_session(live.state.redis, session_key(browser.cookie(SESSION_COOKIE)))["claims"]


def signed_in_cache_blob(emulator, http, browser) -> str:
    """Megan signed in with MSAL alone: her serialized token cache, as a worker would load it from the store."""
    cache = msal.SerializableTokenCache()
    app = confidential_app(emulator, http, WEB_CLIENT_ID, tenant="organizations", token_cache=cache)
    flow = app.initiate_auth_code_flow([API_SCOPE_READ], redirect_uri=REDIRECT_URI, response_mode="form_post")
    result = app.acquire_token_by_auth_code_flow(flow, authorization_response(pick_account(browser, flow["auth_uri"],
                                                                                           MEGAN)))
    assert "access_token" in result, result
    return cache.serialize()


def refresh_grants(control, since: int) -> list[dict]:
    return [e for e in control.requests(since) if e.get("grant_type") == "refresh_token"]


def test_two_instances_refreshing_one_user_at_once_keep_a_valid_refresh_token(start_app, new_browser, control,
                                                                             emulator, strict_rotation):
    control.settings(access_token_lifetime=SHORT_LIFETIME)
    first, second = start_app(), start_app()
    browser = new_browser()
    sign_in(browser, first, MEGAN, "/orders")
    cookie = browser.cookie(SESSION_COOKIE)
    mark = control.last_seq()
    statuses = get_all_at_once([f"{first.url}/orders", f"{second.url}/orders"] * PER_INSTANCE,
                               (SESSION_COOKIE, cookie), str(emulator.ca_path))
    assert statuses == [200] * 2 * PER_INSTANCE

    refreshes = refresh_grants(control, mark)
    assert len(refreshes) >= 2, "the pages did refresh (otherwise this test proves nothing)"
    assert [e for e in refreshes if e["status"] != 200] == [], "a refresh token was redeemed twice"
    # The user is still signed in, with a working refresh token, on both instances.
    for live in (first, second):
        assert browser.http.get(f"{live.url}/orders", allow_redirects=False).status_code == 200
    assert [e for e in refresh_grants(control, mark) if e["status"] != 200] == []


def test_two_refreshes_from_one_stale_cache_blob_lose_the_race(emulator, http, browser, control, strict_rotation):
    """The control: what the lock prevents, with MSAL alone: two workers holding the same cache blob
    both refresh, and under strict rotation the second loses."""
    control.settings(access_token_lifetime=SHORT_LIFETIME)
    blob = signed_in_cache_blob(emulator, http, browser)
    mark = control.last_seq()

    outcomes = []
    for _ in range(2):  # two workers, each loading the same blob from the store
        worker_cache = msal.SerializableTokenCache()
        worker_cache.deserialize(blob)
        worker = confidential_app(emulator, http, WEB_CLIENT_ID, tenant="organizations", token_cache=worker_cache)
        [account] = worker.get_accounts()
        outcomes.append(worker.acquire_token_silent_with_error([API_SCOPE_READ], account))

    assert "access_token" in outcomes[0] and outcomes[0]["token_source"] == "identity_provider"
    assert outcomes[1].get("error") == "invalid_grant", outcomes[1]
    assert 70043 in outcomes[1].get("error_codes", []), "refused because the refresh token was already used"
    assert [e["status"] for e in refresh_grants(control, mark)] == [200, 400]


def test_two_refreshes_from_one_stale_cache_blob_both_succeed_by_default(emulator, http, browser, control):
    """Entra's own behaviour (the emulator's default): the old refresh token still works."""
    control.settings(access_token_lifetime=SHORT_LIFETIME)
    blob = signed_in_cache_blob(emulator, http, browser)
    mark = control.last_seq()
    for _ in range(2):
        worker_cache = msal.SerializableTokenCache()
        worker_cache.deserialize(blob)
        worker = confidential_app(emulator, http, WEB_CLIENT_ID, tenant="organizations", token_cache=worker_cache)
        [account] = worker.get_accounts()
        outcome = worker.acquire_token_silent_with_error([API_SCOPE_READ], account)
        assert outcome and outcome.get("token_source") == "identity_provider", outcome
    assert [e["status"] for e in refresh_grants(control, mark)] == [200, 200]


@pytest.mark.parametrize("lock", ["with the lock", "without the lock"])
def test_the_partition_lock_serialises_refreshes_of_the_app(live, new_browser, control, monkeypatch, lock,
                                                            strict_rotation):
    """The app's own token acquisition, two threads from the same stale partition at once.

    Both threads read the partition before either refreshes (a barrier holds them). With the
    lock, the second re-reads under it and refreshes with the rotated token; without it
    (the lock replaced by a no-op), both redeem the same refresh token and one user request fails.
    """
    control.settings(access_token_lifetime=SHORT_LIFETIME)
    browser = new_browser()
    sign_in(browser, live, MEGAN, "/orders")
    megan = signed_in_claims(live, browser)
    store, user_tokens = live.state.web.token_caches, live.state.web.user_tokens
    together = threading.Barrier(2, timeout=10)
    real_load_raw, real_load = store.load_raw, store.load
    reads = threading.local()

    def load_raw(partition):  # the lock-free first read (load() reads through here too, later)
        raw = real_load_raw(partition)
        reads.count = getattr(reads, "count", 0) + 1
        if reads.count == 1:
            together.wait()  # meets the other thread's first read
        return raw

    def load(partition):  # the read meant to happen under the lock: without it, it meets the other's too
        cache = real_load(partition)
        if lock == "without the lock":
            together.wait()
        return cache

    monkeypatch.setattr(store, "load_raw", load_raw)
    monkeypatch.setattr(store, "load", load)
    if lock == "without the lock":
        monkeypatch.setattr(store, "locked", lambda partition, **kwargs: contextlib.nullcontext())
    mark = control.last_seq()

    def acquire(_):
        try:
            return user_tokens.acquire(MEGAN_PARTITION, [API_SCOPE_READ], signed_in=megan).access_token
        except InteractionRequired as exc:
            return exc

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(acquire, range(2)))

    statuses = [e["status"] for e in refresh_grants(control, mark)]
    if lock == "with the lock":
        assert all(isinstance(o, str) for o in outcomes), outcomes
        assert statuses == [200, 200]
    else:
        assert sum(isinstance(o, InteractionRequired) for o in outcomes) == 1, outcomes
        assert sorted(statuses) == [200, 400]


def test_a_slow_token_endpoint_does_not_let_the_lock_expire_under_its_holder(start_app, new_browser, control,
                                                                            emulator):
    """Security review, item 7: the lock is a lease renewed while its holder works. With a lease shorter
    than one refresh (the token endpoint answers slowly), two instances still redeem the refresh token
    once: the second waits for the first and uses what it stored."""
    control.settings(access_token_lifetime=SHORT_LIFETIME)
    first, second = start_app(), start_app()
    for live in (first, second):
        live.state.web.token_caches.lock_timeout = 0.6  # far shorter than the refresh below
    browser = new_browser()
    sign_in(browser, first, MEGAN, "/orders")
    cookie = browser.cookie(SESSION_COOKIE)
    control.settings(access_token_lifetime=3600)  # the refresh below brings a token that lasts
    control.fault("token", mode="slow", delay=1.5, count=1)
    mark = control.last_seq()
    statuses = get_all_at_once([f"{first.url}/orders", f"{second.url}/orders"], (SESSION_COOKIE, cookie),
                               str(emulator.ca_path))
    assert statuses == [200, 200]
    assert [e["status"] for e in refresh_grants(control, mark)] == [200], "one refresh token, redeemed once"
