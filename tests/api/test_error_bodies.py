"""Every API error body is JSON with the request's reference (``request_id``, also in ``X-Request-Id``),
the bare 401 of a request without any token included: one id to quote, whatever went wrong."""

from __future__ import annotations

import pytest

from .conftest import READ, READ_WRITE
from .helpers import MEGAN, bearer

CASES = {
    "no token (bare 401)": ("GET", "/api/orders", None, {}, 401),
    "not a bearer scheme": ("GET", "/api/orders", "basic", {}, 401),
    "garbage token": ("GET", "/api/orders", "garbage", {}, 401),
    "missing scope": ("POST", "/api/orders", READ, {"json": {"item": "x", "quantity": 1}}, 403),
    "tenant view without the role": ("GET", "/api/orders?view=tenant", READ, {}, 403),
    "unknown view": ("GET", "/api/orders?view=everything", READ, {}, 400),
    "invalid order": ("POST", "/api/orders", READ_WRITE, {"json": {"quantity": 0}}, 400),
    "not JSON": ("POST", "/api/orders", READ_WRITE, {"data": "item=x"}, 415),
    "too large": ("POST", "/api/orders", READ_WRITE, {"json": {"item": "x" * 9000, "quantity": 1}}, 413),
    "no such order": ("GET", "/api/orders/00000000-0000-4000-8000-000000000000", READ, {}, 404),
    "no such endpoint": ("GET", "/api/nothing-here", READ, {}, 404),
    "wrong method": ("DELETE", "/api/orders", READ, {}, 405),
}


@pytest.mark.parametrize("case", CASES)
def test_every_error_body_carries_the_request_id(client, tokens, case):
    method, path, token, kwargs, status = CASES[case]
    headers = {}
    if token == "basic":
        headers["Authorization"] = "Basic dXNlcjpwYXNz"
    elif token == "garbage":
        headers["Authorization"] = "Bearer not.a.token"
    elif token is not None:
        headers.update(bearer(tokens.user(MEGAN, token)))
    resp = client.open(path, method=method, headers=headers, **kwargs)
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["error"], body
    assert body.get("request_id") == resp.headers["X-Request-Id"], body
    if status == 405:
        assert "GET" in resp.headers["Allow"], "a 405 says what is allowed"
