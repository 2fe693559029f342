"""Fixtures for the emulator's acceptance tests (on top of tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import msal
import pytest

from tests.conftest import (
    API_CLIENT_ID,
    API_SCOPE_READ,
    WEB_CLIENT_ID,
    confidential_app,
    sign_in_with_msal,
)

from .helpers import TOKEN_EXCHANGE, fetch_jwks


@pytest.fixture
def jwks(http, emulator):
    """The keys published now (fetched per test: rotation tests change them)."""
    return fetch_jwks(http, emulator)


@pytest.fixture
def managed_identity_env(monkeypatch, emulator):
    """The App Service managed-identity environment, pointing at the emulator."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emulator.emulator.identity_header)
    for name in ("IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mi_client(managed_identity_env, http):
    """A factory of unmodified msal.ManagedIdentityClient instances (own cache each)."""

    def make(identity) -> msal.ManagedIdentityClient:
        return msal.ManagedIdentityClient(identity, http_client=http)

    return make


@pytest.fixture
def federated_assertion(mi_client):
    """A client_assertion callable: a managed-identity token for api://AzureADTokenExchange."""

    def make(mi_client_id: str):
        client = mi_client(msal.UserAssignedManagedIdentity(client_id=mi_client_id))

        def assertion() -> str:
            result = client.acquire_token_for_client(resource=TOKEN_EXCHANGE)
            assert "access_token" in result, result
            return result["access_token"]

        return assertion

    return make


@pytest.fixture
def certificate_pem(emulator):
    """Key + certificate PEM of a certificate credential registered in the manifest."""

    def read(name: str) -> str:
        return Path(emulator.emulator.certificates[name].path).read_text()

    return read


@pytest.fixture
def user_api_token(emulator, http, browser):
    """A user's access token for the Orders API, from a real web sign-in."""

    def get(username: str = "megan@contoso.example", scopes: list[str] | None = None) -> str:
        _, _, result = sign_in_with_msal(emulator, http, browser, username, scopes or [API_SCOPE_READ])
        assert "access_token" in result, result
        return result["access_token"]

    return get


@pytest.fixture
def api_app(emulator, http):
    """The Orders API as an unmodified MSAL confidential client (secret)."""
    return confidential_app(emulator, http, API_CLIENT_ID)


@pytest.fixture
def web_app(emulator, http):
    return confidential_app(emulator, http, WEB_CLIENT_ID, tenant="organizations")
