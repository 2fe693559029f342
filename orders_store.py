"""The sample resource: orders in Redis, owned by ``(tid, oid)``, never crossing tenants.

Keys share the tenant as a hash tag (``orders:{tid}:...``) so the multi-key
writes of one tenant land on one Redis Cluster slot.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import redis

# The order and its two index entries, all or nothing. A script rather than a MULTI pipeline:
# redis-py's cluster client refuses transactional pipelines before 6.1 ("transaction is deprecated
# in cluster mode"; pyproject allows 5.2), while EVAL runs on the one slot its keys share.
_CREATE = """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
return 1
"""

MAX_ITEM_LENGTH = 100
MAX_NOTE_LENGTH = 500
MAX_QUANTITY = 1000
LIST_LIMIT = 200


@dataclass(frozen=True)
class Order:
    id: str
    tid: str
    owner_oid: str
    owner_name: str
    item: str
    quantity: int
    note: str
    created_at: float

    def to_json(self) -> dict:
        return dict(vars(self))  # flat fields: dataclasses.asdict's deep copy is ten times slower


class OrderValidationError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("invalid order")
        self.errors = errors


def validate_new_order(body: object) -> dict:
    """Field-by-field checks of a create request; raises with every problem at once."""
    if not isinstance(body, dict):
        raise OrderValidationError({"body": "must be a JSON object"})
    errors: dict[str, str] = {}
    unknown = set(body) - {"item", "quantity", "note"}
    if unknown:
        errors["body"] = f"unknown fields: {', '.join(sorted(map(str, unknown)))}"
    item = body.get("item")
    if not isinstance(item, str) or not item.strip():
        errors["item"] = "required text"
    elif len(item) > MAX_ITEM_LENGTH:
        errors["item"] = f"at most {MAX_ITEM_LENGTH} characters"
    quantity = body.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        errors["quantity"] = f"a whole number from 1 to {MAX_QUANTITY}"
    note = body.get("note", "")
    if not isinstance(note, str):
        errors["note"] = "must be text"
    elif len(note) > MAX_NOTE_LENGTH:
        errors["note"] = f"at most {MAX_NOTE_LENGTH} characters"
    if errors:
        raise OrderValidationError(errors)
    return {"item": item.strip(), "quantity": quantity, "note": note.strip()}


class OrderStore:
    def __init__(self, client: redis.Redis):
        self._redis = client

    @staticmethod
    def _prefix(tid: str) -> str:
        return f"orders:{{{tid}}}"

    def create(self, *, tid: str, owner_oid: str, owner_name: str, item: str, quantity: int, note: str) -> Order:
        order = Order(str(uuid.uuid4()), tid, owner_oid, owner_name, item, quantity, note, time.time())
        prefix = self._prefix(tid)
        keys = [f"{prefix}:order:{order.id}", f"{prefix}:by-owner:{owner_oid}", f"{prefix}:all"]
        self._redis.eval(_CREATE, len(keys), *keys, json.dumps(order.to_json()), repr(order.created_at), order.id)
        return order

    def get(self, tid: str, order_id: str) -> Order | None:
        try:
            uuid.UUID(order_id)
        except ValueError:
            return None
        raw = self._redis.get(f"{self._prefix(tid)}:order:{order_id}")
        return Order(**json.loads(raw)) if raw else None

    def list_for_owner(self, tid: str, owner_oid: str) -> list[Order]:
        return self._load(tid, f"{self._prefix(tid)}:by-owner:{owner_oid}")

    def list_for_tenant(self, tid: str) -> list[Order]:
        return self._load(tid, f"{self._prefix(tid)}:all")

    def _load(self, tid: str, index: str) -> list[Order]:
        ids = self._redis.zrevrange(index, 0, LIST_LIMIT - 1)
        if not ids:
            return []
        prefix = self._prefix(tid)
        raws = self._redis.mget([f"{prefix}:order:{i.decode()}" for i in ids])
        return [Order(**json.loads(r)) for r in raws if r]
