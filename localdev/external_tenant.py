"""The app's settings for the emulator's external (Entra External ID, customer) tenant.

``./run --tenant external`` and the tests under ``tests/external/`` use them: the
same app, other settings only. The names are the manifest's (entra_emulator/
manifest.toml, the ``customers`` tenant); credentials are the registrations'
certificates where the manifest gives them one, else their development secrets.
"""

from __future__ import annotations

from entra_emulator import EmulatorServer

CUSTOMERS_TENANT_ID = "33333333-3333-4333-8333-333333333333"
CUSTOMERS_WEB_CLIENT_ID = "1e0f9a8b-7c6d-4e5f-8a3b-2c1d0e9f8a7b"
CUSTOMERS_API_CLIENT_ID = "7c2d3e4f-5a61-4b72-8c83-a4b5c6d7e8f9"
CUSTOMERS_DAEMON_CLIENT_ID = "6f5e4d3c-2b1a-4f09-8e8d-7c6b5a493827"


def external_authority(emulator: EmulatorServer, tenant: str = CUSTOMERS_TENANT_ID) -> str:
    """``https://localhost:<port>/<tenant>``: the emulator's stand-in for ``https://<sub>.ciamlogin.com/<tenant>``."""
    return f"{emulator.emulator.external.authority_url}/{tenant}"


def external_tenant_settings(emulator: EmulatorServer) -> dict:
    """Settings (typed: lists as lists) pointing the whole app at the external tenant."""
    api_id = CUSTOMERS_API_CLIENT_ID
    settings = {
        "ENTRA_AUTHORITY": external_authority(emulator),
        "ENTRA_AUTHORITY_KIND": "ciam",
        "ENTRA_ALLOWED_TENANTS": [CUSTOMERS_TENANT_ID],
        "ENTRA_CLIENT_ID": CUSTOMERS_WEB_CLIENT_ID,
        "API_CLIENT_ID": api_id,
        "API_AUDIENCE": [f"api://{api_id}"],
        "API_SCOPES": [f"api://{api_id}/Orders.Read", f"api://{api_id}/Orders.Write"],
        "DAEMON_CLIENT_ID": CUSTOMERS_DAEMON_CLIENT_ID,
    }
    for prefix, client_id in (("ENTRA_CLIENT", CUSTOMERS_WEB_CLIENT_ID), ("API_CLIENT", api_id),
                              ("DAEMON_CLIENT", CUSTOMERS_DAEMON_CLIENT_ID)):
        settings.update(_credential(emulator, prefix, client_id))
    return settings


def _credential(emulator: EmulatorServer, prefix: str, client_id: str) -> dict[str, str | None]:
    """The registration's certificate if it has one, else its development secret; the other setting cleared,
    so the workforce registrations' certificates of the development defaults are not used by mistake."""
    registration = emulator.emulator.manifest.registration(client_id)
    certificates = emulator.emulator.certificates
    names = [name for name in registration.certificate_names() if name in certificates] if registration else []
    if names:
        return {f"{prefix}_CERTIFICATE_PATH": str(certificates[names[0]].path), f"{prefix}_SECRET": None}
    secrets = registration.secrets() if registration else []
    return {f"{prefix}_SECRET": secrets[0] if secrets else None, f"{prefix}_CERTIFICATE_PATH": None}
