"""Front-channel logout as Entra really sends it (security review, issue 17 item 5).

Entra loads the registered front-channel logout URL with ``sid`` alone: no ``iss``, although
OpenID Connect Front-Channel Logout 1.0 §2 asks for both (nginx-openid-connect #117,
mod_auth_openidc #855, microsoftgraph/msgraph-sample-rubyrailsapp #26). So the app accepts a
bare ``sid``, refuses an ``iss`` that is present but not one of its tenants' (ending nothing),
and gives a bare ``sid`` no more power than ending sessions: any app in the user's Entra
session learns the ``sid``, so the answer must not tell whether it matched anything.
"""

from __future__ import annotations

from tests.conftest import HOME_TENANT_ID

from .conftest import sign_in
from .test_sign_out_everywhere import (
    MEGAN,
    assert_signed_in,
    assert_signed_out,
    cookieless,  # noqa: F401 - fixture
    frontchannel,
    sign_out_at_entra,
)

# Headers that differ between any two responses, whatever they answer.
PER_RESPONSE = {"date", "x-request-id"}


def entra_shaped(frame: dict[str, str]) -> dict[str, str]:
    """What Entra puts on the front-channel URL: the session id, nothing else."""
    return {"sid": frame["sid"]}


def test_a_front_channel_call_with_sid_alone_ends_the_session(live, new_browser, emulator, control, cookieless,
                                                              redis_client):
    browser = new_browser()
    sign_in(browser, live, MEGAN, "/profile")
    params = entra_shaped(sign_out_at_entra(browser, emulator, control))
    assert_signed_in(browser, live)

    response = frontchannel(cookieless, live, params)
    assert response.status_code == 200
    assert not redis_client.keys("session:*")
    assert not redis_client.keys("tokencache:user:*")
    assert_signed_out(browser, live, emulator)  # the next page is the sign-in redirect


def test_a_present_but_wrong_iss_ends_nothing(live, new_browser, emulator, control, cookieless, redis_client):
    browser = new_browser()
    sign_in(browser, live, MEGAN, "/profile")
    params = entra_shaped(sign_out_at_entra(browser, emulator, control))
    for wrong in ("https://evil.example/", f"{emulator.url}/33333333-3333-4333-8333-333333333333/v2.0",
                  f"https://login.microsoftonline.com/{HOME_TENANT_ID}/v2.0", ""):
        response = frontchannel(cookieless, live, {**params, "iss": wrong})
        assert response.status_code == 400, wrong
        assert_signed_in(browser, live)
    assert redis_client.keys("session:*") and redis_client.keys("tokencache:user:*")


def test_the_answer_is_the_same_whether_the_sid_matched_a_session_or_not(live, new_browser, emulator, control,
                                                                          cookieless, redis_client):
    browser = new_browser()
    sign_in(browser, live, MEGAN, "/profile")
    params = entra_shaped(sign_out_at_entra(browser, emulator, control))
    unknown = frontchannel(cookieless, live, {"sid": "6f0c1d2e-3b4a-4c5d-8e6f-7a8b9c0d1e2f"})  # no such session
    assert redis_client.keys("session:*"), "an unknown sid ends nothing"
    known = frontchannel(cookieless, live, params)
    assert not redis_client.keys("session:*"), "the control: this one did end the session"
    replayed = frontchannel(cookieless, live, params)  # a sid whose sessions are gone already

    for other in (unknown, replayed):
        assert other.status_code == known.status_code == 200
        assert other.content == known.content
        assert _headers(other) == _headers(known)


def _headers(response) -> list[tuple[str, str]]:
    """Every header as sent (names, values and order), but those unique to each response."""
    return [(k, v) for k, v in response.raw.headers.items() if k.lower() not in PER_RESPONSE]
