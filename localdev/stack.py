"""The whole local stack in one process tree: Entra emulator, Redis, the app.

``./run`` calls this. One Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from werkzeug.serving import make_server

import config
from entra_emulator import EmulatorServer
from localdev.external_tenant import external_authority, external_tenant_settings
from localdev.shared_redis import attach_or_start
from localdev.spa_origin import spa_only


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run", description=__doc__)
    parser.add_argument("--port", type=int, default=5000, help="the app's port (default 5000)")
    parser.add_argument("--emulator-port", type=int, default=5443)
    parser.add_argument("--spa-port", type=int, default=5001,
                        help="a second origin that serves only the single-page client (default 5001)")
    parser.add_argument("--check", action="store_true", help="start everything, print the banner, and exit")
    parser.add_argument("--tenant", choices=("workforce", "external"), default="workforce",
                        help="workforce (employees, the default) or external: the emulator's Entra External ID "
                             "tenant (customers sign up themselves)")
    args = parser.parse_args(argv)

    app_url = f"http://localhost:{args.port}"
    spa_origin = f"http://localhost:{args.spa_port}"
    emulator = EmulatorServer(port=args.emulator_port, state_dir=config.EMULATOR_STATE, app_base_urls=[app_url],
                              spa_base_urls=[spa_origin]).start()
    redis_server = None
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        # Recorded in its folder, so `flask ...` commands use this server instead of starting a second one.
        redis_server = attach_or_start(config.INSTANCE / "redis")
        redis_url = redis_server.url
    # The app reads only its environment: point it at what was just started.
    os.environ.update(
        {
            "APP_ENV": os.environ.get("APP_ENV", "development"),
            "ENTRA_AUTHORITY_HOST": emulator.url,
            "ENTRA_CA_BUNDLE": str(emulator.ca_path),
            "DOWNSTREAM_API_BASE_URL": f"{emulator.url}/v1.0",
            "REDIS_URL": redis_url,
            "PUBLIC_BASE_URL": app_url,
            # App Service-style managed identity, served by the emulator.
            "IDENTITY_ENDPOINT": emulator.identity_endpoint,
            "IDENTITY_HEADER": emulator.emulator.identity_header,
            # The SPA on its own origin calls the API on the app's, cross-origin (CORS for that origin only).
            "SPA_API_BASE_URL": app_url,
            "API_CORS_ORIGINS": os.environ.get("API_CORS_ORIGINS") or spa_origin,
        }
    )
    overrides = None
    external = args.tenant == "external"
    if external:
        # Settings only: the same app, pointed at the external tenant (README: "Customers: Entra External ID").
        # Given to create_app rather than the environment: they also clear the workforce registrations'
        # development certificates, and an empty variable means "unset" to config.py.
        overrides = external_tenant_settings(emulator)
        # The single-page client is registered in the workforce tenant only: no /spa/ for customers.
        overrides["SPA_CLIENT_ID"] = None
        os.environ.pop("ENTRA_AUTHORITY_HOST", None)  # ENTRA_AUTHORITY says it all
    from app import create_app

    servers = []
    serving = False
    try:
        app = create_app(overrides)
        servers.append(make_server("127.0.0.1", args.port, app, threaded=True))
        if not external:
            servers.append(make_server("127.0.0.1", args.spa_port, spa_only(app), threaded=True))
        print(banner(app_url, spa_origin, emulator, redis_url, tenant=args.tenant), flush=True)
        if args.check:
            return 0
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        for server in servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        serving = True
        stop.wait()
        print("\nstopping…", flush=True)
        return 0
    finally:
        for server in servers:
            if serving:
                server.shutdown()  # waits for serve_forever, so only when it runs
            server.server_close()
        emulator.stop()
        if redis_server is not None:
            redis_server.stop()


def banner(app_url: str, spa_origin: str, emulator: EmulatorServer, redis_url: str, *,
           tenant: str = "workforce") -> str:
    external = tenant == "external"
    manifest = emulator.emulator.manifest
    users = [u for u in manifest.users if u.listed
             and manifest.tenant_by_key(u.tenant).is_external == external]
    lines = [
        "",
        f"  Orders app         {app_url}   <- open this and sign in",
        *([] if external else [
            f"  Single-page client {spa_origin}/spa/   (MSAL.js; calls the API at {app_url} cross-origin;"
            f" same-origin at {app_url}/spa/)"]),
        f"  Entra emulator     {emulator.url}   (CA: {emulator.ca_path})",
        *([f"  External tenant    {external_authority(emulator)}   (External ID; issuer "
           f"https://<tenant id>.localhost:{emulator.port}/<tenant id>/v2.0)"] if external else []),
        f"  Redis              {redis_url}",
        "",
        "  Customers sign up on the emulator's sign-in page, or sign in as:" if external else
        "  Sign in as (no password, pick on the emulator's page):",
        *(f"    {u.username:<26} {u.name}{_access(emulator, u)}" for u in users),
        "",
        "  Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def _access(emulator: EmulatorServer, user) -> str:
    """``  [Orders.Admin]`` for an app role, ``  [Orders.Admin via Orders-Approvers]`` for a mapped group
    (nested memberships included, as GROUP_ROLES resolves them)."""
    granted = list(user.roles)
    for group in emulator.emulator.issuer.groups.transitive_groups(user.oid):
        granted += [f"{role} via {group.display_name}" for role in group.app_group_roles]
    return f"  [{', '.join(granted)}]" if granted else ""


if __name__ == "__main__":
    sys.exit(main())
