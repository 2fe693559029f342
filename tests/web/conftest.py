"""Fixtures of the web tier's acceptance tests: the app served over real HTTPS
on loopback (as in production, cookies Secure and ``__Host-``), the emulator
as the identity provider, a real Redis, and a cookie-keeping HTTP "browser"
that follows the real redirects and posts the emulator's pages."""

from __future__ import annotations

import functools
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests
from werkzeug.serving import make_server

from entra_auth.http import build_http_session
from localdev.browser import Browser  # noqa: F401 - tests import it from here too
from tests.conftest import LIVE_APP_PORTS, LIVE_APP_URLS, app_settings



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


@contextmanager
def live_apps(emulator, settings_for: Callable[..., dict]) -> Iterator[Callable[..., LiveApp]]:
    """``start(**overrides)`` serves an app (up to three at once) over HTTPS on the ports the emulator knows,
    with ``settings_for(PUBLIC_BASE_URL=<its URL>, **overrides)``; all are stopped on the way out."""
    from app import create_app

    started: list[LiveApp] = []
    cert_path = str(emulator.emulator.ca.server_certificate(["127.0.0.1", "localhost", "::1"]))

    def start(**overrides) -> LiveApp:
        index = len(started)
        settings = settings_for(**{"PUBLIC_BASE_URL": LIVE_APP_URLS[index], **overrides})
        live = LiveApp(create_app(settings), LIVE_APP_PORTS[index], cert_path)
        started.append(live)
        return live

    try:
        yield start
    finally:
        for live in started:
            live.stop()


@pytest.fixture
def start_app(emulator, redis_server, redis_client):
    """Start app instances (up to three at once) on the ports the emulator knows."""
    with live_apps(emulator, functools.partial(app_settings, emulator, redis_server)) as start:
        yield start


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


TOKEN_FIELDS = ("access_token", "refresh_token", "id_token")


def record_tokens(*instances: LiveApp) -> list[str]:
    """Every token the instances receive from the token endpoint, recorded from their own HTTP client."""
    tokens: list[str] = []

    def hook(response, *args, **kwargs):
        if urlsplit(response.url).path.endswith("/oauth2/v2.0/token") and response.status_code == 200:
            body = response.json()
            tokens.extend(body[f] for f in TOKEN_FIELDS if isinstance(body.get(f), str))
        return response

    for live in instances:
        live.state.http.hooks["response"].append(hook)
    return tokens


def get_all_at_once(urls: list[str], cookie: tuple[str, str], ca_path: str, *, timeout: float = 10) -> list[int]:
    """GET every URL from its own client, all released together (a barrier), with one session cookie;
    returns the statuses in order."""
    together = threading.Barrier(len(urls), timeout=timeout)
    name, value = cookie

    def get(url: str) -> int:
        with build_http_session(ca_path) as http:
            together.wait()
            return http.get(url, headers={"Cookie": f"{name}={value}"}, allow_redirects=False).status_code

    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(get, urls))


def sign_in(browser: Browser, live: LiveApp, username: str, next_path: str = "/") -> requests.Response:
    """The whole sign-in, from the app's sign-in link to the page the user asked for."""
    response = browser.get(f"{live.url}/auth/login?next={next_path}", as_user=username)
    assert response.status_code == 200, (response.status_code, response.text[:500])
    assert urlsplit(response.url).path == urlsplit(f"{live.url}{next_path}").path
    return response
