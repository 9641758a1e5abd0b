"""Killing the worker in the middle of fulfilment loses no order and
delivers none twice: a real worker process is SIGKILLed while it works
through a queue of paid orders, a new one starts, and every order ends up
delivered exactly once (the sweeper re-enqueues what the dead worker held)."""

from __future__ import annotations

import signal
import time

from sqlalchemy import func, select

from app.catalog.models import Card
from app.extensions import db
from app.ledger import services as ledger
from app.orders import checkout, lookups, payment
from app.orders.models import Order, OrderEvent
from tenants.context import tenant_context
from tests.conftest import start_worker, stop_worker
from tests.factories import add_product, codes

ORDERS = 200


def test_a_worker_killed_mid_fulfilment_loses_nothing_and_delivers_once(
    app, app_config, make_shop, monkeypatch
):
    from app.core.queues import QUEUE_NAMES, get_queue

    # For the workers started below: sweep every second, and take over an
    # order a killed worker held after 10 s rather than a minute.
    monkeypatch.setenv("ORDER_SWEEP_INTERVAL_SECONDS", "1")
    monkeypatch.setenv("ORDER_FULFIL_LEASE_SECONDS", "10")

    with app.app_context():  # jobs earlier tests left behind are not this test's
        for name in QUEUE_NAMES:
            get_queue(name, app).empty()
    tenant = make_shop("alpha", "Alpha")
    product_id = add_product(app, tenant, stock=codes("KILL", ORDERS), max_quantity=1)
    order_ids = []
    with app.app_context(), tenant_context(tenant):
        for n in range(ORDERS):
            order, _ = checkout.create_order(
                product_id=product_id, quantity=1, email=f"b{n}@example.com"
            )
            order_ids.append(order.id)
        for order_id in order_ids:  # each confirmation queues a fulfilment job
            order = lookups.get_order_by_id(order_id)
            payment.confirm_payment(
                order.id,
                provider="sandbox",
                provider_ref=f"sb_{order.id.hex}",
                amount=order.total,
                actor="test",
            )
        db.session.remove()

    first = start_worker(app, app_config)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with app.app_context(), tenant_context(tenant):
                done = db.session.scalar(select(func.count()).where(Order.status == "delivered"))
                db.session.remove()
            if done:
                break
            time.sleep(0.02)
    finally:
        stop_worker(first, signal.SIGKILL)  # mid-queue: the first deliveries are in

    with app.app_context(), tenant_context(tenant):
        delivered_at_kill = db.session.scalar(
            select(func.count()).where(Order.status == "delivered")
        )
        db.session.remove()

    second = start_worker(app, app_config)
    try:
        deadline = time.monotonic() + 120  # lease 10 s + sweeper every second, as a bound
        remaining = ORDERS
        while time.monotonic() < deadline and remaining:
            time.sleep(1)
            with app.app_context(), tenant_context(tenant):
                remaining = db.session.scalar(
                    select(func.count()).where(Order.status != "delivered")
                )
                db.session.remove()
    finally:
        stop_worker(second)

    assert 0 < delivered_at_kill < ORDERS  # the kill did land mid-queue
    with app.app_context(), tenant_context(tenant):
        statuses = dict(
            db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
        )
        assert statuses == {"delivered": ORDERS}
        deliveries = db.session.execute(
            select(OrderEvent.order_id, func.count())
            .where(OrderEvent.to_status == "delivered")
            .group_by(OrderEvent.order_id)
        ).all()
        assert len(deliveries) == ORDERS
        assert all(count == 1 for _, count in deliveries)
        per_order = db.session.execute(
            select(Card.order_id, func.count()).where(Card.status == "sold").group_by(Card.order_id)
        ).all()
        assert len(per_order) == ORDERS and all(count == 1 for _, count in per_order)
        assert sum(ledger.trial_balance().values()) == 0
        db.session.remove()
