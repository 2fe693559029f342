"""Helpers of the API tier's acceptance tests: forging tokens, reading answers.

Forgeries are built by hand (not through PyJWT) so that every header and every
byte is what the test says, including the ones a library would refuse to write.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

MEGAN = "megan@contoso.example"  # employee, home tenant
ADELE = "adele@contoso.example"  # Orders.Admin, home tenant
LEE = "lee@fabrikam.example"  # Orders.Admin, foreign tenant
LOADUSER = "loaduser01@contoso.example"  # another employee, home tenant


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def header_of(token: str) -> dict:
    return json.loads(unb64(token.split(".")[0]))


def claims_of(token: str) -> dict:
    return json.loads(unb64(token.split(".")[1]))


def sign_rs256(header: dict, claims: dict, private_key: rsa.RSAPrivateKey) -> str:
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    signature = private_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def sign_hs256(header: dict, claims: dict, secret: bytes) -> str:
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def unsigned(header: dict, claims: dict, signature: str = "") -> str:
    return f"{b64url_json(header)}.{b64url_json(claims)}.{signature}"


def public_jwk(private_key: rsa.RSAPrivateKey, kid: str) -> dict:
    numbers = private_key.public_key().public_numbers()

    def as_b64(n: int) -> str:
        return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": as_b64(numbers.n), "e": as_b64(numbers.e)}


def self_signed_der(private_key: rsa.RSAPrivateKey) -> bytes:
    """A certificate a forger can make for their own key (what an ``x5c`` injection carries)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "login.microsoftonline.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(private_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


def jwks_fetches(control, since: int = 0) -> list[dict]:
    return [e for e in control.requests(since) if e["endpoint"] == "jwks"]


def _assert_json_without(resp, secret: str | None) -> dict:
    assert resp.mimetype == "application/json", (resp.status_code, resp.data[:300])
    body = resp.get_json()
    assert isinstance(body, dict)
    assert b"Traceback" not in resp.data and b"<html" not in resp.data.lower()
    if secret:
        for part in {secret, *[p for p in secret.split(".") if len(p) >= 8]}:
            assert part not in resp.get_data(as_text=True), "the answer echoes the token"
            for name, value in resp.headers.items():
                assert part not in value, f"the {name} header echoes the token"
    return body


def assert_bare_challenge(resp, token: str | None = None) -> dict:
    """RFC 6750 §3.1: no credentials at all gets a challenge without an error code."""
    assert resp.status_code == 401, (resp.status_code, resp.data[:300])
    challenges = resp.headers.get_all("WWW-Authenticate")
    assert challenges == ["Bearer"], challenges
    return _assert_json_without(resp, token)


def assert_invalid_token(resp, reason: str, token: str | None = None) -> dict:
    assert resp.status_code == 401, (resp.status_code, resp.data[:300])
    challenges = resp.headers.get_all("WWW-Authenticate")
    assert challenges == [f'Bearer error="invalid_token", error_description="{reason}"'], challenges
    body = _assert_json_without(resp, token)
    assert body["error"] == "invalid_token"
    return body


def assert_unavailable(resp, token: str | None = None) -> dict:
    """503 with Retry-After: the fault is the identity provider's or the configuration's, not the caller's token
    (no invalid_token challenge that would make a client drop a good token)."""
    assert resp.status_code == 503, (resp.status_code, resp.data[:300])
    assert resp.headers.get("Retry-After") and "WWW-Authenticate" not in resp.headers
    body = _assert_json_without(resp, token)
    assert body["error"] == "temporarily_unavailable"
    return body


def assert_insufficient_scope(resp, scope: str, reason: str, token: str | None = None) -> dict:
    assert resp.status_code == 403, (resp.status_code, resp.data[:300])
    challenges = resp.headers.get_all("WWW-Authenticate")
    expected = f'Bearer error="insufficient_scope", error_description="{reason}", scope="{scope}"'
    assert challenges == [expected], challenges
    body = _assert_json_without(resp, token)
    assert body["error"] == "insufficient_scope"
    return body
