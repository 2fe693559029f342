"""Behind a proxy: the redirect URI sent to Entra is https://<the proxy's host>/auth/callback with
TRUSTED_PROXY_HOPS=1; a client's spoofed X-Forwarded-Host cannot change it; with 0 hops the
forwarded headers are ignored; with PUBLIC_BASE_URL set, headers never matter."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from app import create_app
from tests.conftest import app_settings

PROXY_ADDR = "10.0.0.7"  # the PaaS front end, the only peer the app sees
PUBLIC_HOST = "orders.contoso.example"


@pytest.fixture
def make_client(emulator, redis_server, redis_client):
    def make(**overrides):
        return create_app(app_settings(emulator, redis_server, **overrides)).test_client()

    return make


def redirect_uri_sent_to_entra(client, headers: dict[str, str]) -> str:
    response = client.get("/auth/login?next=/orders", headers=headers, environ_base={"REMOTE_ADDR": PROXY_ADDR})
    assert response.status_code == 302, response.data[:300]
    location = urlsplit(response.headers["Location"])
    assert location.path.endswith("/oauth2/v2.0/authorize")
    [uri] = parse_qs(location.query)["redirect_uri"]
    return uri


FROM_PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": PUBLIC_HOST, "X-Forwarded-For": "203.0.113.9"}


def test_one_trusted_hop_gives_an_https_redirect_uri_on_the_public_host(make_client):
    client = make_client(TRUSTED_PROXY_HOPS=1)
    assert redirect_uri_sent_to_entra(client, FROM_PROXY) == f"https://{PUBLIC_HOST}/auth/callback"
    # Without the proxy's headers the app would have sent what it sees itself: plain http, its own host.
    assert redirect_uri_sent_to_entra(client, {}) == "http://localhost/auth/callback"


@pytest.mark.parametrize(
    "spoofed",
    [
        # The client sent its own X-Forwarded-* and the proxy appended the real values.
        {"X-Forwarded-Proto": "http, https", "X-Forwarded-Host": f"evil.example, {PUBLIC_HOST}",
         "X-Forwarded-For": "198.51.100.1, 203.0.113.9"},
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": f"evil.example:8443, {PUBLIC_HOST}",
         "X-Forwarded-For": "203.0.113.9"},
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": f"{PUBLIC_HOST}/evil?, {PUBLIC_HOST}",
         "X-Forwarded-For": "203.0.113.9"},
    ],
)
def test_a_spoofed_forwarded_host_from_the_client_is_ignored(make_client, spoofed):
    client = make_client(TRUSTED_PROXY_HOPS=1)
    assert redirect_uri_sent_to_entra(client, spoofed) == f"https://{PUBLIC_HOST}/auth/callback"


def test_zero_hops_ignores_forwarded_headers(make_client):
    client = make_client(TRUSTED_PROXY_HOPS=0)
    headers = {**FROM_PROXY, "X-Forwarded-Host": "evil.example", "X-Forwarded-Port": "8443"}
    assert redirect_uri_sent_to_entra(client, headers) == "http://localhost/auth/callback"


@pytest.mark.parametrize("hops", [0, 1, 2])
def test_public_base_url_wins_over_any_header(make_client, hops):
    client = make_client(TRUSTED_PROXY_HOPS=hops, PUBLIC_BASE_URL=f"https://{PUBLIC_HOST}")
    for headers in ({}, FROM_PROXY, {"X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example",
                                     "X-Forwarded-Prefix": "/evil", "X-Forwarded-Port": "8443"},
                    {"Host": "evil.example"}):
        assert redirect_uri_sent_to_entra(client, headers) == f"https://{PUBLIC_HOST}/auth/callback", headers
