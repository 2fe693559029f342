"""What MSAL.js in a browser sends, spelled out with ``requests``: the single-page client's
authorize URL (code + PKCE S256, ``response_mode=fragment``) and its token requests (a simple
cross-origin POST: form body, ``Origin`` header, no credential)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

from tests.conftest import API_CLIENT_ID, APP_BASE_URL, HOME_TENANT_ID, authorization_response, pick_account

SPA_CLIENT_ID = "f1e2d3c4-b5a6-4978-8a69-5b4c3d2e1f00"
SPA_REDIRECT_URI = f"{APP_BASE_URL}/spa/"
SPA_ORIGIN = APP_BASE_URL  # the origin the SPA page is served from (the browser's Origin header)
LOGIN_SCOPES = f"api://{API_CLIENT_ID}/Orders.Read openid profile offline_access"
WRITE_SCOPES = f"api://{API_CLIENT_ID}/Orders.Write openid profile offline_access"


@dataclass
class Authorization:
    url: str
    verifier: str
    state: str


def authorize_url(emulator, *, scope: str = LOGIN_SCOPES, redirect_uri: str = SPA_REDIRECT_URI,
                  client_id: str = SPA_CLIENT_ID, pkce: bool = True, tenant: str = HOME_TENANT_ID,
                  **extra: str) -> Authorization:
    """The /authorize URL msal-browser builds (its parameters; fragment response mode)."""
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    params = {
        "client_id": client_id,
        "scope": scope,
        "redirect_uri": redirect_uri,
        "client-request-id": str(uuid.uuid4()),
        "response_mode": "fragment",
        "response_type": "code",
        "client_info": "1",
        "nonce": secrets.token_urlsafe(16),
        "state": state,
        **({"code_challenge": challenge, "code_challenge_method": "S256"} if pkce else {}),
        **extra,
    }
    return Authorization(f"{emulator.url}/{tenant}/oauth2/v2.0/authorize?{urlencode(params)}", verifier, state)


def sign_in(emulator, browser: requests.Session, username: str = "megan@contoso.example", **kwargs):
    """Pick ``username`` on the emulator's page; returns (authorization, the answer's fields)."""
    auth = authorize_url(emulator, **kwargs)
    return auth, authorization_response(pick_account(browser, auth.url, username))


def token_request(emulator, http: requests.Session, form: dict[str, str], *, origin: str | None = SPA_ORIGIN,
                  tenant: str = HOME_TENANT_ID, method: str = "POST") -> requests.Response:
    """A token request as the browser sends it: with ``Origin`` unless ``origin`` is None."""
    headers = {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}
    if origin is not None:
        headers["Origin"] = origin
    return http.request(method, f"{emulator.url}/{tenant}/oauth2/v2.0/token", data=form, headers=headers)


def redeem_code(emulator, http, auth: Authorization, code: str, *, scope: str = LOGIN_SCOPES,
                redirect_uri: str = SPA_REDIRECT_URI, client_id: str = SPA_CLIENT_ID, **kwargs) -> requests.Response:
    form = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "code": code,
        "code_verifier": auth.verifier,
        "grant_type": "authorization_code",
        "client_info": "1",
        "client-request-id": str(uuid.uuid4()),
    }
    return token_request(emulator, http, form, **kwargs)


def redeem_refresh_token(emulator, http, refresh_token: str, *, scope: str = LOGIN_SCOPES,
                         client_id: str = SPA_CLIENT_ID, **kwargs) -> requests.Response:
    form = {
        "client_id": client_id,
        "scope": scope,
        "refresh_token": refresh_token,
        "grant_type": "refresh_token",
        "client_info": "1",
        "client-request-id": str(uuid.uuid4()),
    }
    return token_request(emulator, http, form, **kwargs)


def signed_in_tokens(emulator, http, browser, username: str = "megan@contoso.example") -> dict:
    """A whole SPA sign-in: the token answer (access, ID and refresh token)."""
    auth, answer = sign_in(emulator, browser, username)
    assert "code" in answer, answer
    resp = redeem_code(emulator, http, auth, answer["code"])
    assert resp.status_code == 200, resp.text
    return resp.json()
