"""The public product list writes each product out by hand
(``schemas.public_product``); what it writes is what the documented
schema (``PublicProductSchema``) would, for every kind of product."""

from __future__ import annotations

import io

from tests.factories import run_in_shop
from tests.storefront.support import build_catalogue

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
    b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def test_the_hand_written_public_product_is_the_schemas_dump(app, shop, browser_for):
    from app.catalog import browse, images, services
    from app.catalog.schemas import PublicProductSchema, public_product
    from tests.pricing.support import add_rule

    catalogue = build_catalogue(app, shop)  # card with stock, sold out, top-up with inputs
    run_in_shop(app, shop, lambda: images.add_image(catalogue.steam, io.BytesIO(PNG)))
    run_in_shop(
        app, shop, services.create_product, {"name": "Manual", "price": 9, "status": "on_sale"}
    )
    add_rule(app, shop, product_id=catalogue.steam, price=1000)  # a price below the list price

    def both():
        items, total = browse.public_products(page=1, per_page=20)
        schema = PublicProductSchema()
        return [(public_product(i), schema.dump(i)) for i in items], total

    with app.test_request_context("/", base_url=f"http://{shop.host}"):
        pairs, total = run_in_shop(app, shop, both)

    assert total == 4 and len(pairs) == 4
    for written, dumped in pairs:
        assert written == dumped
    kinds = {w["name"]: w for w, _ in pairs}
    assert any(w["images"] for w in kinds.values())
    assert any(w["input_fields"] for w in kinds.values())
    assert any(w["stock"] is None for w in kinds.values())
    assert any(w["price"] < w["retail_price"] for w in kinds.values())
