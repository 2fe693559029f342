"""Fixtures for the app serving the emulator's external (Entra External ID) tenant: the same app,
settings only (localdev/external_tenant.py), over real HTTPS with unmodified MSAL and a real Redis."""

from __future__ import annotations

import pytest

from localdev.external_tenant import external_tenant_settings
from tests.conftest import app_settings
from tests.web.conftest import LiveApp, live_apps, new_browser, sign_in  # noqa: F401  (fixtures and helpers reused)


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

    def settings_for(*, external: bool = True, **overrides) -> dict:
        return (customers_settings if external else app_settings)(emulator, redis_server, **overrides)

    with live_apps(emulator, settings_for) as start:
        yield start


@pytest.fixture
def customers_live(start_live) -> LiveApp:
    return start_live()
