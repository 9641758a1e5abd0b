"""The demo's second shop (``flask demo seed``): ``supply`` opens its
catalogue for docking, and the demo shop docks a card product and a top-up
from it through a platform supplier; seeding twice changes nothing, and
the seeded pair delivers a code that ``supply`` sold."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from app.extensions import db
from tenants.context import all_tenants
from tests.factories import run_in_shop
from tests.supply.conftest import fulfil_now, order_row, paid_order


def _seed(app):
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    with app.app_context():
        db.session.remove()
    assert result.exit_code == 0, result.output
    return result


def _shop_id(app, slug):
    from tenants.models import Tenant

    with app.app_context():
        try:
            return db.session.scalar(select(Tenant.id).where(Tenant.slug == slug))
        finally:
            db.session.remove()


def _counts(app) -> dict[str, int]:
    from app.catalog.models import Card, Product
    from app.ledger.models import LedgerTransaction
    from app.pricing.models import AgentTier, PriceRule
    from app.supply.models import ProductSource, Supplier, SupplyCredential

    models = (
        Product,
        Card,
        Supplier,
        ProductSource,
        SupplyCredential,
        AgentTier,
        PriceRule,
        LedgerTransaction,
    )
    with app.app_context(), all_tenants():
        try:
            return {
                m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in models
            }
        finally:
            db.session.remove()


def test_seeding_twice_builds_the_docking_pair_once(app, monkeypatch):
    from app.core.crypto import get_cipher
    from app.ledger import services as ledger
    from app.supply.demo import CARD, PARTNER_FUNDS, TOPUP
    from app.supply.models import ProductSource, Supplier, SupplyCredential
    from tenants.models import Tenant

    monkeypatch.setitem(app.config, "PUBLIC_PORT", "5000")
    _seed(app)
    first = _counts(app)
    _seed(app)

    assert _counts(app) == first
    supply, demo = _shop_id(app, "supply"), _shop_id(app, "demo")
    assert supply and demo

    def upstream():
        from app.accounts.models import ShopAccount
        from app.catalog.models import Product

        partner = db.session.scalar(
            select(ShopAccount).where(ShopAccount.email == "partner@example.com")
        )
        credential = db.session.scalar(
            select(SupplyCredential).where(SupplyCredential.account_id == partner.id)
        )
        products = {
            p.name: (str(p.id), p.kind, p.stock_available)
            for p in db.session.scalars(select(Product))
        }
        return {
            "open": db.session.get(Tenant, supply).supply_open,
            "balance": ledger.wallet_balance(partner.id),
            "key_id": credential.key_id,
            "products": products,
        }

    up = run_in_shop(app, supply, upstream)
    assert up["open"] and up["balance"] == PARTNER_FUNDS
    assert up["products"][CARD.name][1:] == ("card", 100)
    assert up["products"][TOPUP.name][1:] == ("topup", 0)

    def downstream():
        from app.catalog.models import Product

        supplier = db.session.scalar(select(Supplier))
        secret = get_cipher().decrypt(supplier.id, supplier.secret_key_id, supplier.secret)
        links = {
            db.session.get(Product, s.product_id).name: (s.sku, s.cost, s.enabled)
            for s in db.session.scalars(select(ProductSource))
        }
        return supplier.kind, supplier.status, supplier.base_url, supplier.key_id, secret, links

    kind, status, url, key_id, secret, links = run_in_shop(app, demo, downstream)
    assert (kind, status, url) == ("platform", "active", "http://supply.localhost:5000/supply/v1")
    assert key_id == up["key_id"] and secret
    assert links == {
        CARD.name: (up["products"][CARD.name][0], CARD.partner_price, True),
        TOPUP.name: (up["products"][TOPUP.name][0], TOPUP.partner_price, True),
    }


def test_the_seeded_demo_shop_sells_a_code_that_supply_delivered(app, live, monkeypatch):
    from app.catalog.models import Product
    from app.orders import lookups
    from app.orders.models import Order
    from app.supply.demo import CARD

    monkeypatch.setitem(app.config, "PUBLIC_PORT", str(live))
    _seed(app)
    supply, demo = _shop_id(app, "supply"), _shop_id(app, "demo")
    card_id = run_in_shop(
        app, demo, lambda: db.session.scalar(select(Product.id).where(Product.name == CARD.name))
    )

    order_id = paid_order(app, demo, card_id, email="guest@example.com")
    assert fulfil_now(app, demo, order_id) == "delivered", order_row(app, demo, order_id)

    def codes_of_demo():
        return [c["code"] for c in lookups.delivered_codes(db.session.get(Order, order_id))]

    def codes_sold_at_supply():
        sold = db.session.scalars(select(Order).where(Order.status == "delivered")).all()
        return [c["code"] for o in sold for c in lookups.delivered_codes(o)]

    [code] = run_in_shop(app, demo, codes_of_demo)
    assert code.startswith("GP-")
    assert run_in_shop(app, supply, codes_sold_at_supply) == [code]


def test_the_stock_sync_reads_the_seeded_supply_shop_without_waiting_on_its_own_database(
    app, live, monkeypatch
):
    from app.catalog.models import Product
    from app.supply import sync
    from app.supply.demo import CARD, TOPUP
    from app.supply.models import ProductSource

    monkeypatch.setitem(app.config, "PUBLIC_PORT", str(live))
    monkeypatch.setitem(app.config, "SUPPLY_READ_TIMEOUT", 5.0)
    _seed(app)
    demo = _shop_id(app, "demo")

    started = time.monotonic()
    answered = run_in_shop(app, demo, sync.sync_due)
    elapsed = time.monotonic() - started

    def synced():
        return {
            db.session.get(Product, s.product_id).name: (s.stock, s.cost, s.sync_failures)
            for s in db.session.scalars(select(ProductSource))
        }

    assert answered == 2, run_in_shop(app, demo, synced)
    assert elapsed < 5.0  # no request waited on a lock the sync held
    assert run_in_shop(app, demo, synced) == {
        CARD.name: (100, CARD.partner_price, 0),
        TOPUP.name: (None, TOPUP.partner_price, 0),
    }
