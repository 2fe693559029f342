"""``python -m entra_emulator``: a local Entra ID for development and tests."""

from __future__ import annotations

import argparse
import sys

from .manifest import ManifestError
from .serve import DEFAULT_STATE_DIR, EmulatorServer


def describe(server: EmulatorServer) -> str:
    emu = server.emulator
    m = emu.manifest
    lines = [
        f"Entra emulator (development only) at {server.url}",
        f"  CA certificate (trust it: ENTRA_CA_BUNDLE): {server.ca_path}",
        f"  managed identity: IDENTITY_ENDPOINT={server.identity_endpoint} IDENTITY_HEADER={emu.identity_header}",
        "  tenants:",
        *(f"    {t.display_name}: {server.url}/{t.id}  ({t.domain})" for t in m.tenants),
        f"    discovery: {server.url}/<tenant>/v2.0/.well-known/openid-configuration",
        "  users (no passwords: pick one on the sign-in page):",
        *(
            f"    {u.username:<28} {u.name}{'  roles: ' + ', '.join(u.roles) if u.roles else ''}"
            for u in m.users
            if u.listed
        ),
        f"    + {sum(not u.listed for u in m.users)} load-test users (loaduserNN@...)",
        "  registrations:",
        *(f"    {r.display_name:<28} client id {r.client_id}" for r in m.registrations),
        *(f"    {r.display_name} (single-page, spa redirect URIs): {', '.join(r.spa_redirect_uris)}"
          for r in m.registrations if r.spa_redirect_uris),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m entra_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5443)
    parser.add_argument("--manifest", help="manifest TOML (default: the project's manifest.toml)")
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="certificates and keys are kept here")
    parser.add_argument(
        "--app-url",
        action="append",
        dest="app_urls",
        help="base URL of the web app, for its redirect and logout URIs (repeatable; default http://localhost:5000)",
    )
    parser.add_argument(
        "--spa-url",
        action="append",
        dest="spa_urls",
        help="a further origin the single-page client is served from, for its spa redirect URIs (repeatable)",
    )
    parser.add_argument("--identity-header", help="X-IDENTITY-HEADER value for the managed identity endpoint")
    args = parser.parse_args(argv)
    try:
        server = EmulatorServer(
            host=args.host,
            port=args.port,
            manifest_path=args.manifest,
            state_dir=args.state_dir,
            app_base_urls=args.app_urls or ["http://localhost:5000"],
            identity_header=args.identity_header,
            spa_base_urls=args.spa_urls or [],
        )
    except (ManifestError, OSError) as exc:
        print(f"entra emulator: {exc}", file=sys.stderr)
        return 2
    print(describe(server), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
