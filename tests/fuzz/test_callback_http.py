"""The sign-in callback and the front-channel logout through the Flask test client.

The properties:

* whatever arrives at ``/auth/callback`` — any form fields on POST, any query
  on GET, the flow's real ``state`` with anything else, no sign-in cookie, a
  garbage one, a spent one, or the live one of a real flow started by
  ``/auth/login`` — the answer is the 400 "Sign-in could not be completed"
  page, or, for an ``error=`` carrying the live flow's own state, a 303 to
  ``/auth/signin-ended`` with only the app's own words in it: never a 5xx, never a session (no ``session:*`` entry holding claims
  appears in Redis, no session cookie is set);
* ``/auth/logout/frontchannel`` with any ``sid`` and ``iss`` answers 200 or
  400 in plain text, never a 5xx, and ends no session but the one its ``sid``
  names.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from blueprints.sign_in_endings import ENDINGS
from tests.conftest import HOME_TENANT_ID
from tests.stored_records import stored_session

from .budget import budget
from .flows import SESSION_COOKIE, SIGNIN_COOKIE, set_cookie, sign_in, signed_in_sessions, start_sign_in, stored_flow
from .strategies import latin1

REFUSED = "Sign-in could not be completed"


# -- /auth/callback --------------------------------------------------------------------------------

OTHER_FIELDS = ["error_description", "error_uri", "error_subcode", "client_info", "session_state", "id_token",
                "access_token", "nonce", "iss", "admin_consent", "scope", "claims", "correlation_id", "code_verifier"]
values = st.one_of(st.text(max_size=200),
                   st.sampled_from(["", " ", "0", "null", "eyJhbGciOiJub25lIn0.e30.", "x" * 5000]))
# code, error and state are drawn on their own, each absent now and then.
code_like = st.one_of(values, st.text(alphabet="0123456789abcdefABCDEF-_.", min_size=20, max_size=80))
codes = st.one_of(st.none(), code_like)
errors = st.one_of(st.none(), st.none(), values, st.sampled_from(["access_denied", "interaction_required",
                                                                   "consent_required", "login_required"]))
extra_fields = st.dictionaries(st.one_of(st.sampled_from(OTHER_FIELDS), st.text(max_size=15)), values, max_size=4)
cookie_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xff, exclude_characters=';",\\'),
                        max_size=150)


@budget(150)
@given(data=st.data(), extra=extra_fields, method=st.sampled_from(["POST", "GET"]),
       to_provider=st.sampled_from([False] * 5 + [True]))  # 1 in 6: a redemption costs ~90 ms
def test_any_callback_is_refused_with_the_400_page_and_creates_no_session(
        fuzz_client, fuzz_redis, data, extra, method, to_provider):
    if to_provider:
        # The flow's own browser and state with a code that is not one: redeemed (and refused) at the provider.
        cookie_kind, state_kind, error = data.draw(st.sampled_from(["live", "live+garbage-session"])), "real", None
        code = data.draw(code_like.filter(bool), label="code")
    else:
        cookie_kind = data.draw(st.sampled_from(["live", "none", "garbage", "spent", "live+garbage-session"]))
        state_kind = data.draw(st.sampled_from(["real", "absent", "drawn", "real, spaced", "real, twice",
                                                "real, case"]))
        code, error = data.draw(codes, label="code"), data.draw(errors, label="error")
    before = signed_in_sessions(fuzz_redis)
    cookie, state = start_sign_in(fuzz_client)
    form = dict(extra)
    form.update({k: v for k, v in (("code", code), ("error", error)) if v is not None})
    if state_kind == "drawn":
        form["state"] = data.draw(values, label="state")
    elif state_kind != "absent":
        form["state"] = {"real": state, "real, spaced": f" {state} ", "real, twice": state + state,
                         "real, case": state.swapcase()}[state_kind]
    cookies = []
    if cookie_kind.startswith("live"):
        cookies.append(f"{SIGNIN_COOKIE}={cookie}")
    elif cookie_kind == "garbage":
        cookies.append(f"{SIGNIN_COOKIE}={data.draw(cookie_values, label='cookie')}")
    elif cookie_kind == "spent":
        spent, spent_state = start_sign_in(fuzz_client)
        fuzz_client.get("/auth/callback", query_string={"state": spent_state},
                        headers={"Cookie": f"{SIGNIN_COOKIE}={spent}"})
        cookies.append(f"{SIGNIN_COOKIE}={spent}")
    if cookie_kind.endswith("garbage-session"):
        cookies.append(f"{SESSION_COOKIE}={data.draw(cookie_values, label='session cookie')}")
    headers = {"Cookie": "; ".join(cookies)} if cookies else {}
    reaches_provider = cookie_kind.startswith("live") and state_kind == "real" and bool(code) and not error
    event("code redeemed at the provider" if reaches_provider else f"{cookie_kind} cookie, {state_kind} state")

    if method == "POST":
        resp = fuzz_client.post("/auth/callback", data=form, headers=headers)
    else:
        resp = fuzz_client.get("/auth/callback", query_string=form, headers=headers)

    if cookie_kind.startswith("live") and state_kind == "real" and error:
        # Entra ended this very sign-in: our page about it, reached by a redirect that holds our words only.
        assert resp.status_code == 303, (resp.status_code, resp.data[:300])
        ended = urlsplit(resp.headers["Location"])
        query = parse_qs(ended.query)
        assert ended.path == "/auth/signin-ended" and set(query) == {"reason", "ref"}
        assert query["reason"][0] in ENDINGS
    else:
        assert resp.status_code == 400, (resp.status_code, resp.data[:300])
        assert resp.mimetype == "text/html"
        text = resp.get_data(as_text=True)
        assert REFUSED in text and "Traceback" not in text
    assert set_cookie(resp, SESSION_COOKIE) in (None, ""), "a session cookie was handed out"
    assert signed_in_sessions(fuzz_redis) == before, "a session was created"
    if cookie_kind.startswith("live"):
        # The flow was spent by this attempt: the same cookie never gets a second try.
        assert stored_flow(fuzz_redis, cookie) is None


def test_the_callback_property_can_see_a_sign_in(fuzz_client, fuzz_redis, idp):
    """The control for the property above: a real callback does create a session, and the check sees it."""
    before = signed_in_sessions(fuzz_redis)
    resp = sign_in(fuzz_client, idp)
    assert resp.status_code == 302 and set_cookie(resp, SESSION_COOKIE)
    assert len(signed_in_sessions(fuzz_redis) - before) == 1


# -- /auth/logout/frontchannel ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def signed_in(fuzz_client, idp, fuzz_redis) -> tuple[bytes, str]:
    """A signed-in session (its Redis key) and Entra's ``sid`` for it."""
    before = signed_in_sessions(fuzz_redis)
    sign_in(fuzz_client, idp)
    [key] = signed_in_sessions(fuzz_redis) - before
    return key, stored_session(fuzz_redis, key)["_entra_sid"]


@budget(150)
@given(data=st.data(), sid=st.one_of(st.text(max_size=220), st.text(latin1, max_size=40), st.just("")))
def test_any_frontchannel_logout_answers_plainly_and_ends_only_its_sid(fuzz_app, fuzz_client, fuzz_redis, signed_in,
                                                                       data, sid):
    key, entra_sid = signed_in
    ours = f"{fuzz_app.config['ENTRA_AUTHORITY_HOST'].rstrip('/')}/{HOME_TENANT_ID}/v2.0"
    iss = data.draw(st.one_of(st.none(), st.just(ours), st.text(max_size=80),
                              st.sampled_from(["", ours + "/", ours.upper(), f"https://sts.windows.net/{HOME_TENANT_ID}/"])),
                    label="iss")
    query = {"sid": sid} if iss is None else {"sid": sid, "iss": iss}
    resp = fuzz_client.get("/auth/logout/frontchannel", query_string=query)
    event(f"{resp.status_code}")
    assert resp.status_code in (200, 400), (resp.status_code, resp.data[:200])
    assert resp.mimetype == "text/plain"
    if sid != entra_sid:
        assert fuzz_redis.exists(key), "a session of another sid was ended"
