"""Helpers of the payment tests: orders placed and paid through the
services, reads of what a shop's database holds, and signed Stripe events.
Shops, accounts and products come from ``tests/factories.py``."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import func, select

from app.extensions import db
from tests.factories import PASSWORD, Shop, run_in_shop

WEBHOOK_SECRET = "whsec_kameng_payment_tests"
T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 30, every: float = 0.05) -> T | None:
    """Poll ``condition`` until it returns something truthy (returned) or
    ``timeout`` seconds pass (``None``). A deadline, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(every)


# --- orders -------------------------------------------


@dataclass(frozen=True)
class PlacedOrder:
    id: uuid.UUID
    number: str
    total: int


def place_order(
    app, shop: Shop, product_id: uuid.UUID, *, quantity: int = 1, buyer_id=None
) -> PlacedOrder:
    from app.orders.checkout import create_order
    from tenants.context import tenant_context

    with app.app_context(), tenant_context(shop.id):
        order, _ = create_order(
            product_id=product_id,
            quantity=quantity,
            email=f"buyer@{shop.slug}.example.com",
            buyer_id=buyer_id,
        )
        placed = PlacedOrder(order.id, order.number, order.total)
        db.session.remove()
    return placed


def pay(app, shop: Shop, order_id: uuid.UUID, provider: str, *, buyer_id=None):
    """Start paying the order the way the pay endpoint does; the PaymentStart."""
    from app.orders.lookups import get_order_by_id
    from app.orders.payment import pay_order
    from tenants.context import tenant_context

    with app.app_context(), tenant_context(shop.id):
        try:
            return pay_order(get_order_by_id(order_id), provider, buyer_id=buyer_id, actor="buyer")
        finally:
            db.session.remove()


# --- the API as a signed-in buyer ----------------------------------------


def signed_in(browser_for, shop, email: str):
    """A browser signed in to ``shop`` as the account ``email``, and the CSRF
    header its API writes carry."""
    browser = browser_for(shop.host)
    response = browser.submit("/account/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser, {"X-CSRFToken": browser.csrf_token("/account/login")}


# --- reading a shop's state -----------------------------------------------


def order_status(app, shop: Shop, order_id: uuid.UUID) -> str:
    from app.orders.models import Order

    return run_in_shop(
        app, shop, lambda: db.session.scalar(select(Order.status).where(Order.id == order_id))
    )


def ledger_keys(app, shop: Shop) -> list[str]:
    from app.ledger.models import LedgerTransaction

    return run_in_shop(
        app,
        shop,
        lambda: sorted(db.session.scalars(select(LedgerTransaction.idempotency_key)).all()),
    )


def sold_cards(app, shop: Shop, order_id: uuid.UUID) -> int:
    from app.catalog.models import Card

    return run_in_shop(
        app,
        shop,
        lambda: db.session.scalar(
            select(func.count(Card.id)).where(Card.order_id == order_id, Card.status == "sold")
        ),
    )


def deliveries(app, shop: Shop, order_id: uuid.UUID) -> int:
    """How many times the order moved to delivered (its history)."""
    from app.orders.models import OrderEvent

    return run_in_shop(
        app,
        shop,
        lambda: db.session.scalar(
            select(func.count(OrderEvent.id)).where(
                OrderEvent.order_id == order_id, OrderEvent.to_status == "delivered"
            )
        ),
    )


def payment_of(app, shop: Shop, ref: str) -> dict | None:
    from app.payments.models import Payment

    def read():
        p = db.session.scalar(select(Payment).where(Payment.provider_ref == ref))
        if p is None:
            return None
        return {"id": p.id, "status": p.status, "amount": p.amount, "refunded": p.refunded}

    return run_in_shop(app, shop, read)


def wallet(app, shop: Shop, account_id: uuid.UUID) -> int:
    from app.ledger.services import wallet_balance

    return run_in_shop(app, shop, lambda: wallet_balance(account_id))


def stored_events(app, **where) -> list[dict]:
    """Stored provider events (platform-level), oldest first."""
    from app.payments.models import ProviderEvent

    with app.app_context():
        query = select(ProviderEvent).order_by(ProviderEvent.received_at, ProviderEvent.id)
        for name, value in where.items():
            query = query.where(getattr(ProviderEvent, name) == value)
        rows = [
            {
                "event_id": e.event_id,
                "type": e.event_type,
                "outcome": e.outcome,
                "tenant_id": e.tenant_id,
            }
            for e in db.session.scalars(query)
        ]
        db.session.remove()
    return rows


def assert_ledgers_balanced(app) -> None:
    """Every shop: entries sum to zero and cached wallet balances match."""
    from app.ledger import services as ledger
    from tenants.context import tenant_context
    from tenants.models import Tenant

    with app.app_context():
        shop_ids = list(db.session.scalars(select(Tenant.id)))
        for shop_id in shop_ids:
            with tenant_context(shop_id):
                assert sum(ledger.trial_balance().values()) == 0, ledger.trial_balance()
                assert ledger.cached_balances_match()
        db.session.remove()


# --- Stripe events and the webhook ----------------------------------------


def sign(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header as Stripe computes it."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def stripe_event(
    event_type: str, obj: dict, *, account: str | None = None, livemode: bool = False
) -> bytes:
    """A Stripe event (``evt_…``) carrying ``obj``, as JSON bytes."""
    event = {
        "id": "evt_" + secrets.token_hex(12),
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": livemode,
        "data": {"object": obj},
    }
    if account:
        event["account"] = account
    return json.dumps(event).encode()


def post_webhook(base: str, body: bytes, signature: str | None, host: str = "localhost"):
    """POST to ``/api/v1/webhooks/stripe`` of the live app: (status, JSON body)."""
    headers = {"Content-Type": "application/json; charset=utf-8", "Host": host}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    request = urllib.request.Request(
        base + "/api/v1/webhooks/stripe", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def intent_dict(intent) -> dict:
    """A stripe-python object as the plain dict a webhook would carry."""
    return intent.to_dict(recursive=True, for_json=True)
