"""``flask orders ...``: the Orders API from the command line.

``flask orders list`` is the daemon of DESIGN.md (``--as-app``, its only mode, may be given or not): it authenticates as
the daemon registration (client credentials, no user; the credential comes
from ``DAEMON_CLIENT_*`` like any tier's), gets an app-only token carrying the
``Orders.Read.All`` app role, and calls the API. MSAL's app-token cache is
persisted in Redis, encrypted like the user caches, so the next run (another
process) reuses the token instead of asking Entra again.
"""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from entra_auth.credential_refusals import RefusalRecord
from entra_auth.credentials import ClientCredential, parse_client_credentials
from entra_auth.errors import ClientCredentialError, EntraAuthError
from entra_auth.flask_ext import allowed_tenants, authority, entra_state, orders_api_client
from entra_auth.msal_apps import MsalAppFactory
from entra_auth.msal_errors import error_from_result, msal_call
from entra_auth.token_cache import RedisTokenCacheStore

group = AppGroup("orders", help="Call the Orders API from the command line.")


def _api_resource() -> str:
    """The API's App ID URI, from the configured scopes (``api://<id>/Orders.Read`` → ``api://<id>``)."""
    scopes = current_app.config["API_SCOPES"]
    if not scopes:
        raise click.UsageError("API_SCOPES is not set: the daemon needs the API's App ID URI.")
    return scopes[0].rsplit("/", 1)[0]


def app_only_token(tenant: str) -> str:
    """An app-only token for the Orders API, from the Redis-persisted app-token cache or Entra."""
    cfg = current_app.config
    state = entra_state()
    if not cfg.get("DAEMON_CLIENT_ID"):
        raise click.UsageError("DAEMON_CLIENT_ID is not set.")
    credential = ClientCredential(parse_client_credentials("DAEMON_CLIENT", cfg), http_client=state.http,
                                  on_refused=RefusalRecord(state.redis, cfg["DAEMON_CLIENT_ID"]))
    apps = MsalAppFactory(cfg["DAEMON_CLIENT_ID"], authority(cfg).for_tenant(tenant), credential, state.http)
    store = RedisTokenCacheStore(state.redis, state.cipher, prefix="tokencache:app", retention_seconds=0)
    partition = f"app:{cfg['DAEMON_CLIENT_ID']}:{tenant}"
    cache = store.load(partition)
    scopes = [f"{_api_resource()}/.default"]
    # acquire_token_for_client looks in the app-token cache first (MSAL >= 1.23).
    result = apps.run(cache, lambda app: msal_call(lambda: app.acquire_token_for_client(scopes)))
    if "error" in result:
        raise error_from_result(result, interactive=False)
    store.save(cache)
    return result["access_token"]


@group.command("list")
@click.option("--as-app", "as_app", is_flag=True, default=True,
              help="Authenticate as the daemon application (client credentials): the only mode, so the default.")
@click.option("--tenant", default=None, help="The tenant to read (default: the configured tenant).")
@click.option("--api-url", default=None, help="The API's base URL (default: API_BASE_URL, else this app in-process).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer.")
def list_orders(as_app: bool, tenant: str | None, api_url: str | None, as_json: bool) -> None:
    """List the tenant's orders with an app-only token (app role Orders.Read.All)."""
    cfg = current_app.config
    tenants = allowed_tenants(cfg)
    tenant = tenant or (tenants[0] if tenants else None)
    if not tenant:
        raise click.UsageError("No tenant: pass --tenant or set ENTRA_TENANT_ID / ENTRA_ALLOWED_TENANTS.")
    try:
        token = app_only_token(tenant)
        api = orders_api_client(current_app._get_current_object(), api_url or cfg.get("API_BASE_URL"),
                                entra_state().http)
        response = api.call("GET", "orders", token)
    except ClientCredentialError as exc:
        raise click.ClickException(credential_problem(exc.reason, cfg.get("DAEMON_CLIENT_ID"), tenant)) from None
    except EntraAuthError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc.reason}") from None
    if response.status_code != 200:
        raise click.ClickException(f"the Orders API answered {response.status_code}: {response.text[:300]}")
    body = response.json()
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    orders = body.get("orders", [])
    click.echo(f"{len(orders)} order(s) in tenant {tenant}")
    for o in orders:
        click.echo(f"  {o['id']}  {o['quantity']:>4} × {o['item']:<30} {o['owner_name']}")


def credential_problem(reason: str, client_id: str | None, tenant: str) -> str:
    """One plain sentence for a refused client credential: what Entra said, and what to check."""
    if "AADSTS700016" in reason:
        # Entra: "Application with identifier ... was not found in the directory" (the tenant).
        return (f"Tenant {tenant} does not know the daemon application {client_id}: check DAEMON_CLIENT_ID and the "
                f"tenant (--tenant, ENTRA_TENANT_ID), and that the daemon is registered there or an administrator "
                f"consented to it ({reason}).")
    return (f"Microsoft Entra ID refused the daemon application's credential ({reason}): check DAEMON_CLIENT_ID and "
            f"its credential (DAEMON_CLIENT_CERTIFICATE_PATH, DAEMON_CLIENT_SECRET or DAEMON_CLIENT_CREDENTIALS).")
