"""The floor for a signed-in page: a bare Flask route doing the same Redis reads as ``/orders``.

It reads the very keys the Orders app reads for a signed-in ``/orders``
(the session, the user's token-cache partition, the user's order index and
their orders; named by ``BENCH_BARE_KEYS``), and renders the same template,
but validates, decrypts and acquires nothing. ``/api/orders-open`` is the
API's list handler without authentication, for the throughput comparison.
"""

from __future__ import annotations

import json
import os

import redis
from flask import jsonify, render_template

from bench.page_shell import PageUser, shell_app
from orders_store import OrderStore


def create_app():
    app = shell_app(__name__)
    app.config.update(SECRET_KEY=os.environ["SECRET_KEY"], SESSION_COOKIE_SECURE=True)
    client = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=2)
    keys = json.loads(os.environ.get("BENCH_BARE_KEYS", "{}"))
    user = PageUser(name=keys.get("name", ""), claims={"preferred_username": keys.get("name", "")})

    @app.get("/orders")
    def orders():
        client.get(keys["session"])
        client.get(keys["token_cache"])
        ids = client.zrevrange(keys["index"], 0, 199)
        raws = client.mget([f"{keys['order_prefix']}{i.decode()}" for i in ids]) if ids else []
        mine = [json.loads(r) for r in raws if r]
        return render_template("orders.html", orders=mine, draft={}, errors={}, current_user=user,
                               web_enabled=True)

    @app.get("/api/orders-open")
    def orders_open():
        store = OrderStore(client)
        mine = store.list_for_owner(keys["tid"], keys["oid"])
        return jsonify({"orders": [o.to_json() for o in mine], "scope": "own"})

    return app
