"""The emulator's external (External ID, customer) tenant: its names, and an MSAL client for it."""

from __future__ import annotations

import msal

from tests.conftest import REDIRECT_URI, authorization_response, pick_account

CUSTOMERS_TENANT_ID = "33333333-3333-4333-8333-333333333333"
CUSTOMERS_DOMAIN = "woodgrovecustomers.onmicrosoft.com"
CUSTOMERS_API_CLIENT_ID = "7c2d3e4f-5a61-4b72-8c83-a4b5c6d7e8f9"
CUSTOMERS_WEB_CLIENT_ID = "1e0f9a8b-7c6d-4e5f-8a3b-2c1d0e9f8a7b"
CUSTOMERS_DAEMON_CLIENT_ID = "6f5e4d3c-2b1a-4f09-8e8d-7c6b5a493827"
CUSTOMER_SECRETS = {
    CUSTOMERS_API_CLIENT_ID: "dev-only-customers-orders-api-secret",
    CUSTOMERS_WEB_CLIENT_ID: "dev-only-customers-orders-web-secret",
    CUSTOMERS_DAEMON_CLIENT_ID: "dev-only-customers-daemon-secret",
}
CUSTOMERS_SCOPE_READ = f"api://{CUSTOMERS_API_CLIENT_ID}/Orders.Read"
AVERY = "avery@example.com"  # signed up with an email
AVERY_OID = "e1000006-0000-4000-8000-000000000001"
JORDAN = "jordan@example.net"  # signed up with Google; Orders.Admin
JORDAN_OID = "e1000006-0000-4000-8000-000000000002"


def external_authority(emulator, tenant: str = CUSTOMERS_TENANT_ID) -> str:
    return f"{emulator.emulator.external.authority_url}/{tenant}"


def external_issuer(emulator, tenant_id: str = CUSTOMERS_TENANT_ID) -> str:
    port = emulator.port
    return f"https://{tenant_id}.localhost:{port}/{tenant_id}/v2.0"


def customers_app(emulator, http, client_id: str = CUSTOMERS_WEB_CLIENT_ID, *, oidc: bool = False,
                  tenant: str = CUSTOMERS_TENANT_ID) -> msal.ConfidentialClientApplication:
    """An unmodified MSAL client of the external tenant: an Entra authority on the emulator's external
    host, or (``oidc``) the ``oidc_authority`` MSAL Python offers for External ID custom domains."""
    where = {"oidc_authority": f"{external_authority(emulator, tenant)}/v2.0"} if oidc else {
        "authority": external_authority(emulator, tenant), "instance_discovery": False}
    return msal.ConfidentialClientApplication(client_id, client_credential=CUSTOMER_SECRETS[client_id],
                                              http_client=http, **where)


def customer_sign_in(emulator, http, browser, username: str, scopes: list[str], *, oidc: bool = False,
                     **flow_kwargs):
    """A customer's authorization-code + PKCE sign-in through MSAL; returns (app, flow, result)."""
    app = customers_app(emulator, http, oidc=oidc)
    flow = app.initiate_auth_code_flow(scopes, redirect_uri=REDIRECT_URI, response_mode="form_post", **flow_kwargs)
    result = app.acquire_token_by_auth_code_flow(flow, authorization_response(pick_account(browser, flow["auth_uri"],
                                                                                              username)))
    return app, flow, result
