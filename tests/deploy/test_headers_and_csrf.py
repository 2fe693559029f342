"""Security headers on every page a browser can get (anonymous, signed in, errors, redirects, JSON,
static), HSTS in production, and CSRF refusals for state-changing forms."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from app import create_app
from tests.conftest import API_CLIENT_ID, HOME_TENANT_ID

from ..web.conftest import sign_in
from .conftest import MEGAN, assert_hardened, fernet_key, strong_secret_key

ADELE = "adele@contoso.example"


def test_every_page_is_hardened_anonymous_and_signed_in(live, new_browser, emulator):
    browser = new_browser()
    http = browser.http
    anonymous = [http.get(f"{live.url}{path}", allow_redirects=False) for path in (
        "/", "/healthz", "/readyz", "/no-such-page", "/auth/login?next=/orders", "/profile", "/orders", "/admin")]
    anonymous.append(http.get(f"{live.url}/api/orders"))  # 401 JSON
    anonymous.append(http.post(f"{live.url}/orders", data={"item": "x"}, headers={"Referer": f"{live.url}/"}))
    assert [r.status_code for r in anonymous] == [200, 200, 200, 404, 302, 302, 302, 302, 401, 400]
    for response in anonymous:
        assert_hardened(response)
    assert_hardened(http.get(f"{live.url}/static/app.css"), static=True)

    sign_in(browser, live, MEGAN, "/profile")
    signed_in = [http.get(f"{live.url}{path}", allow_redirects=False) for path in ("/", "/profile", "/orders", "/admin")]
    assert [r.status_code for r in signed_in] == [200, 200, 200, 403]
    assert "Megan Bowen" in signed_in[1].text
    for response in signed_in:
        assert_hardened(response)
        assert response.headers["Cache-Control"] == "no-store", "a per-user page is never stored by any cache"
    # Entra's front-channel logout is loaded in an iframe of the identity provider, and only there.
    frame = http.get(f"{live.url}/auth/logout/frontchannel", params={"sid": "no-such-sid"})
    assert frame.status_code == 200
    assert_hardened(frame, frameable_by=emulator.url)


def test_production_sends_hsts_on_every_page(emulator, redis_server, redis_client, tmp_path):
    # Production refuses the emulator, so this app names Entra itself; the pages checked here
    # never call the identity provider (no network), they only have to carry the headers.
    app = create_app({
        "APP_ENV": "production", "SECRET_KEY": strong_secret_key(), "TOKEN_CACHE_KEYS": [fernet_key()],
        "REDIS_URL": redis_server, "ENTRA_AUTHORITY_HOST": "https://login.microsoftonline.com",
        "ENTRA_TENANT_ID": HOME_TENANT_ID, "ENTRA_CLIENT_ID": "0d9e8f7a-6b5c-4d3e-9f2a-1b0c9d8e7f6a",
        "ENTRA_CLIENT_CERTIFICATE_PATH": str(emulator.emulator.certificates["orders-web"].path),
        "API_CLIENT_ID": API_CLIENT_ID, "API_AUDIENCE": [API_CLIENT_ID],
        "API_CLIENT_CERTIFICATE_PATH": str(emulator.emulator.certificates["orders-api"].path),
        "PUBLIC_BASE_URL": "https://orders.contoso.example", "LOG_FORMAT": "none",
    })
    client = app.test_client()
    for path, status in (("/", 200), ("/healthz", 200), ("/no-such-page", 404), ("/api/orders", 401),
                         ("/static/app.css", 200)):
        with client.get(path, base_url="https://orders.contoso.example") as response:
            assert response.status_code == status, path
            # The few attributes assert_hardened reads from a requests.Response.
            seen = SimpleNamespace(headers=response.headers, text=response.get_data(as_text=True),
                                   status_code=response.status_code, url=f"https://orders.contoso.example{path}",
                                   request=SimpleNamespace(method="GET"))
        assert_hardened(seen, static=path.startswith("/static/"), hsts=True)


# -- CSRF ---------------------------------------------------------------------------------------------

@pytest.fixture
def two_users(live, new_browser):
    megan, adele = new_browser(), new_browser()
    sign_in(megan, live, MEGAN, "/orders")
    sign_in(adele, live, ADELE, "/orders")
    return megan, adele


FORM_EXPIRED = "This form has expired"


@pytest.mark.parametrize("path", ["/orders", "/auth/logout"])
def test_a_form_post_without_the_sessions_own_token_is_refused(live, two_users, caplog, path):
    megan, adele = two_users
    adeles_token = adele.csrf_token(f"{live.url}/orders")
    megans_token = megan.csrf_token(f"{live.url}/orders")
    assert adeles_token != megans_token
    form = {"item": "Stapler", "quantity": "1", "note": ""}
    attempts = {
        "The CSRF token is missing.": form,
        "The CSRF token is invalid.": {**form, "csrf_token": "not-a-token"},
        "The CSRF tokens do not match.": {**form, "csrf_token": adeles_token},  # valid, but another session's
    }
    for reason, data in attempts.items():
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="flask_wtf.csrf"):
            response = megan.http.post(f"{live.url}{path}", data=data, headers={"Referer": f"{live.url}/orders"},
                                       allow_redirects=False)
        assert response.status_code == 400 and FORM_EXPIRED in response.text, reason
        assert [r.getMessage() for r in caplog.records if r.name == "flask_wtf.csrf"] == [reason]
        assert_hardened(response)
    # Nothing was done, nothing lost: still signed in, no order placed, the session intact.
    page = megan.http.get(f"{live.url}/orders", allow_redirects=False)
    assert page.status_code == 200 and "Stapler" not in page.text

    accepted = megan.http.post(f"{live.url}{path}", data={**form, "csrf_token": megans_token},
                               headers={"Referer": f"{live.url}/orders"}, allow_redirects=False)
    assert accepted.status_code == 302
    location = urlsplit(accepted.headers["Location"])
    if path == "/orders":  # accepted: Orders.Write is asked for on first use (incremental consent)
        assert location.path.endswith("/oauth2/v2.0/authorize")
        assert f"api://{API_CLIENT_ID}/Orders.Write" in parse_qs(location.query)["scope"][0]
    else:  # accepted: signed out here, then at Entra
        assert location.path.endswith("/oauth2/v2.0/logout")
        assert megan.http.get(f"{live.url}/orders", allow_redirects=False).status_code == 302
    # The other user was never affected.
    assert adele.http.get(f"{live.url}/orders", allow_redirects=False).status_code == 200
