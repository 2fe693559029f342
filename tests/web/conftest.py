"""Fixtures of the web tier's acceptance tests: the app served over real HTTPS
on loopback (as in production, cookies Secure and ``__Host-``), the emulator
as the identity provider, a real Redis, and a cookie-keeping HTTP "browser"
that follows the real redirects and posts the emulator's pages."""

from __future__ import annotations

import html
import re
import ssl
import threading
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from werkzeug.serving import make_server

from entra_auth.http import build_http_session
from tests.conftest import LIVE_APP_PORTS, LIVE_APP_URLS, app_settings

FORM = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


class LiveApp:
    """One app instance served by werkzeug over HTTPS in a thread of the test process."""

    def __init__(self, app, port: int, cert_path: str):
        self.app = app
        self.port = port
        self.url = f"https://localhost:{port}"
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path)
        self._server = make_server("127.0.0.1", port, app, threaded=True, ssl_context=context)
        # A short poll interval: shutdown() waits for it (0.5 s by default, per test).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def state(self):
        return self.app.extensions["entra_auth"]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class Browser:
    """A cookie-keeping client that behaves like a user's browser at the HTTP level.

    It follows redirects itself (recording them), answers the emulator's account
    picker with a chosen user, and submits its ``form_post`` page as the page's
    script would.
    """

    def __init__(self, ca_path: str):
        self.http: requests.Session = build_http_session(ca_path)
        self.history: list[requests.Response] = []

    def get(self, url: str, *, as_user: str | None = None, **kwargs) -> requests.Response:
        return self.follow(self.http.get(url, allow_redirects=False, **kwargs), as_user=as_user)

    def post(self, url: str, data: dict | None = None, *, as_user: str | None = None, **kwargs) -> requests.Response:
        """A form post as a browser sends it from a page of the same site (with its Referer)."""
        headers = {"Referer": url, **kwargs.pop("headers", {})}
        return self.follow(self.http.post(url, data=data, headers=headers, allow_redirects=False, **kwargs),
                           as_user=as_user)

    def follow(self, response: requests.Response, *, as_user: str | None = None) -> requests.Response:
        """Follow redirects, pick ``as_user`` on the emulator's picker, submit form_post pages."""
        for _ in range(20):
            self.history.append(response)
            if response.status_code in (301, 302, 303, 307, 308):
                target = urljoin(response.url, response.headers["Location"])
                response = self.http.get(target, allow_redirects=False)
                continue
            page = response.text if "text/html" in response.headers.get("Content-Type", "") else ""
            if 'id="response-form"' in page:  # the emulator's form_post page: its script submits it
                action, fields = self.form(page)
                response = self.http.post(action, data=fields, allow_redirects=False)
                continue
            if as_user and 'name="request_id"' in page:  # the account picker
                action, fields = self.form(page, base=response.url)
                response = self.http.post(action, data={**fields, "username": as_user}, allow_redirects=False)
                continue
            return response
        raise AssertionError("too many redirects")

    @staticmethod
    def form(page: str, base: str | None = None) -> tuple[str, dict[str, str]]:
        action, body = FORM.search(page).groups()
        fields = {k: html.unescape(v) for k, v in HIDDEN.findall(body)}
        action = html.unescape(action)
        return (urljoin(base, action) if base else action), fields

    def csrf_token(self, page_url: str) -> str:
        page = self.http.get(page_url, allow_redirects=False).text
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, "the page carries a CSRF token"
        return match.group(1)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.http.cookies if c.name == name), None)


@pytest.fixture
def start_app(emulator, redis_server, redis_client):
    """Start app instances (up to three at once) on the ports the emulator knows."""
    from app import create_app

    started: list[LiveApp] = []
    cert_path = str(emulator.emulator.ca.server_certificate(["127.0.0.1", "localhost", "::1"]))

    def start(**overrides) -> LiveApp:
        port = LIVE_APP_PORTS[len(started)]
        app = create_app(app_settings(emulator, redis_server, PUBLIC_BASE_URL=LIVE_APP_URLS[len(started)],
                                      **overrides))
        live = LiveApp(app, port, cert_path)
        started.append(live)
        return live

    yield start
    for live in started:
        live.stop()


@pytest.fixture
def live(start_app) -> LiveApp:
    return start_app()


@pytest.fixture
def new_browser(emulator):
    made: list[Browser] = []

    def make() -> Browser:
        b = Browser(str(emulator.ca_path))
        made.append(b)
        return b

    yield make
    for b in made:
        b.http.close()


@pytest.fixture
def user_browser(new_browser):
    return new_browser()


def sign_in(browser: Browser, live: LiveApp, username: str, next_path: str = "/") -> requests.Response:
    """The whole sign-in, from the app's sign-in link to the page the user asked for."""
    response = browser.get(f"{live.url}/auth/login?next={next_path}", as_user=username)
    assert response.status_code == 200, (response.status_code, response.text[:500])
    assert urlsplit(response.url).path == urlsplit(f"{live.url}{next_path}").path
    return response
