"""Helpers of the console page tests: operators signed in (in English),
pages as text, orders and balances made through the real services, and the
shop's audit trail."""

from __future__ import annotations

import html
import uuid
from datetime import datetime

from app.extensions import db
from tests.conftest import PASSWORD
from tests.factories import end_outer_transaction, run_in_shop


def text_of(response) -> str:
    """The page as a reader sees its text (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def console(browser_for, host: str, email: str, lang: str = "en"):
    """A browser signed in to ``host``'s console as the member ``email``."""
    browser = browser_for(host)
    browser.client.set_cookie("lang", lang, domain=host)
    response = browser.submit("/console/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, text_of(response)
    return browser


def audit_trail(app, shop) -> list[tuple[str, str, str, dict]]:
    """The shop's audit rows, oldest first: (actor, action, subject, detail)."""
    from sqlalchemy import select

    from app.audit.models import AuditEvent

    return run_in_shop(
        app,
        shop,
        lambda: [
            (e.actor, e.action, e.subject, dict(e.detail or {}))
            for e in db.session.scalars(
                select(AuditEvent).order_by(AuditEvent.created_at, AuditEvent.id)
            )
        ],
    )


def record_audit(app, shop, actor: str, action: str, subject: str, at=None, **detail) -> None:
    """An audit row written by the real ``audit.record`` (at ``at``, when given)."""
    from app.audit import services as audit

    def write():
        event = audit.record(actor, action, subject, **detail)
        if at is not None:
            event.created_at = at
        db.session.commit()

    run_in_shop(app, shop, write)


def credit(app, shop, account_id: uuid.UUID, amount: int) -> None:
    """A top-up of ``amount`` to the account's wallet, posted to the ledger
    as a card recharge is (the sandbox's clearing account pays)."""
    from app.ledger import services as ledger

    def post():
        ledger.post(
            f"recharge:{uuid.uuid4()}",
            "recharge",
            [
                ledger.Line(ledger.clearing_code("sandbox"), -amount),
                ledger.Line(ledger.wallet_code(account_id), amount),
            ],
            shop.currency,
            memo=f"recharge via sandbox sb_{uuid.uuid4().hex} (sandbox)",
        )
        db.session.commit()

    run_in_shop(app, shop, post)


def balance_of(app, shop, account_id: uuid.UUID) -> int:
    from app.ledger import services as ledger

    return run_in_shop(app, shop, ledger.wallet_balance, account_id)


def make_order(
    app,
    shop,
    product_id: uuid.UUID,
    email: str = "guest@example.com",
    *,
    at: datetime | None = None,
    quantity: int = 1,
) -> str:
    """An unpaid order placed through checkout (as the shop's own API key,
    which no unpaid-order cap limits), created ``at`` when given; its number."""
    from sqlalchemy import update

    from app.orders import checkout
    from app.orders.models import Order, OrderEvent

    def place():
        order, _ = checkout.create_order(
            product_id=product_id,
            quantity=quantity,
            email=email,
            caller=checkout.Caller("api_key", uuid.uuid4()),
        )
        db.session.commit()
        if at is not None:
            for model, column in ((Order, Order.id), (OrderEvent, OrderEvent.order_id)):
                db.session.execute(
                    update(model)
                    .where(column == order.id)
                    .values(created_at=at)
                    .execution_options(synchronize_session=False)
                )
            db.session.commit()
        return order.number

    end_outer_transaction()
    return run_in_shop(app, shop, place)
