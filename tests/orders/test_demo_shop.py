"""The run command's demo shop sells a card product out of the box."""

from __future__ import annotations

from app.extensions import db
from tests.factories import run_in_shop
from tests.orders.support import pay, placed


def _seed(app) -> None:
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        db.session.remove()


def _demo(app):
    from sqlalchemy import select

    from tenants.context import all_tenants
    from tenants.models import Tenant

    with app.app_context(), all_tenants():
        tenant_id = db.session.scalar(select(Tenant.id).where(Tenant.slug == "demo"))
        db.session.remove()
    return tenant_id


def _demo_card(app, tenant_id):
    from sqlalchemy import select

    from app.catalog import stock
    from app.catalog.models import Product
    from app.cli import DEMO_CARD

    def find():  # the demo shop's own card (the docked products have sources)
        product = db.session.scalars(select(Product).where(Product.name == DEMO_CARD[0])).one()
        return product.id, product.name, product.price, stock.counts(product.id)["available"]

    return run_in_shop(app, tenant_id, find)


def test_the_demo_seed_puts_a_card_product_with_200_codes_on_sale_once(app):
    _seed(app)
    _seed(app)

    product_id, name, price, available = _demo_card(app, _demo(app))

    assert name == "Steam 钱包充值卡 ¥100" and price == 10000 and available == 200


def test_a_guest_buys_from_the_demo_shop(app, browser_for):
    from app.orders import fulfilment, lookups

    _seed(app)
    tenant_id = _demo(app)
    product_id, *_ = _demo_card(app, tenant_id)
    guest = browser_for("demo.localhost")

    order = placed(guest, product_id, email="guest@example.com")
    assert pay(guest, order).status_code == 200
    number = order["number"]
    run_in_shop(app, tenant_id, lambda: fulfilment.fulfil(lookups.get_order(number).id))

    seen = guest.get(f"/api/v1/orders/{number}?token={order['lookup_token']}").get_json()
    assert seen["status"] == "delivered" and len(seen["codes"]) == 1


def test_the_demo_agent_sees_its_tier_price_and_its_sub_shop_marks_it_up(app, browser_for):
    from app.cli import DEMO_AGENT

    _seed(app)
    _seed(app)  # idempotent: one agent, two tiers, one coupon
    tenant_id = _demo(app)
    product_id, *_ = _demo_card(app, tenant_id)
    agent = browser_for("demo.localhost")
    signed_in = agent.submit("/account/login", {"email": DEMO_AGENT[0], "password": DEMO_AGENT[1]})
    assert signed_in.status_code == 302

    mine = agent.get(f"/api/v1/products/{product_id}").get_json()
    guest = browser_for("demo.localhost")
    sub_shop = guest.get(f"/s/star/p/{product_id}")

    assert mine["price"] == 9_000 and mine["retail_price"] == 10_000
    assert guest.get(f"/api/v1/products/{product_id}").get_json()["price"] == 10_000
    assert sub_shop.status_code == 200 and "¥99.00" in sub_shop.get_data(as_text=True)

    def counts():
        from sqlalchemy import func, select

        from app.pricing.models import AgentTier, Coupon

        return (
            db.session.scalar(select(func.count(AgentTier.id))),
            db.session.scalar(select(func.count(Coupon.id))),
        )

    assert run_in_shop(app, tenant_id, counts) == (2, 1)
