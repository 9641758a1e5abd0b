"""A stampede on a small stock: 10,000 concurrent purchase attempts on 1,000
codes, with a real worker delivering.

Each attempt is what a buyer's two requests do, run through the service
layer (``orders.checkout.create_order`` then
``orders.payment.pay_order(order, "sandbox", ...)``) in its own app context
and shop context, from a pool of 15 threads (as many as the app's
SQLAlchemy pool has connections, 5 + 10 overflow: more threads would only
queue for a connection, and time out on a loaded machine): HTTP would add the test
client's request handling, ten thousand times, on a 2-core machine, and
prove nothing more about stock or money. The ``worker`` fixture is a real
``flask worker`` process fulfilling from Redis.

Expected: exactly 1,000 orders delivered, 9,000 clear sold-out errors
(``out-of-stock``), nothing else; no card in two orders, one sold card per
delivered order, the stock counter at 0, and the ledger balanced with
sales of 1,000 × the price.

A PostgreSQL concurrency test (``FOR UPDATE SKIP LOCKED`` under load): it is
skipped on SQLite, where writers are serialised anyway.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.extensions import db

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
    reason="a PostgreSQL concurrency test (row locks, SKIP LOCKED); SQLite serialises writers",
)

CODES = 1_000
ATTEMPTS = 10_000
THREADS = 15  # the app's connection pool: 5 + 10 overflow
PRICE = 2_500
DELIVERY_TIMEOUT = 180.0  # seconds: a bound for 1,000 deliveries, not a measure


def _import_codes(app, tenant, product_id) -> None:
    """1,000 codes through ``imports.start_import`` (synchronous under the
    sync limit; a queued import is waited for, the worker runs it)."""
    from app.catalog import imports
    from app.catalog.models import CardImport

    lines = [f"STAMPEDE-{i:05d}-{uuid.uuid4().hex[:10].upper()}" for i in range(CODES)]
    with app.app_context(), _shop(tenant):
        record = imports.start_import(product_id, "\n".join(lines).encode(), "stampede.txt", "test")
        import_id = record.id
        deadline = time.monotonic() + 60
        while record.status not in ("done", "rejected", "failed"):
            assert time.monotonic() < deadline, "the import did not finish in 60 s"
            time.sleep(0.2)
            db.session.expire_all()
            record = db.session.scalar(select(CardImport).where(CardImport.id == import_id))
        assert record.status == "done" and record.imported == CODES, imports.report_of(record)
        db.session.remove()


def _shop(tenant):
    from tenants.context import tenant_context

    return tenant_context(tenant)


def test_ten_thousand_buyers_on_one_thousand_codes(app, make_shop, worker):
    from app.catalog.models import Card, Product
    from app.catalog.stock import OutOfStock
    from app.ledger import services as ledger
    from app.orders import checkout, payment
    from app.orders.models import Order

    tenant = make_shop("stampede", "Stampede")
    with app.app_context(), _shop(tenant):
        product = Product(name="Stampede card", kind="card", price=PRICE, status="on_sale")
        db.session.add(product)
        db.session.commit()
        product_id = product.id
        db.session.remove()
    _import_codes(app, tenant, product_id)

    outcomes: Counter[str] = Counter()
    sold_out_messages: Counter[str] = Counter()
    others: list[str] = []
    paid: list[uuid.UUID] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        with app.app_context(), _shop(tenant):
            try:
                order, created = checkout.create_order(
                    product_id=product_id, quantity=1, email=f"buyer{i}@example.com"
                )
                assert created
                result = payment.pay_order(order, "sandbox", buyer_id=None, actor="guest")
                assert result.status == "succeeded", result
                with lock:
                    outcomes["paid"] += 1
                    paid.append(order.id)
            except OutOfStock as err:
                with lock:
                    outcomes["sold_out"] += 1
                    sold_out_messages[f"{err.slug}|{err.status}|{err.detail}"] += 1
            except Exception as err:  # noqa: BLE001 - every other outcome is a failure, counted
                with lock:
                    outcomes["other"] += 1
                    others.append(f"{type(err).__name__}: {err}")
            finally:
                db.session.remove()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(attempt, range(ATTEMPTS)))
    buying_seconds = time.monotonic() - started

    assert others == [], others[:5]
    assert outcomes == {"paid": CODES, "sold_out": ATTEMPTS - CODES}, outcomes
    for key in sold_out_messages:
        slug, status, message = key.split("|", 2)
        assert slug == "out-of-stock" and status == "409", key
        assert "sold out" in message or " left" in message, message

    # Every paid order is delivered by the worker (a bounded wait).
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    with app.app_context(), _shop(tenant):
        while True:
            statuses = dict(
                db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
            )
            db.session.rollback()
            if statuses.get("delivered", 0) >= CODES or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        assert statuses == {"delivered": CODES}, statuses
        delivered_ids = set(
            db.session.scalars(select(Order.id).where(Order.status == "delivered")).all()
        )
        assert delivered_ids == set(paid)

        # No card in two orders; each delivered order holds exactly one sold card.
        cards = Counter(
            dict(
                db.session.execute(
                    select(Card.status, func.count())
                    .where(Card.product_id == product_id)
                    .group_by(Card.status)
                ).all()
            )
        )
        assert cards == {"sold": CODES}, cards
        per_order = dict(
            db.session.execute(
                select(Card.order_id, func.count())
                .where(Card.product_id == product_id, Card.status == "sold")
                .group_by(Card.order_id)
            ).all()
        )
        assert set(per_order) == delivered_ids
        assert set(per_order.values()) == {1}
        assert db.session.scalar(select(func.count(func.distinct(Card.id)))) == CODES
        assert (
            db.session.scalar(select(Product.stock_available).where(Product.id == product_id)) == 0
        )

        # The ledger: balanced, sales of 1,000 × the price, cached balances right.
        balances = ledger.trial_balance()
        assert sum(balances.values()) == 0, balances
        assert balances[ledger.SALES] == CODES * PRICE, balances
        assert balances[ledger.clearing_code("sandbox")] == -CODES * PRICE, balances
        assert ledger.cached_balances_match()
        db.session.remove()

    print(f"\nstampede: {ATTEMPTS} attempts by {THREADS} threads in {buying_seconds:.1f} s")
