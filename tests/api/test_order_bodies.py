"""POST /api/orders: JSON only, at most 8 KB, every field checked, every problem reported at once."""

from __future__ import annotations

import io
import json

import pytest

from .conftest import READ_WRITE
from .helpers import MEGAN, bearer


@pytest.fixture
def post(client, tokens):
    token = tokens.user(MEGAN, READ_WRITE)

    def send(**kwargs):
        return client.post("/api/orders", headers=bearer(token), **kwargs)

    return send


def test_a_valid_order_is_created(post):
    resp = post(json={"item": "  Stapler  ", "quantity": 1000, "note": "n" * 500})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["item"], body["quantity"], body["note"]) == ("Stapler", 1000, "n" * 500)


def test_a_non_ascii_order_is_created(post):
    resp = post(json={"item": "Bürostuhl ☃", "quantity": 1})
    assert resp.status_code == 201 and resp.get_json()["item"] == "Bürostuhl ☃"


@pytest.mark.parametrize(
    "body, errors",
    [
        ({}, {"item", "quantity"}),
        ({"item": 5, "quantity": 1}, {"item"}),
        ({"item": "   ", "quantity": 1}, {"item"}),
        ({"item": "x" * 101, "quantity": 1}, {"item"}),
        ({"item": "x", "quantity": "3"}, {"quantity"}),
        ({"item": "x", "quantity": 1.5}, {"quantity"}),
        ({"item": "x", "quantity": True}, {"quantity"}),
        ({"item": "x", "quantity": 0}, {"quantity"}),
        ({"item": "x", "quantity": 1001}, {"quantity"}),
        ({"item": "x", "quantity": -1}, {"quantity"}),
        ({"item": "x", "quantity": 1, "note": 7}, {"note"}),
        ({"item": "x", "quantity": 1, "note": "n" * 501}, {"note"}),
        ({"item": "x", "quantity": 1, "owner_oid": "someone-else"}, {"body"}),
        ({"item": "x", "quantity": 1, "tid": "22222222-2222-4222-8222-222222222222"}, {"body"}),
        ({"item": None, "quantity": None, "note": None, "id": "x"}, {"item", "quantity", "note", "body"}),
    ],
    ids=["empty", "item-number", "item-blank", "item-101", "quantity-string", "quantity-float", "quantity-bool",
         "quantity-0", "quantity-1001", "quantity-negative", "note-number", "note-501", "unknown-owner",
         "unknown-tid", "everything-wrong"],
)
def test_invalid_fields_get_400_with_field_errors(post, body, errors):
    resp = post(json=body)
    assert resp.status_code == 400, resp.get_json()
    answer = resp.get_json()
    assert answer["error"] == "invalid_request"
    assert set(answer["errors"]) == errors
    assert all(isinstance(v, str) and v for v in answer["errors"].values())


@pytest.mark.parametrize("body", ["[]", '"order"', "42", "null", "{not json", '{"item": "x", "quantity": 1'])
def test_json_that_is_not_an_object_gets_400(post, body):
    resp = post(data=body, content_type="application/json")
    assert resp.status_code == 400 and resp.mimetype == "application/json"
    assert resp.get_json()["errors"] == {"body": "must be a JSON object"}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/xml", None])
def test_a_body_that_is_not_json_gets_415(post, content_type):
    kwargs = {"data": json.dumps({"item": "x", "quantity": 1})}
    if content_type:
        kwargs["content_type"] = content_type
    resp = post(**kwargs)
    assert resp.status_code == 415 and resp.mimetype == "application/json"
    assert resp.get_json()["error"] == "invalid_request"


def test_a_body_over_8_kb_gets_413(post, redis_client):
    resp = post(json={"item": "x", "quantity": 1, "note": "n" * (8 * 1024)})
    assert resp.status_code == 413 and resp.mimetype == "application/json"
    assert not redis_client.keys("orders:*"), "nothing was stored"


def test_a_body_of_exactly_8_kb_is_read(post):
    body = json.dumps({"item": "x", "quantity": 1, "note": ""}).encode()
    padded = body[:-1] + b" " * (8 * 1024 - len(body)) + b"}"
    assert len(padded) == 8 * 1024
    assert post(data=padded, content_type="application/json").status_code == 201


def test_a_huge_body_gets_413_not_5xx(post):
    resp = post(data=b"{" + b" " * (200 * 1024) + b"}", content_type="application/json")
    assert resp.status_code == 413 and resp.mimetype == "application/json"


def test_a_chunked_body_over_8_kb_gets_413(client, tokens, redis_client):
    body = json.dumps({"item": "x", "quantity": 1, "note": ""}).encode()
    body = body[:-1] + b" " * (20 * 1024) + b"}"
    headers = {**bearer(tokens.user(MEGAN, READ_WRITE)), "Content-Type": "application/json",
               "Transfer-Encoding": "chunked"}
    resp = client.post("/api/orders", headers=headers, input_stream=io.BytesIO(body),
                       environ_overrides={"wsgi.input_terminated": True})
    assert resp.status_code == 413, (resp.status_code, resp.get_json())
    assert not redis_client.keys("orders:*"), "nothing was stored"
