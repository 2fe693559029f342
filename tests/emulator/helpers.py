"""Helpers shared by the emulator's acceptance tests: JWKS keys, a strict
relying-party validation, and the shape of Entra error answers."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import jwt
import requests

from tests.conftest import HOME_TENANT_ID

TOKEN_EXCHANGE = "api://AzureADTokenExchange"
SYSTEM_MI_CLIENT_ID = "e0000005-0000-4000-8000-000000000002"  # its principal id is on no federated credential


def unverified(token: str) -> dict:
    """The claims of a JWT, unverified (for asserting on what was issued)."""
    return jwt.decode(token, options={"verify_signature": False})


def header_of(token: str) -> dict:
    segment = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def fetch_jwks(http: requests.Session, emulator, tenant: str = HOME_TENANT_ID) -> dict[str, jwt.PyJWK]:
    """The emulator's published keys by kid (PyJWKClient would not trust the emulator's CA)."""
    resp = http.get(f"{emulator.url}/{tenant}/discovery/v2.0/keys")
    assert resp.status_code == 200, resp.text
    return {k["kid"]: jwt.PyJWK(k) for k in resp.json()["keys"]}


def strict_validate(
    token: str,
    keys: dict[str, jwt.PyJWK],
    *,
    authority_host: str,
    audience: str,
    tenants: frozenset[str] = frozenset({HOME_TENANT_ID}),
    nonce: str | None = None,
) -> dict:
    """What a careful relying party does; raises ``jwt.InvalidTokenError`` on any doubt.

    RS256 only, the key picked by kid from the JWKS, issuer bound to the token's
    own tid (and the tid one we accept), a single exact audience, and the claims
    an app keys its data on required.
    """
    header = jwt.get_unverified_header(token)
    if header.get("alg") != "RS256":
        raise jwt.InvalidAlgorithmError(f"alg {header.get('alg')!r} refused")
    key = keys.get(str(header.get("kid")))
    if key is None:
        raise jwt.InvalidKeyError(f"kid {header.get('kid')!r} is not in the JWKS")
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=audience,
        options={"require": ["exp", "nbf", "iat", "iss", "aud", "sub", "oid", "tid"], "strict_aud": True},
    )
    if claims["tid"] not in tenants:
        raise jwt.InvalidIssuerError(f"tenant {claims['tid']} is not accepted")
    if claims["iss"] != f"{authority_host}/{claims['tid']}/v2.0":
        raise jwt.InvalidIssuerError(f"issuer {claims['iss']} does not belong to tenant {claims['tid']}")
    if nonce is not None and claims.get("nonce") != nonce:
        raise jwt.InvalidTokenError("nonce mismatch")
    return claims


def sent_nonce(flow: dict) -> str:
    """The nonce MSAL put on the wire (a hash of ``flow['nonce']``), which the ID token echoes."""
    nonce = parse_qs(urlsplit(flow["auth_uri"]).query)["nonce"][0]
    assert nonce == hashlib.sha256(flow["nonce"].encode("ascii")).hexdigest()
    return nonce


def assert_entra_error(body: dict, error: str, code: int) -> None:
    """An Entra error answer: error, AADSTS description, codes, timestamp, trace and correlation ids."""
    assert body.get("error") == error, body
    assert body["error_description"].startswith(f"AADSTS{code}:"), body["error_description"]
    assert body["error_codes"] == [code]
    for key in ("timestamp", "trace_id", "correlation_id"):
        assert body.get(key), f"{key} missing from {body}"
