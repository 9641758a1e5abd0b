"""What one agent earned: its commission rows (佣金明细) and their totals by
status, as the agent centre and ``GET /api/v1/me/commissions`` show them.

The rows are written by ``app.agents.commission``; this module only reads,
in the current shop, one agent's rows at a time, a page at a time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.agents.models import COMMISSION_STATUSES, Commission
from app.core.errors import ValidationFailed
from app.core.pagination import offset_of
from app.extensions import db


@dataclass(frozen=True)
class CommissionLine:
    """One commission as the agent sees it: the order's number (``None``
    when the order is gone), the level it earned at (1: its own downline's
    or sub-shop's sale), the amount and where it stands."""

    id: uuid.UUID
    order_number: str | None
    level: int
    amount: int
    currency: str
    status: str
    settle_after: datetime
    created_at: datetime


def commissions_page(
    account_id: uuid.UUID, *, status: str | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[CommissionLine], int]:
    """A page of the agent's commission, newest first, optionally of one
    status, and how many rows match. Two queries."""
    from app.orders.models import Order

    if status is not None and status not in COMMISSION_STATUSES:
        raise ValidationFailed(
            f"status is one of {', '.join(COMMISSION_STATUSES)}.",
            errors={"status": ["Unknown status."]},
        )
    conditions = [Commission.account_id == account_id]
    if status:
        conditions.append(Commission.status == status)
    total = db.session.scalar(select(func.count(Commission.id)).where(*conditions)) or 0
    rows = db.session.execute(
        select(Commission, Order.number)
        .outerjoin(Order, Order.id == Commission.order_id)
        .where(*conditions)
        .order_by(Commission.created_at.desc(), Commission.id.desc())
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    lines = [
        CommissionLine(
            c.id,
            number,
            c.level,
            c.amount,
            c.currency,
            c.status,
            c.settle_after,
            c.created_at,
        )
        for c, number in rows
    ]
    return lines, int(total)


def commission_totals(account_id: uuid.UUID) -> dict[str, int]:
    """The agent's commission summed per status (every status present, 0
    when none): ``pending`` waits for the refund window, ``settled`` is in
    its wallet. One query."""
    sums = dict(
        db.session.execute(
            select(Commission.status, func.coalesce(func.sum(Commission.amount), 0))
            .where(Commission.account_id == account_id)
            .group_by(Commission.status)
        ).all()
    )
    return {status: int(sums.get(status, 0)) for status in COMMISSION_STATUSES}
