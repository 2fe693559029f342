"""Unit tests of the one helper that calls protected APIs (a fake transport; the chain tests use real ones)."""

from __future__ import annotations

import base64

import pytest
import requests

from entra_auth.errors import DownstreamUnavailable, InteractionRequired
from entra_auth.protected_api import ProtectedApi, decode_claims, parse_bearer_challenge


class FakeHttp:
    """Answers from a script; records what was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent: list[tuple[str, str, dict]] = []

    def request(self, method, url, *, json=None, headers=None, allow_redirects=True):
        assert allow_redirects is False, "a bearer token must never follow a redirect"
        self.sent.append((method, url, headers))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, extra = answer if isinstance(answer, tuple) else (answer, {})
        response = requests.Response()
        response.status_code = status
        response.headers.update(extra)
        response._content = b"{}"
        return response


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    monkeypatch.setattr("entra_auth.protected_api.time.sleep", lambda s: None)


def api(http) -> ProtectedApi:
    return ProtectedApi("https://api.example/api", http, name="the test API")


def test_a_get_is_retried_on_503_then_succeeds():
    http = FakeHttp((503, {"Retry-After": "1"}), 200)
    assert api(http).call("GET", "orders", "tok").status_code == 200
    assert len(http.sent) == 2
    assert http.sent[0][2]["Authorization"] == "Bearer tok"


def test_a_post_is_never_retried():
    http = FakeHttp(503, 201)
    with pytest.raises(DownstreamUnavailable):
        api(http).call("POST", "orders", "tok", json={})
    assert len(http.sent) == 1, "a retried POST could place an order twice"


def test_a_long_retry_after_is_not_waited_for():
    http = FakeHttp((429, {"Retry-After": "30"}), 200)
    with pytest.raises(DownstreamUnavailable):
        api(http).call("GET", "orders", "tok")
    assert len(http.sent) == 1


def test_unreachable_after_the_retries_is_downstream_unavailable():
    http = FakeHttp(requests.ConnectionError(), requests.ConnectTimeout(), requests.ReadTimeout())
    with pytest.raises(DownstreamUnavailable, match="unreachable"):
        api(http).call("GET", "orders", "tok")
    assert len(http.sent) == 3


def test_a_redirect_is_refused_not_followed():
    http = FakeHttp((302, {"Location": "https://evil.example/"}))
    with pytest.raises(DownstreamUnavailable):
        api(http).call("GET", "orders", "tok")


def test_a_claims_challenge_becomes_interaction_required_with_the_claims():
    claims = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}'
    header = f'Bearer realm="", error="insufficient_claims", claims="{base64.b64encode(claims.encode()).decode()}"'
    http = FakeHttp((401, {"WWW-Authenticate": header}))
    with pytest.raises(InteractionRequired) as caught:
        api(http).call("GET", "me", "tok", scopes=["s"])
    assert caught.value.claims == claims and caught.value.scopes == ["s"]


def test_a_plain_401_asks_for_a_new_sign_in_without_claims():
    http = FakeHttp((401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}))
    with pytest.raises(InteractionRequired) as caught:
        api(http).call("GET", "me", "tok")
    assert caught.value.claims is None


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"[1,2]").decode(), base64.b64encode(b"\xff").decode()])
def test_odd_claims_values_are_ignored(value):
    assert decode_claims(value) is None


def test_challenge_parsing():
    assert parse_bearer_challenge('Bearer error="insufficient_scope", scope="a b"') == {
        "error": "insufficient_scope", "scope": "a b"}
    assert parse_bearer_challenge('Basic realm="x"') == {}
