"""Helpers of the supply tests.

- Suppliers and sources made through the real services in a shop's context.
- The supply API's side: a docking partner that signs its requests to a
  shop served by a real HTTP server on a loopback port, and the shop's side
  set up through the real services."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from app.extensions import db
from app.supply import signing
from tests.factories import Shop, run_in_shop
from tests.live import send

HTTP = {
    "name": "Upstream",
    "kind": "http",
    "base_url": "https://up.example.com/supply/v1",
    "key_id": "sk_live_1",
    "secret": "s3cret-value",
}


def make_supplier(app, shop: Shop, **fields) -> uuid.UUID:
    """A supplier (an http one named Upstream unless ``fields`` say otherwise)."""
    from app.supply import suppliers

    data = {**HTTP, **fields}
    if data["kind"] == "account":
        for key in ("base_url", "key_id", "secret"):
            data.pop(key, None)
    return run_in_shop(app, shop, lambda: suppliers.create_supplier(data, actor="test").id)


def make_source(app, shop: Shop, product_id, supplier_id, **fields) -> uuid.UUID:
    from app.supply import sources

    data = {"supplier_id": str(supplier_id), "sku": "SKU-1", **fields}
    return run_in_shop(app, shop, lambda: sources.add_source(product_id, data, actor="test").id)


@dataclass(frozen=True)
class Partner:
    """A docking partner holding one credential of ``shop``."""

    port: int
    shop: Shop
    key_id: str
    secret: str
    account_id: uuid.UUID
    credential_id: uuid.UUID

    def request(self, method: str, path: str, payload=None, *, headers=None, raw=None):
        """A signed request (``headers`` replace the signed ones); the answer
        with ``.body`` and ``.json``."""
        body = (
            raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        )
        signed = signing.sign(self.key_id, self.secret, method, path, body)
        signed.update(headers or {})
        answer = send(self.port, method, path, host=self.shop.host, body=body, headers=signed)
        answer.json = json.loads(answer.body) if answer.body else None
        return answer

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, payload, **kw):
        return self.request("POST", path, payload, **kw)


def issue(app, shop: Shop, email: str, callback_url: str | None = None) -> dict:
    """A credential issued through the service, as the console does: its
    ``key_id``, ``secret``, ``account_id`` and ``id``."""
    from app.supply import credentials

    def make() -> dict:
        issued = credentials.issue_credential(
            email=email, name="partner", callback_url=callback_url, actor="test"
        )
        row = issued.credential
        return {
            "key_id": row.key_id,
            "secret": issued.secret,
            "account_id": row.account_id,
            "id": row.id,
        }

    return run_in_shop(app, shop, make)


def open_supply(app, shop: Shop, is_open: bool = True) -> None:
    from app.supply import credentials

    run_in_shop(app, shop, lambda: credentials.set_supply_open(is_open, actor="test"))


def partner_of(app, port: int, shop: Shop, email: str, callback_url: str | None = None) -> Partner:
    issued = issue(app, shop, email, callback_url)
    return Partner(
        port, shop, issued["key_id"], issued["secret"], issued["account_id"], issued["id"]
    )


def order_count(app, shop: Shop) -> int:
    from sqlalchemy import func, select

    from app.orders.models import Order

    return run_in_shop(
        app, shop, lambda: db.session.scalar(select(func.count()).select_from(Order))
    )


def balance(app, shop: Shop, account_id) -> int:
    from app.ledger import services as ledger

    return run_in_shop(app, shop, lambda: ledger.wallet_balance(account_id))


def assert_problem(answer, status: int, slug: str) -> dict:
    """A JSON problem document of ``status`` and ``slug``, with the protocol header."""
    assert answer.status == status, answer.body
    assert answer.getheader("Content-Type", "").startswith("application/problem+json"), answer.body
    assert answer.getheader(signing.H_PROTOCOL) == signing.PROTOCOL_VERSION
    body = answer.json
    assert body["type"].rsplit("/", 1)[1] == slug, body
    assert body["status"] == status and body["title"] and body["detail"]
    return body
