"""Multi-level commission (多级分润): accrued when an order is delivered,
settled after the shop's refund window, reversed or clawed back on refund.

The chain of an order: when it came through a sub-shop whose owner is not
the buyer, the owner is level 1 and its uplines follow; otherwise the
buyer's upline is level 1. Up to the shop's ``agent_depth`` levels earn.
Level *n* earns ``max(0, downline_paid − own_price)`` where ``own_price``
is what that agent would pay for the same quantity on the main shop (its
tier price, before coupons) and ``downline_paid`` is what the level below
paid: the buyer's total for level 1, else the lower agent's own price.
Prices are read when the order is delivered.

Money (``app.ledger``), each posting idempotent by its key:

- accrue ``commission:<order>``: ``sales −Σ``, ``commission:pending +Σ``;
- settle ``commission-settle:<id>``: ``commission:pending −a``, the agent's
  wallet ``+a``;
- reverse (refund before settling) ``commission-reverse:<id>``:
  ``commission:pending −a``, ``sales +a``;
- claw back (refund after settling) ``commission-clawback:<id>``: the
  agent's wallet ``−a`` (it may go below zero by this alone: a debt the
  agent's next credits pay off), ``sales +a``.

The hooks run inside ``app.orders.state.transition`` (delivered → accrue,
refunded → reverse), in the transaction that moves the order, so an order's
status and its commission never disagree.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.agents.models import (
    COMMISSION_CLAWED_BACK,
    COMMISSION_PENDING,
    COMMISSION_REVERSED,
    COMMISSION_SETTLED,
    MAX_DEPTH,
    Commission,
    SubShop,
)
from app.extensions import db
from app.ledger import services as ledger


def _shop_settings() -> tuple[int, int]:
    from tenants.context import current_tenant_id
    from tenants.models import Tenant

    row = db.session.execute(
        select(Tenant.agent_depth, Tenant.commission_hold_days).where(
            Tenant.id == current_tenant_id()
        )
    ).one()
    return max(0, min(int(row[0]), MAX_DEPTH)), max(0, int(row[1]))


def chain_start(order) -> tuple[uuid.UUID | None, bool]:
    """The first earner of ``order`` and whether it is a sub-shop owner."""
    from app.accounts.models import ShopAccount

    if order.sub_shop_id is not None:
        owner = db.session.scalar(select(SubShop.account_id).where(SubShop.id == order.sub_shop_id))
        if owner is not None and owner != order.buyer_id:
            return owner, True
    if order.buyer_id is None:
        return None, False
    upline = db.session.scalar(
        select(ShopAccount.upline_id).where(ShopAccount.id == order.buyer_id)
    )
    return upline, False


def accrue(order_id: uuid.UUID, *, now: datetime | None = None) -> int:
    """Record the commission of a delivered order (idempotent: an order's
    commission is accrued once). Returns the total accrued."""
    from app.accounts.models import ROLE_AGENT, ShopAccount
    from app.catalog.models import Product
    from app.orders.models import Order
    from app.pricing.rules import total_for_tier

    order = db.session.get(Order, order_id)
    if order is None or (order.sub_shop_id is None and order.buyer_id is None):
        return 0
    first, _ = chain_start(order)
    if first is None:
        return 0
    depth, hold_days = _shop_settings()
    if depth == 0:
        return 0
    if db.session.scalar(select(Commission.id).where(Commission.order_id == order_id).limit(1)):
        return 0
    product = db.session.get(Product, order.product_id)
    now = now or datetime.now(UTC)
    settle_after = now + timedelta(days=hold_days)
    earner, level, downline_paid, seen = first, 1, order.total, {order.buyer_id}
    rows: list[Commission] = []
    while earner is not None and level <= depth and earner not in seen:
        seen.add(earner)
        account = db.session.get(ShopAccount, earner)
        if account is None or not account.is_active or account.role != ROLE_AGENT:
            break
        own = total_for_tier(product, order.quantity, account.tier_id, now=now)
        amount = max(0, downline_paid - own)
        if amount > 0:
            rows.append(
                Commission(
                    order_id=order.id,
                    account_id=account.id,
                    level=level,
                    downline_paid=downline_paid,
                    own_price=own,
                    amount=amount,
                    currency=order.currency,
                    status=COMMISSION_PENDING,
                    settle_after=settle_after,
                    created_at=now,
                )
            )
        downline_paid = min(downline_paid, own)
        earner, level = account.upline_id, level + 1
    total = sum(r.amount for r in rows)
    if not rows:
        return 0
    db.session.add_all(rows)
    ledger.post(
        f"commission:{order.id}",
        "commission",
        [ledger.Line(ledger.SALES, -total), ledger.Line(ledger.COMMISSION_PENDING, total)],
        order.currency,
        memo=f"commission on order {order.number}",
        order_id=order.id,
    )
    return total


def settle(commission: Commission, *, now: datetime | None = None) -> bool:
    """Move one pending commission into its agent's wallet (the caller's
    transaction). False when it is no longer pending."""
    now = now or datetime.now(UTC)
    moved = db.session.execute(
        update(Commission)
        .where(Commission.id == commission.id, Commission.status == COMMISSION_PENDING)
        .values(status=COMMISSION_SETTLED, settled_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        return False
    ledger.post(
        f"commission-settle:{commission.id}",
        "commission_settled",
        [
            ledger.Line(ledger.COMMISSION_PENDING, -commission.amount),
            ledger.Line(ledger.wallet_code(commission.account_id), commission.amount),
        ],
        commission.currency,
        memo="commission settled",
        order_id=commission.order_id,
    )
    return True


def settle_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Settle the current shop's pending commissions whose refund window has
    passed (oldest first, at most ``limit``). Commits. Returns how many."""
    now = now or datetime.now(UTC)
    due = list(
        db.session.scalars(
            select(Commission)
            .where(Commission.status == COMMISSION_PENDING, Commission.settle_after <= now)
            .order_by(Commission.settle_after, Commission.id)
            .limit(limit)
        )
    )
    settled = 0
    for commission in due:
        settled += settle(commission, now=now)
    db.session.commit()
    return settled


def reverse(order_id: uuid.UUID, *, now: datetime | None = None) -> int:
    """Undo a refunded order's commission: pending ones are reversed, settled
    ones clawed back from the agent's wallet. The caller's transaction.
    Returns how many commissions it undid."""
    now = now or datetime.now(UTC)
    undone = 0
    rows = list(
        db.session.scalars(
            select(Commission)
            .where(
                Commission.order_id == order_id,
                Commission.status.in_((COMMISSION_PENDING, COMMISSION_SETTLED)),
            )
            .order_by(Commission.level)
            .with_for_update()
        )
    )
    for commission in rows:
        if commission.status == COMMISSION_PENDING:
            to, key, kind = COMMISSION_REVERSED, "commission-reverse", "commission_reversed"
            lines = [
                ledger.Line(ledger.COMMISSION_PENDING, -commission.amount),
                ledger.Line(ledger.SALES, commission.amount),
            ]
        else:
            to, key, kind = COMMISSION_CLAWED_BACK, "commission-clawback", "commission_clawback"
            lines = [
                ledger.Line(ledger.wallet_code(commission.account_id), -commission.amount),
                ledger.Line(ledger.SALES, commission.amount),
            ]
        moved = db.session.execute(
            update(Commission)
            .where(Commission.id == commission.id, Commission.status == commission.status)
            .values(status=to, reversed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != 1:
            continue
        ledger.post(
            f"{key}:{commission.id}",
            kind,
            lines,
            commission.currency,
            memo="commission undone: order refunded",
            order_id=order_id,
            allow_debt=to == COMMISSION_CLAWED_BACK,
        )
        undone += 1
    return undone
