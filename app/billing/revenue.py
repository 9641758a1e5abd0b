"""The platform's own revenue, across every shop, for the platform
console's billing page: monthly recurring revenue from plans, commission
earned month by month, the shops past due, and every shop's statement
totals for a month.

Platform reads (``all_tenants``); every query is aggregated in the
database or paged; months here are calendar months in UTC (each shop's
own statement counts its months in its time zone).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select

from app.billing.models import (
    PC_ACCRUED,
    PC_COLLECTED,
    PC_COLLECTED_REFUNDED,
    PC_REVERSED,
    SUB_ACTIVE,
    SUB_PAST_DUE,
    SUB_SUSPENDED,
    Plan,
    PlatformCommission,
    Subscription,
)
from app.billing.plans import monthly_price
from app.billing.statements import month_bounds, next_month, previous_month
from app.core.pagination import offset_of
from app.extensions import db
from tenants.context import all_tenants
from tenants.models import Tenant


def mrr() -> dict[str, int]:
    """Monthly recurring revenue by currency: every active subscription's
    plan's monthly price (a yearly plan's fee over twelve months). Plans
    are few: counted per plan in one query."""
    rows = db.session.execute(
        select(Subscription.plan_id, func.count(Subscription.id))
        .where(Subscription.status == SUB_ACTIVE)
        .group_by(Subscription.plan_id)
    ).all()
    plans = {
        p.id: p for p in db.session.scalars(select(Plan).where(Plan.id.in_([r[0] for r in rows])))
    }
    totals: dict[str, int] = {}
    for plan_id, count in rows:
        plan = plans[plan_id]
        totals[plan.currency] = totals.get(plan.currency, 0) + monthly_price(plan) * int(count)
    return totals


@dataclass(frozen=True)
class MonthEarned:
    month: date
    #: application fees Stripe collected, less those it returned
    collected: int
    #: commission accrued in shops' ledgers, less reversals
    accrued: int

    @property
    def total(self) -> int:
        return self.collected + self.accrued


def _sums(start, end) -> tuple[int, int]:
    collected = case(
        (
            PlatformCommission.kind.in_((PC_COLLECTED, PC_COLLECTED_REFUNDED)),
            PlatformCommission.amount,
        ),
        else_=0,
    )
    accrued = case(
        (PlatformCommission.kind.in_((PC_ACCRUED, PC_REVERSED)), PlatformCommission.amount),
        else_=0,
    )
    with all_tenants():
        row = db.session.execute(
            select(
                func.coalesce(func.sum(collected), 0), func.coalesce(func.sum(accrued), 0)
            ).where(PlatformCommission.booked_at >= start, PlatformCommission.booked_at < end)
        ).one()
    return int(row[0]), int(row[1])


def commission_by_month(last: date, months: int = 12) -> list[MonthEarned]:
    """Commission earned in each of the ``months`` months up to ``last``
    (its first day), oldest first: one aggregated query a month."""
    first = last
    for _ in range(months - 1):
        first = previous_month(first)
    out, month = [], first
    for _ in range(months):
        start, end = month_bounds(month, "UTC")
        collected, accrued = _sums(start, end)
        out.append(MonthEarned(month, collected, accrued))
        month = next_month(month)
    return out


@dataclass(frozen=True)
class PastDue:
    slug: str
    name: str
    plan: str
    status: str
    since: object


def past_due(limit: int = 100) -> list[PastDue]:
    """Shops whose subscription is past due or suspended, the longest
    waiting first (at most ``limit``)."""
    rows = db.session.execute(
        select(Tenant.slug, Tenant.name, Plan.name, Subscription.status, Subscription.updated_at)
        .join(Subscription, Subscription.tenant_id == Tenant.id)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.status.in_((SUB_PAST_DUE, SUB_SUSPENDED)))
        .order_by(Subscription.updated_at, Tenant.slug)
        .limit(limit)
    ).all()
    return [PastDue(*row) for row in rows]


@dataclass(frozen=True)
class ShopMonth:
    tenant_id: uuid.UUID
    slug: str
    name: str
    currency: str
    sold: int
    collected: int
    accrued: int


def statements_of_month(month: date, *, page: int = 1, per_page: int = 50):
    """Each shop with commission rows in ``month`` (UTC), the largest sales
    first: (one page of ``ShopMonth``, how many shops there are)."""
    start, end = month_bounds(month, "UTC")
    sale = case(
        (PlatformCommission.kind.in_((PC_ACCRUED, PC_COLLECTED)), PlatformCommission.sale_amount),
        else_=0,
    )
    collected = case(
        (
            PlatformCommission.kind.in_((PC_COLLECTED, PC_COLLECTED_REFUNDED)),
            PlatformCommission.amount,
        ),
        else_=0,
    )
    accrued = case(
        (PlatformCommission.kind.in_((PC_ACCRUED, PC_REVERSED)), PlatformCommission.amount),
        else_=0,
    )
    in_month = (PlatformCommission.booked_at >= start, PlatformCommission.booked_at < end)
    with all_tenants():
        total = db.session.scalar(
            select(func.count(func.distinct(PlatformCommission.tenant_id))).where(*in_month)
        )
        grouped = (
            select(
                PlatformCommission.tenant_id.label("tenant_id"),
                func.sum(sale).label("sold"),
                func.sum(collected).label("collected"),
                func.sum(accrued).label("accrued"),
            )
            .where(*in_month)
            .group_by(PlatformCommission.tenant_id)
            .subquery()
        )
        rows = db.session.execute(
            select(
                Tenant.id,
                Tenant.slug,
                Tenant.name,
                Tenant.currency,
                grouped.c.sold,
                grouped.c.collected,
                grouped.c.accrued,
            )
            .join(grouped, grouped.c.tenant_id == Tenant.id)
            .order_by(grouped.c.sold.desc(), Tenant.slug)
            .limit(per_page)
            .offset(offset_of(page, per_page))
        ).all()
    return [
        ShopMonth(r[0], r[1], r[2], r[3], int(r[4] or 0), int(r[5] or 0), int(r[6] or 0))
        for r in rows
    ], int(total or 0)


@dataclass(frozen=True)
class Overview:
    mrr: dict[str, int]
    by_month: list[MonthEarned]
    past_due: list[PastDue]
    month: date
    shops: list[ShopMonth]
    shops_total: int


def overview(month: date, *, page: int = 1, per_page: int = 50) -> Overview:
    """Everything the platform console's billing page shows: MRR, the
    twelve months of commission up to ``month``, the shops past due, and
    one page of the shops' totals for ``month``."""
    shops, total = statements_of_month(month, page=page, per_page=per_page)
    return Overview(
        mrr=mrr(),
        by_month=commission_by_month(month),
        past_due=past_due(),
        month=month,
        shops=shops,
        shops_total=total,
    )
