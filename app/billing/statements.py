"""A shop's monthly statement of the platform's fees (平台账单), and the
monthly bill of its accrued commission on its Stripe customer.

``statement(tenant_id, month)`` is one calendar month in the shop's time
zone: its sales by how they were paid, the commission Stripe collected as
application fees on card sales to the shop's connected account, the
commission accrued in the shop's ledger on every other sale and the
reversals of refunded ones (``app.billing.accrual``), the plan's fee for the
month, and the total due. A sale is on the month its commission was booked
in (``PlatformCommission.booked_at``, the instant of its ledger posting).

It reconciles to the ledger to the cent: ``accrued`` and ``reversed`` are
read from the commission rows, ``ledger_accrued`` and ``ledger_reversed``
from the entries of ``platform:commission`` posted in the same month, and
``matches_ledger`` says they agree (they are never adjusted to agree).

The plan's fee is the shop's current plan's monthly price (a yearly plan's
spread over twelve months) while it has a subscription that is not
canceled; plan history is not kept, so an old month shows today's plan.

Reads only, in the shop's context (``tenant_context``); aggregated in the
database (a month's rows are never loaded).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.billing.models import (
    PC_ACCRUED,
    PC_COLLECTED,
    PC_COLLECTED_REFUNDED,
    PC_REVERSED,
    SUB_CANCELED,
    PlatformCommission,
)
from app.billing.plans import monthly_price, plan_of
from app.core.dates import day_range
from app.core.errors import ValidationFailed
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from tenants.models import Tenant

MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
BILLED_KIND = "platform_billed"


@dataclass
class ProviderSales:
    """One way of paying in the month: orders and amount sold, refunded."""

    provider: str
    orders: int = 0
    sold: int = 0
    refunds: int = 0
    refunded: int = 0


@dataclass
class Statement:
    tenant_id: uuid.UUID
    slug: str
    shop_name: str
    month: date
    timezone: str
    currency: str
    plan_name: str | None
    sales: list[ProviderSales] = field(default_factory=list)
    #: Stripe's application fees on card sales, less those it returned
    collected: int = 0
    accrued: int = 0
    #: accrued commission undone by refunds (a positive amount)
    reversed: int = 0
    subscription_fee: int = 0
    ledger_accrued: int = 0
    ledger_reversed: int = 0
    #: the month's commission put on the shop's Stripe invoice, once billed
    billed: int | None = None

    @property
    def commission_due(self) -> int:
        return self.accrued - self.reversed

    @property
    def total_due(self) -> int:
        """What the shop owes the platform for the month: the commission
        accrued less its reversals, and the plan's fee."""
        return self.commission_due + self.subscription_fee

    @property
    def matches_ledger(self) -> bool:
        return (self.accrued, self.reversed) == (self.ledger_accrued, self.ledger_reversed)

    @property
    def sold(self) -> int:
        return sum(p.sold for p in self.sales)

    @property
    def refunded(self) -> int:
        return sum(p.refunded for p in self.sales)


def parse_month(text: str | None, *, default: date | None = None) -> date:
    """``"2026-11"`` → the month's first day; blank gives ``default`` when
    there is one. ``ValidationFailed`` (field ``month``) otherwise."""
    text = (text or "").strip()
    if not text and default is not None:
        return default
    found = MONTH_PATTERN.match(text)
    if found and 1 <= int(found.group(2)) <= 12 and int(found.group(1)) >= 2000:
        return date(int(found.group(1)), int(found.group(2)), 1)
    raise ValidationFailed(
        f"{text!r} is not a month: give it as YYYY-MM, such as 2026-11.",
        errors={"month": [_l("A month as YYYY-MM, such as 2026-11.")]},
    )


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def previous_month(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def month_asked(typed: str | None, zone: str) -> tuple[date, str, object | None]:
    """The month a page was asked for (``?month=YYYY-MM``, in ``zone``):
    ``(month, what to show in the field, why it could not be read)``; an
    unreadable month shows this month, with the reason for the page."""
    typed = (typed or "").strip()[:20]
    current = this_month(zone)
    try:
        month = parse_month(typed, default=current)
    except ValidationFailed:
        return current, typed, _l("Use a month like 2026-05. This month is shown.")
    return month, typed or f"{month:%Y-%m}", None


def this_month(zone: str, now: datetime | None = None) -> date:
    """The month it is now in time zone ``zone``."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    now = now or datetime.now(UTC)
    try:
        local = now.astimezone(ZoneInfo(zone or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        local = now
    return date(local.year, local.month, 1)


def month_bounds(month: date, zone: str) -> tuple[datetime, datetime]:
    """The instants that bound the month in time zone ``zone``: its start,
    and the start of the next (``>= start``, ``< end``)."""
    start, _ = day_range(month, None, zone)
    end, _ = day_range(next_month(month), None, zone)
    return start, end


def billed_key(month: date) -> str:
    """The ledger key of the month's commission bill (``app.billing.invoicing``)."""
    return f"platform-billed:{month:%Y-%m}"


def statement(tenant_id: uuid.UUID, month: date) -> Statement:
    """The shop's statement for ``month`` (see the module doc), in the
    shop's time zone and currency. Call it in the shop's context."""
    tenant = db.session.get(Tenant, tenant_id)
    shop_plan = plan_of(tenant_id)
    zone = shop_plan.timezone or "UTC"
    start, end = month_bounds(month, zone)
    result = Statement(
        tenant_id=tenant.id,
        slug=tenant.slug,
        shop_name=tenant.name,
        month=month,
        timezone=zone,
        currency=tenant.currency,
        plan_name=shop_plan.plan.name if shop_plan.plan is not None else None,
    )
    rows = db.session.execute(
        select(
            PlatformCommission.provider,
            PlatformCommission.kind,
            func.count(PlatformCommission.id),
            func.coalesce(func.sum(PlatformCommission.sale_amount), 0),
            func.coalesce(func.sum(PlatformCommission.amount), 0),
        )
        .where(PlatformCommission.booked_at >= start, PlatformCommission.booked_at < end)
        .group_by(PlatformCommission.provider, PlatformCommission.kind)
        .order_by(PlatformCommission.provider)
    ).all()
    by_provider: dict[str, ProviderSales] = {}
    for provider, kind, count, sale, amount in rows:
        line = by_provider.setdefault(provider, ProviderSales(provider or "-"))
        sale, amount = int(sale), int(amount)
        if kind in (PC_ACCRUED, PC_COLLECTED):
            line.orders += int(count)
            line.sold += sale
        else:
            line.refunds += int(count)
            line.refunded += -sale
        if kind in (PC_COLLECTED, PC_COLLECTED_REFUNDED):
            result.collected += amount
        elif kind == PC_ACCRUED:
            result.accrued += amount
        elif kind == PC_REVERSED:
            result.reversed += -amount
    result.sales = sorted(by_provider.values(), key=lambda p: -p.sold)
    result.ledger_accrued, result.ledger_reversed = _ledger_month(start, end)
    sub = shop_plan.subscription
    if shop_plan.plan is not None and sub is not None and sub.status != SUB_CANCELED:
        started = sub.started_at if sub.started_at.tzinfo else sub.started_at.replace(tzinfo=UTC)
        if started < end:
            result.subscription_fee = monthly_price(shop_plan.plan)
    billed = db.session.scalar(
        select(func.sum(LedgerEntry.amount))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            LedgerTransaction.idempotency_key == billed_key(month),
            LedgerAccount.code == ledger.PLATFORM_COMMISSION,
        )
    )
    result.billed = -int(billed) if billed is not None else None
    return result


def _ledger_month(start: datetime, end: datetime) -> tuple[int, int]:
    """What ``platform:commission`` gained from accruals and lost to
    reversals, posted in ``[start, end)``."""
    rows = db.session.execute(
        select(LedgerTransaction.kind, func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            LedgerAccount.code == ledger.PLATFORM_COMMISSION,
            LedgerTransaction.kind.in_(("platform_commission", "platform_fee_reversed")),
            LedgerTransaction.created_at >= start,
            LedgerTransaction.created_at < end,
        )
        .group_by(LedgerTransaction.kind)
    ).all()
    sums = {kind: int(total) for kind, total in rows}
    return sums.get("platform_commission", 0), -sums.get("platform_fee_reversed", 0)


def owed_before(end: datetime) -> int:
    """The balance of the shop's ``platform:commission`` from entries
    posted before ``end``: what it owes the platform and was not yet billed
    (a month's refunds of an earlier month's sales lower it)."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.code == ledger.PLATFORM_COMMISSION, LedgerEntry.created_at < end)
    )
    return int(total or 0)


def shop_statement(slug: str, month_text: str | None) -> Statement:
    """The statement of the shop ``slug`` for the month ``month_text``
    (``YYYY-MM``), for the platform (the command line, the platform
    console). ``NotFound`` for an unknown shop, ``ValidationFailed`` for a
    bad month. Reads only."""
    from app.billing.plans import find_shop
    from tenants.context import tenant_context

    month = parse_month(month_text)
    tenant = find_shop(slug)
    with tenant_context(tenant):
        return statement(tenant.id, month)
