"""Accruing the platform's commission on sales that did not pay it through
Stripe (wallet, other providers), and recording the fee Stripe collected
on the others, for the monthly statement (``app.billing.statements``).

Why a periodic job and not the purchase path: the purchase and delivery
path is the hottest and most delicate transaction of the shop (stock,
order state, the wallet, agents' commission), and the platform's fee is a
debt between the platform and the shop, not part of the buyer's payment.
Keeping it out of that transaction keeps purchases as fast as before and
lets a plan change or a fault here never fail a sale. The price is a delay
of up to a minute (``PLATFORM_COMMISSION_INTERVAL_SECONDS``), and a
statement month is the month the commission was *booked* in (a sale
delivered in the last minute of a month may fall on the next one).

Per shop, each run (``accrue_shop``; idempotent, safe to run twice or
concurrently: a unique (shop, order, kind) row in ``platform_commissions``
claims each fact, and every ledger posting has its own key):

- every order delivered since the last run (by ``Order.delivered_at``,
  from the latest one counted, less ``OVERLAP`` for transactions that
  committed late; on a shop's first run, from an ``OVERLAP`` ago, so its
  history before the job ran is never charged after the fact; the price
  is that a first sale made while the job was down longer than that is
  not counted) with no sale row yet gets one: ``collected`` when its
  provider takes the platform's fee itself (a card payment on the shop's
  connected Stripe account: the adapter's ``application_fee``; nothing is
  posted), else ``accrued``, posting
  ``platform-commission:<order>`` (kind ``platform_commission``):
  ``costs:platform −c`` (the shop's expense: its ``sales`` stay the gross
  sales), ``platform:commission +c``. The rate is the shop's plan's
  at the delivery (``app.billing.commission``; 0 during the launch offer,
  when the row is kept and nothing is posted);
- every refunded order with a sale row and no reversal gets one:
  ``reversed`` posting ``platform-commission-reverse:<order>`` (kind
  ``platform_fee_reversed``): ``platform:commission −c``,
  ``costs:platform +c``; or ``collected_refunded`` (Stripe returns its fee with the
  refund: ``refund_application_fee``).

At most ``batch`` orders of each kind a run; the rest wait for the next.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.billing.commission import rate_on
from app.billing.models import (
    PC_ACCRUED,
    PC_COLLECTED,
    PC_COLLECTED_REFUNDED,
    PC_REVERSED,
    PlatformCommission,
)
from app.billing.plans import plan_of
from app.core.money import share_of
from app.extensions import db
from app.ledger import services as ledger
from app.orders.models import REFUNDED, Order, OrderEvent
from app.payments import registry
from tenants.context import current_tenant_id
from tenants.models import Tenant

#: how far before the latest counted delivery the next run looks again
OVERLAP = timedelta(hours=1)
BATCH = 500
SALE_KINDS = (PC_ACCRUED, PC_COLLECTED)
UNDO_KINDS = (PC_REVERSED, PC_COLLECTED_REFUNDED)


def accrue_shop(*, now: datetime | None = None, batch: int = BATCH) -> dict[str, int]:
    """Count the current shop's new deliveries and refunds (see the module
    doc). Commits. Returns how many rows of each kind were added."""
    tenant_id = current_tenant_id()
    now = now or datetime.now(UTC)
    added = {PC_ACCRUED: 0, PC_COLLECTED: 0, PC_REVERSED: 0, PC_COLLECTED_REFUNDED: 0}
    shop_plan = plan_of(tenant_id)
    takes_fee: dict[str | None, bool] = {}
    for order in _new_deliveries(batch, now):
        provider = order.payment_provider
        if provider not in takes_fee:
            takes_fee[provider] = _provider_takes_fee(tenant_id, provider)
        collected = takes_fee[provider]
        rate = rate_on(shop_plan, order.delivered_at)
        row = PlatformCommission(
            order_id=order.id,
            kind=PC_COLLECTED if collected else PC_ACCRUED,
            provider=order.payment_provider or "",
            sale_amount=order.total,
            rate_bps=rate,
            amount=share_of(order.total, rate),
            currency=order.currency,
            occurred_at=order.delivered_at,
            booked_at=now,
        )
        if _book(row, order.number):
            added[row.kind] += 1
    for sale, number, refunded_at in _new_refunds(batch):
        row = PlatformCommission(
            order_id=sale.order_id,
            kind=PC_COLLECTED_REFUNDED if sale.kind == PC_COLLECTED else PC_REVERSED,
            provider=sale.provider,
            sale_amount=-sale.sale_amount,
            rate_bps=sale.rate_bps,
            amount=-sale.amount,
            currency=sale.currency,
            occurred_at=refunded_at or now,
            booked_at=now,
        )
        if _book(row, number):
            added[row.kind] += 1
    db.session.commit()
    return added


def _provider_takes_fee(tenant_id: uuid.UUID, provider: str | None) -> bool:
    """Whether the provider takes the platform's fee itself on this shop's
    payments (Stripe on a connected account: ``application_fee``)."""
    found = registry.ADAPTERS.get(provider or "")
    return found is not None and found.application_fee(tenant_id, 0) is not None


def _new_deliveries(batch: int, now: datetime) -> list[Order]:
    latest = db.session.scalar(
        select(func.max(PlatformCommission.occurred_at)).where(
            PlatformCommission.kind.in_(SALE_KINDS)
        )
    )
    # A shop's first run starts from now: sales made before the platform
    # took commission on them are not charged after the fact.
    latest = latest if latest is not None else now
    counted = (
        select(PlatformCommission.id)
        .where(PlatformCommission.order_id == Order.id, PlatformCommission.kind.in_(SALE_KINDS))
        .correlate(Order)
        .exists()
    )
    query = select(Order).where(
        Order.delivered_at.is_not(None), ~counted, Order.delivered_at >= latest - OVERLAP
    )
    return list(db.session.scalars(query.order_by(Order.delivered_at, Order.id).limit(batch)))


def _new_refunds(batch: int) -> list[tuple[PlatformCommission, str, datetime | None]]:
    undone = (
        select(PlatformCommission.id)
        .where(
            PlatformCommission.order_id == Order.id,
            PlatformCommission.kind.in_(UNDO_KINDS),
        )
        .correlate(Order)
        .exists()
    )
    refunded_at = (
        select(func.max(OrderEvent.created_at))
        .where(OrderEvent.order_id == Order.id, OrderEvent.to_status == REFUNDED)
        .correlate(Order)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(PlatformCommission, Order.number, refunded_at)
        .join(Order, Order.id == PlatformCommission.order_id)
        .where(
            Order.status == REFUNDED,
            PlatformCommission.kind.in_(SALE_KINDS),
            ~undone,
        )
        .order_by(Order.id)
        .limit(batch)
    ).all()
    return [(sale, number, at) for sale, number, at in rows]


def _book(row: PlatformCommission, number: str) -> bool:
    """Add the row and its ledger posting in one savepoint; False when
    another run counted it first (the unique row)."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
            if row.kind in (PC_ACCRUED, PC_REVERSED) and row.amount:
                _post(row, number)
    except IntegrityError:
        return False
    return True


def _post(row: PlatformCommission, number: str) -> None:
    c = row.amount
    if row.kind == PC_ACCRUED:
        key, kind = f"platform-commission:{row.order_id}", "platform_commission"
        memo = f"Platform commission on order {number}"
    else:
        key, kind = f"platform-commission-reverse:{row.order_id}", "platform_fee_reversed"
        memo = f"Platform commission reversed: order {number} refunded"
    ledger.post(
        key,
        kind,
        [ledger.Line(ledger.PLATFORM_FEES, -c), ledger.Line(ledger.PLATFORM_COMMISSION, c)],
        row.currency,
        memo=memo,
        order_id=row.order_id,
        at=row.booked_at,
    )


def shops_to_accrue() -> list[uuid.UUID]:
    """Every shop's id (the job visits each; a shop with nothing new costs
    two indexed queries)."""
    return list(db.session.scalars(select(Tenant.id).order_by(Tenant.id)))
