"""Forgeries: the signature is RS256 by a key the identity provider published, and
the token never gets to name its own key (no outbound fetch, ever)."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import serialization

from .helpers import (
    assert_invalid_token,
    b64url,
    b64url_json,
    bearer,
    claims_of,
    header_of,
    jwks_fetches,
    public_jwk,
    self_signed_der,
    sign_hs256,
    sign_rs256,
    unsigned,
)

ROGUE_KID = "rogue-kid-0001"


@pytest.fixture
def genuine(tokens):
    """A genuine token and its parts, for forgeries that keep every claim valid."""
    token = tokens.user()
    return token, header_of(token), claims_of(token)


@pytest.fixture
def idp_key(emulator):
    """The emulator's active signing key: lets a test build an otherwise perfect token with one defect."""
    return emulator.emulator.keys.active


def test_the_forging_helper_makes_tokens_the_api_accepts(client, genuine, idp_key):
    """The control for every test below: only the defect a test adds can explain a refusal."""
    _, header, claims = genuine
    token = sign_rs256({"alg": "RS256", "typ": "JWT", "kid": idp_key.kid}, claims, idp_key.private_key)
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200


def test_the_app_id_uri_audience_is_accepted_in_v1_tokens_only(client, make_app, genuine, idp_key):
    """Entra puts the App ID URI in a v1.0 token's aud only; a v2.0 token always names the client id
    (tests/api/test_token_versions.py has the whole table)."""
    _, _, claims = genuine
    claims["aud"] = f"api://{claims['aud']}"
    token = sign_rs256({"alg": "RS256", "typ": "JWT", "kid": idp_key.kid}, claims, idp_key.private_key)
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "wrong audience", token)
    v1 = {**claims, "ver": "1.0", "iss": f"https://sts.windows.net/{claims['tid']}/", "appid": claims["azp"]}
    token = sign_rs256({"alg": "RS256", "typ": "JWT", "kid": idp_key.kid}, v1, idp_key.private_key)
    assert make_app(API_ACCEPT_V1_TOKENS=True).test_client().get("/api/orders", headers=bearer(token)).status_code == 200


# -- algorithms -------------------------------------------------------------------------------------
def test_alg_none_from_the_emulator_is_refused(client, tokens, control):
    token = tokens.with_fault(control, "unsigned")
    assert header_of(token)["alg"] == "none" and token.endswith(".")
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "malformed token", token)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_with_a_signature_segment_is_refused(client, genuine, alg):
    token_in, header, claims = genuine
    # Keep the genuine signature: a validator that skipped verification for "none" would accept it.
    token = unsigned({**header, "alg": alg}, claims, signature=token_in.rsplit(".", 1)[1])
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "algorithm not allowed", token)


def test_hs256_keyed_with_the_public_key_from_the_emulator_is_refused(client, tokens, control):
    token = tokens.with_fault(control, "hs256_public_key")
    assert header_of(token)["alg"] == "HS256"
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "algorithm not allowed", token)


@pytest.mark.parametrize("encoding", ["pem", "der", "jwk-n"])
def test_hs256_keyed_with_any_form_of_the_public_key_is_refused(client, genuine, idp_key, encoding):
    _, header, claims = genuine
    public = idp_key.private_key.public_key()
    secret = {
        "pem": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "der": public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk-n": public.public_numbers().n.to_bytes(256, "big"),
    }[encoding]
    token = sign_hs256({**header, "alg": "HS256"}, claims, secret)
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "algorithm not allowed", token)


@pytest.mark.parametrize("alg", ["RS512", "PS256", "ES256", "rs256", "RS256 "])
def test_other_algorithms_are_refused_even_with_a_genuine_rs256_signature(client, genuine, idp_key, alg):
    _, header, claims = genuine
    token = sign_rs256({**header, "alg": alg}, claims, idp_key.private_key)
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "algorithm not allowed", token)


# -- signatures and keys ----------------------------------------------------------------------------
def test_a_bad_signature_is_refused(client, tokens, control):
    token = tokens.with_fault(control, "bad_signature")
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "bad signature", token)


def test_a_flipped_claim_under_a_genuine_signature_is_refused(client, genuine):
    token, header, claims = genuine
    claims["oid"] = "a0000001-0000-4000-8000-000000000002"  # become Adele
    forged = f"{b64url_json(header)}.{b64url_json(claims)}.{token.rsplit('.', 1)[1]}"
    assert_invalid_token(client.get("/api/orders", headers=bearer(forged)), "bad signature", forged)


def test_an_unknown_kid_from_the_emulator_is_refused(client, tokens, control):
    token = tokens.with_fault(control, "unknown_kid")
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "unknown signing key", token)


def test_a_rogue_key_under_a_published_kid_is_refused(client, genuine, idp_key, rogue_key):
    _, header, claims = genuine
    token = sign_rs256({**header, "kid": idp_key.kid}, claims, rogue_key)
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "bad signature", token)


# -- tokens that name their own key: jku / x5u / jwk / x5c --------------------------------------------
class RogueJwksServer:
    """A plain-HTTP server on a local port that would hand out the forger's key, counting every connection."""

    def __init__(self, jwks: dict):
        body = json.dumps(jwks).encode()
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()


@pytest.fixture
def rogue_server(rogue_key):
    with RogueJwksServer({"keys": [public_jwk(rogue_key, ROGUE_KID)]}) as server:
        yield server


def _key_bearing_headers(rogue_key, server_url: str) -> dict[str, dict]:
    der = self_signed_der(rogue_key)
    return {
        "jku": {"jku": f"{server_url}/keys"},
        "x5u": {"x5u": f"{server_url}/cert.pem"},
        "jwk": {"jwk": public_jwk(rogue_key, ROGUE_KID)},
        "x5c": {"x5c": [base64.b64encode(der).decode()], "x5t": b64url(hashlib.sha1(der).digest())},
    }


@pytest.mark.parametrize("injection", ["jku", "x5u", "jwk", "x5c"])
def test_a_token_naming_its_own_key_is_refused_without_any_outbound_fetch(
    client, tokens, genuine, rogue_key, rogue_server, control, injection
):
    assert client.get("/api/orders", headers=bearer(tokens.user())).status_code == 200  # keys are warm
    seq = control.last_seq()
    _, _, claims = genuine
    extra = _key_bearing_headers(rogue_key, rogue_server.url)[injection]
    forged = sign_rs256({"alg": "RS256", "typ": "JWT", "kid": ROGUE_KID, **extra}, claims, rogue_key)

    assert_invalid_token(client.get("/api/orders", headers=bearer(forged)), "token names its own key", forged)
    assert rogue_server.hits == [], "the API fetched a key from a URL the token named"
    assert jwks_fetches(control, seq) == [], "a key-bearing token made the API refetch the JWKS"


def test_a_key_bearing_header_is_refused_even_beside_a_genuine_signature(client, genuine, idp_key, rogue_server):
    """Policy, not luck: the header itself is refused, whatever key signed the token."""
    _, header, claims = genuine
    token = sign_rs256({**header, "kid": idp_key.kid, "jku": f"{rogue_server.url}/keys"}, claims, idp_key.private_key)
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "token names its own key", token)
    assert rogue_server.hits == []


def test_a_jku_on_a_listening_socket_gets_no_connection(client, genuine, rogue_key):
    """The bare-socket version of the check: not even a TCP connection arrives."""
    _, _, claims = genuine
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        forged = sign_rs256({"alg": "RS256", "kid": ROGUE_KID, "jku": f"http://127.0.0.1:{port}/k"}, claims, rogue_key)
        assert_invalid_token(client.get("/api/orders", headers=bearer(forged)), "token names its own key", forged)
        with pytest.raises(BlockingIOError):
            listener.accept()


# -- other headers --------------------------------------------------------------------------------
def test_an_unknown_critical_header_is_refused(client, genuine, idp_key):
    _, header, claims = genuine
    header = {**header, "kid": idp_key.kid, "crit": ["urn:example:must-understand"], "urn:example:must-understand": 1}
    token = sign_rs256(header, claims, idp_key.private_key)
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "unsupported critical header", token)


@pytest.mark.parametrize("typ", ["JWE", "id_token", "logout+jwt", "dpop+jwt", ""])
def test_a_token_of_another_type_is_refused(client, genuine, idp_key, typ):
    _, header, claims = genuine
    token = sign_rs256({**header, "kid": idp_key.kid, "typ": typ}, claims, idp_key.private_key)
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "wrong token type", token)


@pytest.mark.parametrize("typ", ["JWT", "at+jwt", "application/at+jwt"])
def test_access_token_types_are_accepted(client, genuine, idp_key, typ):
    _, header, claims = genuine
    token = sign_rs256({**header, "kid": idp_key.kid, "typ": typ}, claims, idp_key.private_key)
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200


def test_a_missing_kid_is_refused(client, genuine, idp_key):
    _, header, claims = genuine
    header = {k: v for k, v in header.items() if k not in ("kid", "x5t")}
    token = sign_rs256(header, claims, idp_key.private_key)
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "missing key id", token)
