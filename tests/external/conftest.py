"""Fixtures for the app serving the emulator's external (Entra External ID) tenant: the same app,
settings only (localdev/external_tenant.py), over real HTTPS with unmodified MSAL and a real Redis."""

from __future__ import annotations

import pytest

from localdev.external_tenant import external_tenant_settings
from tests.conftest import LIVE_APP_PORTS, LIVE_APP_URLS, app_settings
from tests.web.conftest import LiveApp, new_browser, sign_in  # noqa: F401  (fixtures and helpers reused)


def customers_settings(emulator, redis_url: str, **overrides) -> dict:
    """The test settings of the app for the external tenant: ``ENTRA_AUTHORITY`` replaces host + tenant."""
    settings = app_settings(emulator, redis_url, **{**external_tenant_settings(emulator), **overrides})
    if "ENTRA_AUTHORITY_HOST" not in overrides:
        settings.pop("ENTRA_AUTHORITY_HOST")
    return settings


@pytest.fixture
def make_customers_app(emulator, redis_server, redis_client):
    """A fresh app for the external tenant (cold caches), with settings overrides."""
    from app import create_app

    return lambda **overrides: create_app(customers_settings(emulator, redis_server, **overrides))


@pytest.fixture
def start_live(emulator, redis_server, redis_client):
    """Serve apps over HTTPS on the ports the emulator registered: ``start(external=True, **overrides)``."""
    from app import create_app

    started: list[LiveApp] = []
    cert_path = str(emulator.emulator.ca.server_certificate(["127.0.0.1", "localhost", "::1"]))

    def start(*, external: bool = True, **overrides) -> LiveApp:
        index = len(started)
        overrides = {"PUBLIC_BASE_URL": LIVE_APP_URLS[index], **overrides}
        settings = (customers_settings(emulator, redis_server, **overrides) if external
                    else app_settings(emulator, redis_server, **overrides))
        live = LiveApp(create_app(settings), LIVE_APP_PORTS[index], cert_path)
        started.append(live)
        return live

    yield start
    for live in started:
        live.stop()


@pytest.fixture
def customers_live(start_live) -> LiveApp:
    return start_live()
