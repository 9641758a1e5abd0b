"""Fixtures of the supply tests.

- The upstream side: the app under a real threaded server on a loopback
  port, and a shop whose supply API is open to a docking partner.
- The downstream side: a shop with a top-up product whose sources are test
  upstreams (``tests/supply/upstream.py``) on loopback ports, short supply
  timeouts, and paid orders made through the services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from app.extensions import db
from tests.agents.money_support import fill_wallet
from tests.factories import add_product, codes, end_outer_transaction, run_in_shop
from tests.live import serving
from tests.supply.support import open_supply, partner_of
from tests.supply.upstream import KEY_ID, SECRET, Upstream, running

#: short enough that a hanging upstream is given up on quickly
READ_TIMEOUT = 0.6
TIMEOUTS = {
    "SUPPLY_CONNECT_TIMEOUT": 1.0,
    "SUPPLY_READ_TIMEOUT": READ_TIMEOUT,
    "SUPPLY_RETRIES": 3,
    "SUPPLY_RETRY_BACKOFF": 0.05,
}


@pytest.fixture
def supply_timeouts(app, monkeypatch):
    """Short timeouts for the app here and for a worker started after it."""
    for name, value in TIMEOUTS.items():
        monkeypatch.setitem(app.config, name, value)
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("SUPPLY_POLL_INTERVAL_SECONDS", "1")
    return TIMEOUTS


@pytest.fixture
def upstreams():
    """upstreams(n, **settings) -> [Upstream, ...], each serving until the test ends."""
    from contextlib import ExitStack

    with ExitStack() as stack:

        def start(n: int = 1, **settings) -> list[Upstream]:
            started = []
            for _ in range(n):
                upstream = Upstream(**settings)
                started.append(stack.enter_context(running(upstream)))
            return started

        yield start


def add_supplier(app, shop, name: str, base_url: str, *, status: str = "active") -> uuid.UUID:
    """An http supplier of ``shop`` with our credential at the test upstream."""
    from app.core.crypto import get_cipher
    from app.supply.models import Supplier

    def make():
        supplier = Supplier(name=name, kind="http", status=status, base_url=base_url, key_id=KEY_ID)
        db.session.add(supplier)
        db.session.flush()
        cipher = get_cipher()
        supplier.secret_key_id = cipher.current_id
        supplier.secret = cipher.encrypt(supplier.id, SECRET)
        db.session.commit()
        return supplier.id

    return run_in_shop(app, shop, make)


def add_source(app, shop, product_id, supplier_id, *, sku="SKU-1", cost=700, priority=0):
    from app.supply.models import ProductSource

    def make():
        source = ProductSource(
            product_id=product_id, supplier_id=supplier_id, sku=sku, cost=cost, priority=priority
        )
        db.session.add(source)
        db.session.commit()
        return source.id

    return run_in_shop(app, shop, make)


@dataclass
class Docked:
    shop: object
    product_id: uuid.UUID
    upstreams: list[Upstream]
    supplier_ids: list[uuid.UUID]


@pytest.fixture
def docked(app, make_shop, upstreams, supply_timeouts):
    """docked(*upstream settings dicts, kind="topup") -> Docked: the shop
    ``alpha`` with a product sourced from one upstream per settings dict,
    the first at the highest priority."""

    def build(*settings: dict, kind: str = "topup") -> Docked:
        shop = make_shop("alpha", "Alpha 直充")
        product_id = add_product(app, shop, name="话费直充 10 元", kind=kind, price=1000)
        started, suppliers = [], []
        for rank, extra in enumerate(settings):
            [upstream] = upstreams(1, kind=kind)
            for name, value in extra.items():
                setattr(upstream, name, value)
            supplier_id = add_supplier(app, shop, f"Upstream {rank + 1}", upstream.base_url)
            add_source(app, shop, product_id, supplier_id, priority=100 - rank)
            started.append(upstream)
            suppliers.append(supplier_id)
        return Docked(shop, product_id, started, suppliers)

    return build


def paid_order(app, shop, product_id, quantity: int = 1, email: str = "buyer@example.com"):
    """A top-up order created and paid (sandbox) through the services; its id."""
    from app.orders import checkout, payment

    def make():
        order, _ = checkout.create_order(
            product_id=product_id, quantity=quantity, email=email, inputs={}
        )
        payment.pay_order(order, "sandbox", buyer_id=None, actor="buyer")
        return order.id

    end_outer_transaction()
    return run_in_shop(app, shop, make)


def fulfil_now(app, shop, order_id) -> str:
    """What the fulfilment job does, in this process."""
    from app.orders import fulfilment

    end_outer_transaction()
    return run_in_shop(app, shop, fulfilment.fulfil, order_id)


def order_row(app, shop, order_id) -> dict:
    from app.orders.models import Order

    def read():
        order = db.session.get(Order, order_id)
        return {
            "status": order.status,
            "last_error": order.last_error,
            "delivered_at": order.delivered_at,
            "paid_at": order.paid_at,
        }

    end_outer_transaction()
    return run_in_shop(app, shop, read)


def attempts_of(app, shop, order_id) -> list[tuple[str, str, str]]:
    """(supplier id, outcome, key) of each of the order's attempts, in order."""
    from sqlalchemy import select

    from app.supply.models import SupplyAttempt

    def read():
        return [
            (str(a.supplier_id), a.outcome, a.idempotency_key)
            for a in db.session.scalars(
                select(SupplyAttempt)
                .where(SupplyAttempt.order_id == order_id)
                .order_by(SupplyAttempt.created_at, SupplyAttempt.id)
            )
        ]

    end_outer_transaction()
    return run_in_shop(app, shop, read)


def tickets_of(app, shop, order_id) -> list[str]:
    from sqlalchemy import select

    from app.orders.models import Ticket

    def read():
        return [
            t.reason for t in db.session.scalars(select(Ticket).where(Ticket.order_id == order_id))
        ]

    end_outer_transaction()
    return run_in_shop(app, shop, read)


@pytest.fixture
def live(app):
    """The app under werkzeug's threaded server on a loopback port."""
    with serving(app) as port:
        yield port


@pytest.fixture
def docking(app, live, make_shop, make_account, make_product):
    """Shop ``alpha`` with its supply API open, an agent ``partner`` holding a
    credential with 500.00 in its wallet, and a card product (``card``,
    10.00, five codes) and a top-up (``topup``, 20.00)."""
    shop = make_shop("alpha", key_role="owner")
    agent = make_account(shop, "dock@alpha.example.com", "agent")
    card = make_product(shop, name="Steam 10", price=1_000, stock=codes("ST", 5))
    topup = make_product(
        shop,
        name="Phone top-up",
        price=2_000,
        kind="topup",
        input_fields=[{"name": "phone", "label": "Phone", "required": True}],
    )
    open_supply(app, shop)
    fill_wallet(app, shop, agent.id, 50_000)
    partner = partner_of(app, live, shop, agent.email)
    return {"shop": shop, "agent": agent, "card": card, "topup": topup, "partner": partner}
