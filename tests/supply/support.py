"""Helpers of the supply tests: suppliers and sources made through the real
services in a shop's context."""

from __future__ import annotations

import uuid

from tests.factories import Shop, run_in_shop

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
