"""The API tier through the Flask test client: Authorization headers, paths, queries and order bodies.

The properties:

* nothing sent to ``/api/...`` gets a 5xx; every answer is a JSON object
  (HEAD and OPTIONS aside, which carry no body);
* a 401 carries exactly one RFC 6750 challenge: ``Bearer`` alone, or with an
  ``invalid_token`` error and a description in the quoted-string alphabet;
* only the genuine token, after the ``Bearer`` scheme, is ever accepted: no
  forgery, however it is dressed, and no request without a token gets a 2xx;
* no part of what came in the Authorization header comes back in the answer;
* ``POST /api/orders`` creates an order exactly when the body is a valid
  order, and answers 400/413/415 otherwise.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from pathlib import Path

from hypothesis import event, given
from hypothesis import strategies as st
from werkzeug import exceptions as http_exceptions

import orders_store
from tests.conftest import ROOT

from .budget import budget
from .oracles import same_signature_bytes
from .strategies import (
    authorization_values,
    decorated,
    json_values,
    latin1,
    mutations,
)

REQUEST_ID = "fuzz-request-0001"  # a fixed id: answers carry no random text a fragment could match by chance
ENDPOINTS = [("GET", "/api/orders"), ("POST", "/api/orders"), ("GET", f"/api/orders/{uuid.UUID(int=7)}"),
             ("GET", "/api/me")]
# RFC 6750 §3: auth-params whose values are quoted strings of %x20-21 / %x23-5B / %x5D-7E.
_PARAM = r'[a-z_]+="[\x20\x21\x23-\x5b\x5d-\x7e]*"'
CHALLENGE = re.compile(rf"Bearer(?: {_PARAM}(?:, {_PARAM})*)?\Z")


def _literals(*relative: str) -> str:
    """Every string literal of the given source files: the fixed text an answer may contain."""
    found = []
    for name in relative:
        for node in ast.walk(ast.parse(Path(ROOT, name).read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append(node.value)
    return "\n".join(found)


FIXED_TEXT = "\n".join([
    _literals("app.py", "http_hardening.py", "blueprints/api.py", "orders_store.py", "entra_auth/flask_protect.py",
              "entra_auth/jwt_validation.py", "entra_auth/authorization.py"),
    *(cls.description for cls in vars(http_exceptions).values()
      if isinstance(cls, type) and issubclass(cls, http_exceptions.HTTPException) and isinstance(cls.description, str)),
    REQUEST_ID,
])


def credential_fragments(value: str) -> set[str]:
    """Pieces of a presented credential long enough to recognise if an answer echoed them."""
    return {p for p in re.split(r"[\s.,;:=\"\x00-\x1f]+", value) if len(p) >= 8 and p not in FIXED_TEXT}


def call(client, method: str, path: str, authorization: str | None = None, **kwargs):
    headers = {"X-Request-Id": REQUEST_ID, **kwargs.pop("headers", {})}
    if authorization is not None:
        headers["Authorization"] = authorization
    return client.open(path, method=method, headers=headers, **kwargs)


def assert_api_answer(resp, method: str = "GET", presented: str = "") -> dict | None:
    """What every answer under /api must be, whatever came in."""
    assert resp.status_code < 500, (resp.status_code, resp.data[:300])
    text = resp.get_data(as_text=True)
    assert "Traceback" not in text
    everything = text + "\n" + "\n".join(f"{k}: {v}" for k, v in resp.headers.items())
    body = None
    if method not in ("HEAD", "OPTIONS"):
        assert resp.mimetype == "application/json", (resp.status_code, resp.mimetype, resp.data[:200])
        body = resp.get_json()
        assert isinstance(body, dict)
        everything += "\n" + json.dumps(body, ensure_ascii=False)
    if resp.status_code == 401:
        challenges = resp.headers.get_all("WWW-Authenticate")
        assert len(challenges) == 1 and CHALLENGE.match(challenges[0]), challenges
        assert challenges[0] == "Bearer" or challenges[0].startswith('Bearer error="invalid_token", ')
    for fragment in credential_fragments(presented):
        assert fragment not in everything, f"the answer echoes part of the credential: {fragment!r}"
    return body


def accepted_credential(value: str, genuine) -> bool:
    """Whether an Authorization value carries the genuine token and nothing else but the scheme."""
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return scheme.lower() == "bearer" and (token == genuine.token or same_signature_bytes(token, genuine.token))


# -- Authorization header values -------------------------------------------------------------------

@budget(150)
@given(value=authorization_values, endpoint=st.sampled_from(ENDPOINTS))
def test_arbitrary_authorization_values_get_a_401_challenge(fuzz_client, value, endpoint):
    method, path = endpoint
    resp = call(fuzz_client, method, path, value, json={"item": "pens", "quantity": 1})
    assert resp.status_code == 401, (resp.status_code, resp.data[:200])
    assert_api_answer(resp, method, value)


@budget(150)
@given(data=st.data(), endpoint=st.sampled_from(ENDPOINTS[:3]))
def test_only_the_genuine_token_is_accepted_however_it_is_dressed(fuzz_client, genuine, rogue_key, data, endpoint):
    kind, token = data.draw(st.one_of(st.just(("genuine", genuine.token)), mutations(genuine, rogue_key)),
                            label="token")
    value = data.draw(decorated(token), label="authorization")
    event("genuine" if kind == "genuine" else "forgery")
    method, path = endpoint
    resp = call(fuzz_client, method, path, value, json={"item": "pens", "quantity": 1})
    assert_api_answer(resp, method, value)
    assert resp.status_code in (200, 201, 401, 404), resp.status_code  # 404: an unknown order, to a valid caller
    if resp.status_code != 401:
        assert accepted_credential(value, genuine), "a request without the genuine token got past validation"


# -- paths and query strings -----------------------------------------------------------------------

_path_chars = st.characters(codec="utf-8", exclude_characters="?#")
api_paths = st.one_of(
    st.text(_path_chars, max_size=40),
    st.sampled_from(["", "orders", "orders/", "orders//", "orders/x", "orders/%00", "orders/..", "orders/../me", "me",
                     "me/", "ME", "Orders", "%6frders", "orders/%2e%2e/me", "orders/" + str(uuid.UUID(int=1)),
                     "orders/{" + str(uuid.UUID(int=1)) + "}", "orders/urn:uuid:" + str(uuid.UUID(int=1)),
                     "orders/" + "\u0661" * 32, "orders/" + "0_" * 16, "orders/" + "f" * 10_000]),
    st.lists(st.sampled_from(["orders", "me", "..", ".", "", "%2f", "%2e", "\\", "x"]), max_size=5).map("/".join),
)
query_strings = st.one_of(
    # As a server would receive them: raw line breaks cannot be on the request line.
    st.text(max_size=60).map(lambda q: q.replace("\r", "%0D").replace("\n", "%0A")),
    st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=4),
    st.sampled_from(["access_token=x", "next=//evil.example", "%", "a=%ff", "&&&", "=" * 50, "a[]=1&a[]=2"]),
)


@budget(150)
@given(path=api_paths, query=query_strings, method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD",
                                                                   "OPTIONS"]),
       with_token=st.booleans())
def test_arbitrary_paths_and_queries_under_api_never_fail(fuzz_client, genuine, path, query, method, with_token):
    resp = call(fuzz_client, method, "/api/" + path, f"Bearer {genuine.token}" if with_token else None,
                query_string=query)
    event(f"{resp.status_code}")
    assert_api_answer(resp, method)
    if not with_token and method != "OPTIONS":
        assert resp.status_code >= 400, "served without a token"


@budget(20)
@given(path=st.sampled_from(["orders", "me", "orders/" + str(uuid.UUID(int=1))]),
       method=st.sampled_from(["GET", "POST", "HEAD"]), slashes=st.sampled_from(["//", "///"]))
def test_a_path_with_doubled_slashes_gets_a_json_answer(fuzz_client, path, method, slashes):
    resp = call(fuzz_client, method, "/api" + slashes + path)
    assert_api_answer(resp, method)


# -- order bodies ----------------------------------------------------------------------------------

JSON_TYPES = ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/merge+json",
              "application/json; charset=latin-1"]
OTHER_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/json",
               "application/jsonx", "application/xml", "application/json-seq"]
order_like = st.fixed_dictionaries({}, optional={
    "item": st.one_of(st.text(max_size=120), json_values, st.just(" " * 5), st.text(min_size=95, max_size=105)),
    "quantity": st.one_of(st.integers(-5, 1005), json_values, st.sampled_from([1.0, True, "1", 10**30])),
    "note": st.one_of(st.text(max_size=520), json_values),
    "owner_oid": st.just("someone-else"), "tid": st.text(max_size=36), "id": st.text(max_size=36),
})
valid_orders = st.fixed_dictionaries(
    {"item": st.text(min_size=1, max_size=orders_store.MAX_ITEM_LENGTH).filter(str.strip),
     "quantity": st.integers(1, orders_store.MAX_QUANTITY)},
    optional={"note": st.text(max_size=orders_store.MAX_NOTE_LENGTH)},
)


@st.composite
def almost_valid_orders(draw) -> dict:
    """A valid order with exactly one thing wrong: the boundaries of each rule."""
    order = dict(draw(valid_orders))
    field = draw(st.sampled_from(["item", "quantity", "note", "extra"]))
    order[field if field != "extra" else draw(st.text(max_size=10).filter(lambda k: k not in order))] = draw({
        "item": st.one_of(json_values, st.sampled_from(["", " ", "\t\n", "\u3000", "x" * 101, " " * 101 + "x"])),
        "quantity": st.one_of(json_values, st.sampled_from([0, -1, 1001, 10**30, 1.0, 1.5, True, "1", None])),
        "note": st.one_of(json_values, st.sampled_from(["x" * 501, " " * 501, " x" * 250 + " "])),
        "extra": json_values,
    }[field])
    return order


bodies = st.one_of(
    valid_orders.map(lambda d: json.dumps(d).encode()),
    almost_valid_orders().map(lambda d: json.dumps(d).encode()),
    valid_orders.map(lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    order_like.map(lambda d: json.dumps(d).encode()),
    order_like.map(lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.sampled_from([b"", b"{", b'{"item": "a", "quantity": 1', b'{"a":' * 3000 + b"1" + b"}" * 3000,
                     b'{"item":"pens","quantity":1,"item":"x"}', b"\xef\xbb\xbf{}", b"NaN", b'{"quantity": NaN}',
                     b"[" * 5000, b'{"item":"' + b"x" * 9000 + b'","quantity":1}']),
)


def order_oracle(body: bytes) -> dict | None:
    """The order a body asks for when it is a valid one, from the API's documented rules; else None."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or set(value) - {"item", "quantity", "note"}:
        return None
    item, quantity, note = value.get("item"), value.get("quantity"), value.get("note", "")
    if not isinstance(item, str) or not item.strip() or len(item) > orders_store.MAX_ITEM_LENGTH:
        return None
    if type(quantity) is not int or not 1 <= quantity <= orders_store.MAX_QUANTITY:
        return None
    if not isinstance(note, str) or len(note) > orders_store.MAX_NOTE_LENGTH:
        return None
    return {"item": item.strip(), "quantity": quantity, "note": note.strip()}


@budget(150)
@given(body=bodies, content_type=st.one_of(st.sampled_from(JSON_TYPES), st.sampled_from(JSON_TYPES[:1]),
                                           st.sampled_from(OTHER_TYPES), st.text(latin1, max_size=40)))
def test_order_bodies_create_an_order_exactly_when_valid(fuzz_client, genuine, body, content_type):
    resp = call(fuzz_client, "POST", "/api/orders", f"Bearer {genuine.token}", data=body,
                headers={"Content-Type": content_type})
    answer = assert_api_answer(resp, "POST")
    event(f"{resp.status_code}")
    assert resp.status_code in (201, 400, 413, 415), (resp.status_code, answer)
    if content_type in OTHER_TYPES:
        assert resp.status_code == 415
    if content_type not in JSON_TYPES:
        return
    expected = None if len(body) > 8 * 1024 else order_oracle(body)
    if len(body) > 8 * 1024:
        assert resp.status_code == 413
    elif expected is None:
        assert resp.status_code == 400 and answer["error"] == "invalid_request", (resp.status_code, answer)
    else:
        assert resp.status_code == 201, answer
        assert {k: answer[k] for k in expected} == expected
        assert answer["owner_oid"] == genuine.claims["oid"] and answer["tid"] == genuine.claims["tid"]
