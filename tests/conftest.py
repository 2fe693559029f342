"""Shared fixtures: the emulator over real HTTPS, a real Redis server, MSAL helpers."""

from __future__ import annotations

import os
import re
from pathlib import Path

import msal
from cryptography.fernet import Fernet
import pytest
import redis as redis_lib
import requests

from entra_auth.http import build_http_session
from entra_emulator import EmulatorServer
from localdev.embedded_redis import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parent.parent
APP_BASE_URL = "http://localhost:5000"
# Ports for app servers that tests start themselves (over HTTPS, as in production);
# reserved now because the emulator registers their redirect URIs at start.
LIVE_APP_PORTS = [free_port() for _ in range(3)]
LIVE_APP_URLS = [f"https://localhost:{port}" for port in LIVE_APP_PORTS]
# One token-cache key for the whole run: several app instances share Redis, as in production.
TEST_TOKEN_CACHE_KEY = Fernet.generate_key().decode()

API_CLIENT_ID = "6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8"
WEB_CLIENT_ID = "0d9e8f7a-6b5c-4d3e-9f2a-1b0c9d8e7f6a"
DAEMON_CLIENT_ID = "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716"
GRAPH_CLIENT_ID = "00000003-0000-0000-c000-000000000000"
HOME_TENANT_ID = "11111111-1111-4111-8111-111111111111"
FOREIGN_TENANT_ID = "22222222-2222-4222-8222-222222222222"
SECRETS = {
    API_CLIENT_ID: "dev-only-orders-api-secret",
    WEB_CLIENT_ID: "dev-only-orders-web-secret",
    DAEMON_CLIENT_ID: "dev-only-daemon-secret",
}
MI_CLIENT_ID = "e0000005-0000-4000-8000-000000000001"  # the user-assigned identity with federated credentials
API_SCOPE_READ = f"api://{API_CLIENT_ID}/Orders.Read"
API_SCOPE_WRITE = f"api://{API_CLIENT_ID}/Orders.Write"
API_DEFAULT = f"api://{API_CLIENT_ID}/.default"
GRAPH_USER_READ = "https://graph.microsoft.com/User.Read"
REDIRECT_URI = f"{APP_BASE_URL}/auth/callback"


@pytest.fixture(scope="session", autouse=True)
def _hostile_ca_environment():
    """Some machines set REQUESTS_CA_BUNDLE; trusting the emulator must work regardless."""
    old = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = requests.certs.where()
    yield
    if old is None:
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
    else:
        os.environ["REQUESTS_CA_BUNDLE"] = old


@pytest.fixture(scope="session")
def emulator(tmp_path_factory) -> EmulatorServer:
    state_dir = tmp_path_factory.mktemp("entra-emulator")
    server = EmulatorServer(port=0, state_dir=state_dir, app_base_urls=[APP_BASE_URL, *LIVE_APP_URLS]).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset_emulator(request):
    """Each test starts with no faults, no revocations and an empty request log."""
    if "emulator" in request.fixturenames:
        emulator = request.getfixturevalue("emulator")
        emulator.emulator.state.reset()
    yield


@pytest.fixture(scope="session")
def http(emulator) -> requests.Session:
    """An HTTP client trusting the emulator's CA (the app's own client builder)."""
    return build_http_session(str(emulator.ca_path))


@pytest.fixture
def browser(emulator) -> requests.Session:
    """A cookie-keeping client: one 'browser' per test."""
    return build_http_session(str(emulator.ca_path))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.stop()


@pytest.fixture
def redis_client(redis_server):
    client = redis_lib.Redis.from_url(redis_server, socket_timeout=2)
    client.flushdb()
    yield client
    client.close()


class Control:
    """The emulator's test-control surface, over HTTPS like any client."""

    def __init__(self, emulator: EmulatorServer, http: requests.Session):
        self.base = f"{emulator.url}/_emulator"
        self.http = http

    def _post(self, path: str, body: dict | None = None) -> dict:
        resp = self.http.post(f"{self.base}{path}", json=body or {})
        assert resp.status_code in (200, 201, 204), resp.text
        return resp.json() if resp.content else {}

    def revoke(self, user: str) -> dict:
        return self._post(f"/users/{user}/revoke")

    def rotate_keys(self, *, emergency: bool = False) -> dict:
        return self._post("/keys/rotate", {"emergency": emergency})

    def retire_keys(self) -> dict:
        return self._post("/keys/retire")

    def fault(self, endpoint: str, **kwargs) -> dict:
        return self._post("/faults", {"endpoint": endpoint, **kwargs})

    def token_fault(self, fault: str, **kwargs) -> dict:
        return self._post("/token-faults", {"fault": fault, **kwargs})

    def settings(self, **kwargs) -> dict:
        return self._post("/settings", kwargs)

    def access_token_version(self, registration: str, version: int) -> dict:
        """Make a registration's access tokens v1.0 or v2.0 until the next reset."""
        return self._post(f"/registrations/{registration}", {"access_token_version": version})

    def optional_claims(self, registration: str, claims: list[str]) -> dict:
        """Set the access-token optional claims a registration requests (e.g. ["idtyp"]) until the next reset."""
        return self._post(f"/registrations/{registration}", {"optional_claims": claims})

    def age_refresh_tokens(self, seconds: float, **kwargs) -> dict:
        """Make refresh tokens look issued ``seconds`` earlier (``client_id``/``user`` narrow it;
        ``end_sessions=True`` also ends those users' emulator sessions): a SPA's expire after 24 h."""
        return self._post("/refresh-tokens/age", {"seconds": seconds, **kwargs})
    def group_membership_claims(self, registration: str, value: str) -> dict:
        """Set a registration's groupMembershipClaims (None, SecurityGroup, All, ApplicationGroup) until the next reset."""
        return self._post(f"/registrations/{registration}/group-membership-claims", {"value": value})

    def membership(self, group: str, *, user: str | None = None, member_group: str | None = None,
                   present: bool = True) -> dict:
        """Add (or with present=False remove) a user or a nested group as a member of ``group`` until the next reset."""
        member = {"user": user} if user is not None else {"group": member_group}
        return self._post(f"/groups/{group}/members", {**member, "remove": not present})

    def set_roles(self, user: str, roles: list[str]) -> dict:
        resp = self.http.put(f"{self.base}/users/{user}/roles", json={"roles": roles})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def requests(self, since: int = 0) -> list[dict]:
        return self.http.get(f"{self.base}/requests", params={"since": since}).json()["requests"]

    def last_seq(self) -> int:
        entries = self.requests()
        return entries[-1]["seq"] if entries else 0


@pytest.fixture
def control(emulator, http) -> Control:
    return Control(emulator, http)


def confidential_app(emulator, http, client_id: str, *, credential=None, tenant: str = HOME_TENANT_ID,
                     token_cache=None) -> msal.ConfidentialClientApplication:
    """An unmodified MSAL confidential client pointed at the emulator."""
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential if credential is not None else SECRETS[client_id],
        authority=f"{emulator.url}/{tenant}",
        http_client=http,
        instance_discovery=False,  # a non-Microsoft authority host
        token_cache=token_cache,
    )


HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def pick_account(browser: requests.Session, auth_uri: str, username: str) -> requests.Response:
    """Open the authorize URL like a browser and pick ``username`` on the account page.

    Returns the emulator's final response: a form_post page, or a redirect (not followed).
    """
    page = browser.get(auth_uri, allow_redirects=False)
    match = re.search(r'name="request_id" value="([^"]+)"', page.text)
    if match is None:  # signed in already (SSO) or an error: hand back what came
        return page
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    base = auth_uri.split("/", 3)
    return browser.post(f"{base[0]}//{base[2]}{action}", data={"request_id": match.group(1), "username": username},
                        allow_redirects=False)


def authorization_response(resp: requests.Response) -> dict[str, str]:
    """The code/state/error the emulator sent back, from a form_post page or a redirect."""
    import html
    from urllib.parse import parse_qsl, urlsplit

    if resp.status_code in (302, 303):
        location = resp.headers["Location"]
        parts = urlsplit(location)
        return dict(parse_qsl(parts.fragment or parts.query))
    return {k: html.unescape(v) for k, v in HIDDEN_INPUT.findall(resp.text)}


def sign_in_with_msal(emulator, http, browser, username: str, scopes: list[str], *, client_id: str = WEB_CLIENT_ID,
                      tenant: str = "organizations", response_mode: str = "form_post", **flow_kwargs):
    """A whole authorization-code + PKCE sign-in with unmodified MSAL; returns (app, flow, result)."""
    app = confidential_app(emulator, http, client_id, tenant=tenant)
    flow = app.initiate_auth_code_flow(scopes, redirect_uri=REDIRECT_URI, response_mode=response_mode, **flow_kwargs)
    auth_response = authorization_response(pick_account(browser, flow["auth_uri"], username))
    result = app.acquire_token_by_auth_code_flow(flow, auth_response)
    return app, flow, result


def app_settings(emulator, redis_url: str, **overrides) -> dict:
    """Test configuration pointing the app at the session's emulator and Redis."""
    creds = emulator.emulator.certificates
    return {
        "APP_ENV": "testing",
        "ENTRA_AUTHORITY_HOST": emulator.url,
        "ENTRA_CA_BUNDLE": str(emulator.ca_path),
        "ENTRA_CLIENT_CERTIFICATE_PATH": str(creds["orders-web"].path),
        "API_CLIENT_CERTIFICATE_PATH": str(creds["orders-api"].path),
        "DAEMON_CLIENT_CERTIFICATE_PATH": str(creds["daemon"].path),
        "DOWNSTREAM_API_BASE_URL": f"{emulator.url}/v1.0",
        "GRAPH_API_BASE_URL": f"{emulator.url}/v1.0",
        "REDIS_URL": redis_url,
        "TOKEN_CACHE_KEYS": [TEST_TOKEN_CACHE_KEY],
        **overrides,
    }


@pytest.fixture
def app(emulator, redis_server, redis_client):
    from app import create_app

    return create_app(app_settings(emulator, redis_server))


@pytest.fixture
def client(app):
    return app.test_client()
