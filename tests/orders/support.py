"""Helpers of the order tests: orders placed through the API, waiting for
delivery, and the ledger's own checks. Shops, products and their card stock
come from ``tests/factories.py``."""

from __future__ import annotations

import time
import uuid

from app.extensions import db
from tests.factories import end_outer_transaction, run_in_shop

DELIVERY_TIMEOUT = 30.0  # seconds; generous for a loaded CI machine, never a timing assertion


def order_body(product_id, quantity: int = 1, email: str = "guest@example.com", **extra) -> dict:
    return {"product_id": str(product_id), "quantity": quantity, "email": email, **extra}


def place(client, product_id, quantity: int = 1, *, key: str | None = None, **body):
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    return client.post(
        "/api/v1/orders", json=order_body(product_id, quantity, **body), headers=headers
    )


def placed(client, product_id, quantity: int = 1, **body) -> dict:
    response = place(client, product_id, quantity, **body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def view(client, order: dict, **kw):
    return client.get(f"/api/v1/orders/{order['number']}?token={order['lookup_token']}", **kw)


def pay(client, order: dict, provider: str = "sandbox", **kw):
    return client.post(
        f"/api/v1/orders/{order['number']}/pay?token={order['lookup_token']}",
        json={"provider": provider},
        **kw,
    )


def wait_for_status(client, order: dict, statuses: set[str]) -> dict:
    """Poll the order through the API until its status is one of
    ``statuses``; fails after ``DELIVERY_TIMEOUT`` (a bound, not a measure)."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    body = {}
    while time.monotonic() < deadline:
        body = view(client, order).get_json()
        if body.get("status") in statuses:
            return body
        time.sleep(0.05)
    raise AssertionError(f"order {order['number']} still {body.get('status')!r}")


def ledger_state(app, tenant) -> dict:
    """The shop's trial balance and whether cached wallet balances match."""
    from app.ledger import services as ledger
    from tenants.context import tenant_context

    end_outer_transaction()
    with app.app_context(), tenant_context(tenant):
        balances = ledger.trial_balance()
        state = {
            "balances": balances,
            "sum": sum(balances.values()),
            "cached_match": ledger.cached_balances_match(),
            "postings": _postings(),
        }
        db.session.remove()
    return state


def _postings() -> dict[str, int]:
    from sqlalchemy import func, select

    from app.ledger.models import LedgerTransaction

    return dict(
        db.session.execute(
            select(LedgerTransaction.kind, func.count()).group_by(LedgerTransaction.kind)
        ).all()
    )


def fund_wallet(app, tenant, account_id, amount: int) -> None:
    """Credit a shop account's wallet as a recharge through the sandbox would."""
    from app.ledger import services as ledger
    from tenants.context import tenant_context

    end_outer_transaction()
    with app.app_context(), tenant_context(tenant):
        ledger.post(
            f"test-recharge:{uuid.uuid4()}",
            "recharge",
            [
                ledger.Line(ledger.clearing_code("sandbox"), -amount),
                ledger.Line(ledger.wallet_code(account_id), amount),
            ],
            tenant.currency,
        )
        db.session.commit()
        db.session.remove()


def order_id(app, tenant, number: str) -> uuid.UUID:
    from app.orders import lookups

    return run_in_shop(app, tenant, lambda: lookups.get_order(number).id)
