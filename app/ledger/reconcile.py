"""Daily reconciliation (财务对账) of one shop's books.

``reconcile(day, tz)`` answers, for the current shop, what moved on that
day in the shop's time zone (totals per kind of ledger transaction: sales,
refunds, recharges, commission accrued / settled / reversed / clawed back,
withdrawals requested / paid / returned, adjustments, tier fees, and the
withdrawal fees the shop earned) and every **difference**: a fact of the
shop that its ledger does not agree with. Differences are listed, never
absorbed; each is named by its ``code``:

Checked for the day's rows (what was posted, paid, refunded, accrued or
decided that day):

- ``unbalanced_transaction``: a transaction whose entries do not sum to zero;
- ``payment_missing`` / ``payment_amount``: an order paid that day (its
  ``paid_at``, and a status a paid order has) without its ``pay:<order>``
  transaction, or with one of another amount than the order's total;
- ``refund_missing`` / ``refund_amount``: an order refunded that day
  without its ``refund:<order>``, or with another amount;
- ``commission_posting``: a commission accrued, settled or undone that day
  whose postings (``commission:<order>``, ``commission-settle:<id>``,
  ``commission-reverse:<id>``, ``commission-clawback:<id>``) are missing,
  of another amount, or present where its status says none should be;
- ``withdrawal_posting``: the same for a withdrawal asked or decided that
  day (``withdrawal:<id>``, ``withdrawal-paid:<id>``,
  ``withdrawal-returned:<id>``).

Checked as the books stand now (a balance has no history to compare):

- ``wallet_balance``: a wallet whose cached balance differs from the sum of
  its entries;
- ``negative_wallet``: a wallet below zero (cached or by its entries) that
  no commission clawback marked ``may_owe``;
- ``commission_pending_balance``: the ``commission:pending`` account's
  balance against the sum of pending commissions;
- ``withdrawals_pending_balance``: ``withdrawals:pending`` against the sum
  of requested withdrawals;
- ``supplier_payable_balance``: a supplier account's payable
  (``supplier:payable:<account>``, by its entries and its cached balance)
  against the cost of the codes sold from its pools less its withdrawals
  waiting or paid;
- ``supplier_deposit_balance``: a supplier's deposit account against the
  deposit its record says the shop holds (0 for a supplier deleted since).

The totals also show supplier payables accrued (codes sold from supplier
accounts' pools, ``supply_payable``), supplier deposits taken or returned
(``supplier_deposit``) and supplier withdrawals paid that day
(``supplier_payouts``, decided that day).

An amount of a transaction is what it moved: the sum of its positive
entries. Reads only; every query is bounded by the day or aggregated in the
database, except the balance checks, which add up every wallet entry of the
shop once (one grouped query).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, distinct, func, or_, select, true

from app.core.dates import day_range
from app.extensions import db
from app.ledger.kinds import kind_label
from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from app.ledger.services import COMMISSION_PENDING, WITHDRAWAL_FEES, WITHDRAWALS_PENDING

#: the kinds of the day's totals, in the order a statement lists them
TOTAL_KINDS = (
    "order_payment",
    "refund",
    "recharge",
    "commission",
    "commission_settled",
    "commission_reversed",
    "commission_clawback",
    "withdrawal",
    "withdrawal_paid",
    "withdrawal_returned",
    "adjustment",
    "tier_fee",
    "supply_payable",
    "supplier_deposit",
)
#: the day's fee income from withdrawals (entries of ``fees:withdrawal``)
WITHDRAWAL_FEES_TOTAL = "withdrawal_fees"
#: the day's approved withdrawals of supplier accounts (from their payables)
SUPPLIER_PAYOUTS_TOTAL = "supplier_payouts"
#: order states in which an order has been paid
PAID_STATES = (
    "paid",
    "fulfilling",
    "delivered",
    "partially_delivered",
    "failed",
    "refunding",
    "refunded",
)
#: the most differences one reconciliation lists (the rest are counted)
MAX_DIFFERENCES = 1000
_CHUNK = 300

DIFFERENCE_LABELS = {
    "unbalanced_transaction": _l("A transaction whose entries do not sum to zero"),
    "wallet_balance": _l("A balance that differs from its entries"),
    "negative_wallet": _l("A balance below zero that no clawback explains"),
    "commission_pending_balance": _l(
        "Pending commission in the ledger differs from the pending commissions"
    ),
    "withdrawals_pending_balance": _l(
        "Withdrawals waiting in the ledger differ from the requested withdrawals"
    ),
    "payment_missing": _l("A paid order without its payment in the ledger"),
    "payment_amount": _l("An order's payment in the ledger differs from its total"),
    "refund_missing": _l("A refunded order without its refund in the ledger"),
    "refund_amount": _l("An order's refund in the ledger differs from its total"),
    "commission_posting": _l("A commission whose posting is missing or differs"),
    "withdrawal_posting": _l("A withdrawal whose posting is missing or differs"),
    "supplier_payable_balance": _l(
        "A supplier's payable differs from its codes sold less its withdrawals"
    ),
    "supplier_deposit_balance": _l("A supplier's deposit in the ledger differs from its record"),
}


def difference_label(code: str) -> str:
    label = DIFFERENCE_LABELS.get(code)
    return str(label) if label is not None else code.replace("_", " ")


def total_label(code: str) -> str:
    if code == WITHDRAWAL_FEES_TOTAL:
        return str(_l("Withdrawal fees"))
    if code == SUPPLIER_PAYOUTS_TOTAL:
        return str(_l("Supplier withdrawals paid"))
    return kind_label(code)


@dataclass(frozen=True)
class KindTotal:
    """What one kind of transaction moved on the day: how many, how much."""

    code: str
    count: int
    amount: int

    @property
    def label(self) -> str:
        return total_label(self.code)


@dataclass(frozen=True)
class Difference:
    """One thing the books do not agree with. ``subject`` names it (a
    transaction's key, a ledger account's code, an order number);
    ``expected`` and ``actual`` are amounts in minor units, ``None`` where
    nothing was expected or nothing was found."""

    code: str
    subject: str
    expected: int | None = None
    actual: int | None = None
    order_number: str | None = None
    account_id: uuid.UUID | None = None
    #: the agent a withdrawal's difference is about (its email)
    who: str | None = None

    @property
    def label(self) -> str:
        return difference_label(self.code)


@dataclass
class Reconciliation:
    """The day's statement: its bounds (UTC instants of the shop's day), the
    shop's currency, the totals and the differences (at most
    ``MAX_DIFFERENCES``; ``more`` counts the rest)."""

    day: date
    timezone: str
    start: datetime
    end: datetime
    currency: str
    totals: list[KindTotal] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    more: int = 0

    @property
    def balanced(self) -> bool:
        return not self.differences


def reconcile(day: date, tz: str) -> Reconciliation:
    """The current shop's reconciliation of ``day`` in time zone ``tz`` (an
    unknown zone counts as UTC). Reads only."""
    from tenants.models import current_shop_currency

    start, end = day_range(day, day, tz)
    found = list(find_differences(start, end))
    return Reconciliation(
        day=day,
        timezone=tz,
        start=start,
        end=end,
        currency=current_shop_currency(),
        totals=day_totals(start, end),
        differences=found[:MAX_DIFFERENCES],
        more=max(0, len(found) - MAX_DIFFERENCES),
    )


def _positive():
    return func.coalesce(func.sum(case((LedgerEntry.amount > 0, LedgerEntry.amount), else_=0)), 0)


def _within(column, start: datetime | None, end: datetime | None) -> list:
    bounds = []
    if start is not None:
        bounds.append(column >= start)
    if end is not None:
        bounds.append(column < end)
    return bounds


def day_totals(start: datetime, end: datetime) -> list[KindTotal]:
    """Every kind in ``TOTAL_KINDS`` (zero when nothing moved), then any
    other kind seen, then the withdrawal fees. Two grouped queries."""
    rows = db.session.execute(
        select(LedgerTransaction.kind, func.count(distinct(LedgerTransaction.id)), _positive())
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(*_within(LedgerTransaction.created_at, start, end))
        .group_by(LedgerTransaction.kind)
    ).all()
    seen = {kind: (int(count), int(amount)) for kind, count, amount in rows}
    totals = [KindTotal(kind, *seen.pop(kind, (0, 0))) for kind in TOTAL_KINDS]
    totals += [KindTotal(kind, *seen[kind]) for kind in sorted(seen)]
    fees = db.session.execute(
        select(func.count(LedgerEntry.id), func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            LedgerAccount.code == WITHDRAWAL_FEES,
            *_within(LedgerTransaction.created_at, start, end),
        )
    ).one()
    totals.append(KindTotal(WITHDRAWAL_FEES_TOTAL, int(fees[0]), int(fees[1])))
    totals.append(_supplier_payouts(start, end))
    return totals


def _supplier_payouts(start: datetime, end: datetime) -> KindTotal:
    """Supplier accounts' withdrawals approved in ``[start, end)``."""
    from app.accounts.models import ROLE_SUPPLIER, ShopAccount
    from app.agents.models import WITHDRAWAL_APPROVED, Withdrawal

    count, amount = db.session.execute(
        select(func.count(Withdrawal.id), func.coalesce(func.sum(Withdrawal.amount), 0))
        .join(ShopAccount, ShopAccount.id == Withdrawal.account_id)
        .where(
            ShopAccount.role == ROLE_SUPPLIER,
            Withdrawal.status == WITHDRAWAL_APPROVED,
            *_within(Withdrawal.decided_at, start, end),
        )
    ).one()
    return KindTotal(SUPPLIER_PAYOUTS_TOTAL, int(count), int(amount))


def find_differences(
    start: datetime | None = None, end: datetime | None = None
) -> Iterator[Difference]:
    """Every difference of the current shop (see the module's list): the
    rows of ``[start, end)`` (all of them when both are None) and the
    balances as they stand."""
    yield from _unbalanced(start, end)
    yield from _wallets()
    yield from _holding_accounts()
    yield from _supplier_payables()
    yield from _supplier_deposits()
    yield from _payments(start, end)
    yield from _refunds(start, end)
    yield from _commissions(start, end)
    yield from _withdrawals(start, end)


def _any_within(columns: tuple, start, end):
    """Any of ``columns`` within ``[start, end)`` (always true without bounds)."""
    if start is None and end is None:
        return true()
    return or_(*(and_(*_within(column, start, end)) for column in columns))


def _unbalanced(start, end) -> Iterator[Difference]:
    total = func.coalesce(func.sum(LedgerEntry.amount), 0)
    rows = db.session.execute(
        select(LedgerTransaction.idempotency_key, total, LedgerTransaction.order_id)
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(*_within(LedgerTransaction.created_at, start, end))
        .group_by(
            LedgerTransaction.id, LedgerTransaction.idempotency_key, LedgerTransaction.order_id
        )
        .having(total != 0)
        .limit(MAX_DIFFERENCES + 1)
    ).all()
    for key, amount, _order_id in rows:
        yield Difference("unbalanced_transaction", key, 0, int(amount))


def _wallets() -> Iterator[Difference]:
    from app.accounts.models import ShopAccount

    total = func.coalesce(func.sum(LedgerEntry.amount), 0)
    rows = db.session.execute(
        select(
            LedgerAccount.code,
            LedgerAccount.owner_id,
            LedgerAccount.balance,
            LedgerAccount.may_owe,
            total,
            ShopAccount.email,
        )
        .outerjoin(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .outerjoin(ShopAccount, ShopAccount.id == LedgerAccount.owner_id)
        .where(LedgerAccount.kind == "wallet")
        .group_by(
            LedgerAccount.id,
            LedgerAccount.code,
            LedgerAccount.owner_id,
            LedgerAccount.balance,
            LedgerAccount.may_owe,
            ShopAccount.email,
        )
        .having(
            or_(
                LedgerAccount.balance != total,
                (LedgerAccount.balance < 0) & ~LedgerAccount.may_owe,
                (total < 0) & ~LedgerAccount.may_owe,
            )
        )
        .limit(MAX_DIFFERENCES + 1)
    ).all()
    for code, owner, cached, may_owe, entries, email in rows:
        subject = email or code
        if int(cached) != int(entries):
            yield Difference("wallet_balance", subject, int(entries), int(cached), account_id=owner)
        if not may_owe and min(int(cached), int(entries)) < 0:
            yield Difference(
                "negative_wallet", subject, 0, min(int(cached), int(entries)), account_id=owner
            )


def _account_total(code: str) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0))
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(LedgerAccount.code == code)
        )
        or 0
    )


def _holding_accounts() -> Iterator[Difference]:
    from app.agents.models import (
        COMMISSION_PENDING as PENDING,
    )
    from app.agents.models import (
        WITHDRAWAL_REQUESTED,
        Commission,
        Withdrawal,
    )

    pending = int(
        db.session.scalar(
            select(func.coalesce(func.sum(Commission.amount), 0)).where(
                Commission.status == PENDING
            )
        )
        or 0
    )
    held = _account_total(COMMISSION_PENDING)
    if held != pending:
        yield Difference("commission_pending_balance", COMMISSION_PENDING, pending, held)
    requested = int(
        db.session.scalar(
            select(func.coalesce(func.sum(Withdrawal.amount), 0)).where(
                Withdrawal.status == WITHDRAWAL_REQUESTED
            )
        )
        or 0
    )
    held = _account_total(WITHDRAWALS_PENDING)
    if held != requested:
        yield Difference("withdrawals_pending_balance", WITHDRAWALS_PENDING, requested, held)


def _supplier_payables() -> Iterator[Difference]:
    """Each supplier account's payable against its codes sold less its
    withdrawals waiting or paid (a rejected one came back). Grouped
    queries: payable accounts, sold cost per account, withdrawals per
    account."""
    from app.accounts.models import ROLE_SUPPLIER, ShopAccount
    from app.agents.models import WITHDRAWAL_APPROVED, WITHDRAWAL_REQUESTED, Withdrawal
    from app.supply.models import CODE_SOLD, KIND_ACCOUNT, Supplier, SupplierCode

    total = func.coalesce(func.sum(LedgerEntry.amount), 0)
    ledger_rows = db.session.execute(
        select(LedgerAccount.owner_id, LedgerAccount.code, LedgerAccount.balance, total)
        .outerjoin(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .where(LedgerAccount.kind == "payable")
        .group_by(LedgerAccount.id, LedgerAccount.owner_id, LedgerAccount.code)
    ).all()
    sold = dict(
        db.session.execute(
            select(Supplier.account_id, func.coalesce(func.sum(SupplierCode.cost), 0))
            .join(Supplier, Supplier.id == SupplierCode.supplier_id)
            .where(
                SupplierCode.status == CODE_SOLD,
                Supplier.kind == KIND_ACCOUNT,
                Supplier.account_id.is_not(None),
            )
            .group_by(Supplier.account_id)
        ).all()
    )
    withdrawn = dict(
        db.session.execute(
            select(Withdrawal.account_id, func.coalesce(func.sum(Withdrawal.amount), 0))
            .join(ShopAccount, ShopAccount.id == Withdrawal.account_id)
            .where(
                ShopAccount.role == ROLE_SUPPLIER,
                Withdrawal.status.in_((WITHDRAWAL_REQUESTED, WITHDRAWAL_APPROVED)),
            )
            .group_by(Withdrawal.account_id)
        ).all()
    )
    held = {
        owner: (code, int(cached), int(entries)) for owner, code, cached, entries in ledger_rows
    }
    owners = sorted({*held, *sold, *withdrawn}, key=str)
    if not owners:
        return
    emails = dict(
        db.session.execute(
            select(ShopAccount.id, ShopAccount.email).where(ShopAccount.id.in_(owners))
        ).all()
    )
    for owner in owners:
        expected = int(sold.get(owner, 0)) - int(withdrawn.get(owner, 0))
        code, cached, entries = held.get(owner, (f"supplier:payable:{owner}", 0, 0))
        subject = emails.get(owner) or code
        if entries != expected:
            yield Difference(
                "supplier_payable_balance", subject, expected, entries, account_id=owner
            )
        elif cached != entries:
            yield Difference("wallet_balance", subject, entries, cached, account_id=owner)


def _supplier_deposits() -> Iterator[Difference]:
    """Each supplier's deposit account against its record (at most
    ``MAX_SUPPLIERS`` suppliers; deposit accounts of deleted ones too)."""
    from app.supply.models import Supplier

    total = func.coalesce(func.sum(LedgerEntry.amount), 0)
    held = {
        code: int(amount)
        for code, amount in db.session.execute(
            select(LedgerAccount.code, total)
            .outerjoin(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
            .where(LedgerAccount.code.like("supplier:deposit:%"))
            .group_by(LedgerAccount.id, LedgerAccount.code)
        ).all()
    }
    for ident, name, deposit in db.session.execute(
        select(Supplier.id, Supplier.name, Supplier.deposit).order_by(Supplier.name)
    ).all():
        code = f"supplier:deposit:{ident}"
        found = held.pop(code, 0)
        if found != int(deposit or 0):
            yield Difference("supplier_deposit_balance", name, int(deposit or 0), found)
    for code, found in sorted(held.items()):
        if found:
            yield Difference("supplier_deposit_balance", code, 0, found)


def _chunks(items: list, size: int = _CHUNK) -> Iterable[list]:
    for at in range(0, len(items), size):
        yield items[at : at + size]


def posted_amounts(keys: list[str]) -> dict[str, int]:
    """Transaction key → what it moved, for the keys that exist (queries of
    ``_CHUNK`` keys, on the unique key index)."""
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(set(keys))):
        rows = db.session.execute(
            select(LedgerTransaction.idempotency_key, _positive())
            .outerjoin(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
            .where(LedgerTransaction.idempotency_key.in_(chunk))
            .group_by(LedgerTransaction.id, LedgerTransaction.idempotency_key)
        ).all()
        found.update({key: int(amount) for key, amount in rows})
    return found


def _payments(start, end) -> Iterator[Difference]:
    from app.orders.models import Order

    orders = db.session.execute(
        select(Order.id, Order.number, Order.total)
        .where(
            Order.paid_at.is_not(None),
            Order.status.in_(PAID_STATES),
            *_within(Order.paid_at, start, end),
        )
        .order_by(Order.paid_at, Order.id)
    ).all()
    posted = posted_amounts([f"pay:{o.id}" for o in orders])
    for order_id, number, total in orders:
        paid = posted.get(f"pay:{order_id}")
        if paid is None:
            yield Difference("payment_missing", number, int(total), None, order_number=number)
        elif paid != total:
            yield Difference("payment_amount", number, int(total), paid, order_number=number)


def _refunds(start, end) -> Iterator[Difference]:
    from app.orders.models import REFUNDED, Order, OrderEvent

    refunded_then = (
        select(OrderEvent.id)
        .where(
            OrderEvent.order_id == Order.id,
            OrderEvent.to_status == REFUNDED,
            *_within(OrderEvent.created_at, start, end),
        )
        .exists()
    )
    orders = db.session.execute(
        select(Order.id, Order.number, Order.total)
        .where(Order.status == REFUNDED, refunded_then)
        .order_by(Order.created_at, Order.id)
    ).all()
    posted = posted_amounts([f"refund:{o.id}" for o in orders])
    for order_id, number, total in orders:
        refunded = posted.get(f"refund:{order_id}")
        if refunded is None:
            yield Difference("refund_missing", number, int(total), None, order_number=number)
        elif refunded != total:
            yield Difference("refund_amount", number, int(total), refunded, order_number=number)


def _commissions(start, end) -> Iterator[Difference]:
    from app.agents.models import (
        COMMISSION_CLAWED_BACK,
        COMMISSION_REVERSED,
        COMMISSION_SETTLED,
        Commission,
    )
    from app.orders.models import Order

    touched = select(Commission.order_id).where(
        _any_within(
            (Commission.created_at, Commission.settled_at, Commission.reversed_at), start, end
        )
    )
    rows = db.session.execute(
        select(Commission, Order.number)
        .join(Order, Order.id == Commission.order_id)
        .where(Commission.order_id.in_(touched))
        .order_by(Commission.created_at, Commission.order_id, Commission.level)
    ).all()
    if not rows:
        return
    expected: dict[str, int] = {}
    numbers: dict[str, str] = {}
    for commission, number in rows:
        accrued = f"commission:{commission.order_id}"
        expected[accrued] = expected.get(accrued, 0) + commission.amount
        numbers[accrued] = number
        for key, present in (
            (
                f"commission-settle:{commission.id}",
                commission.status in (COMMISSION_SETTLED, COMMISSION_CLAWED_BACK),
            ),
            (f"commission-reverse:{commission.id}", commission.status == COMMISSION_REVERSED),
            (f"commission-clawback:{commission.id}", commission.status == COMMISSION_CLAWED_BACK),
        ):
            numbers[key] = number
            if present:
                expected[key] = commission.amount
            else:
                expected.setdefault(key, None)
    yield from _compare("commission_posting", expected, numbers)


def _withdrawals(start, end) -> Iterator[Difference]:
    from app.accounts.models import ShopAccount
    from app.agents.models import WITHDRAWAL_APPROVED, WITHDRAWAL_REJECTED, Withdrawal

    when = _any_within((Withdrawal.created_at, Withdrawal.decided_at), start, end)
    rows = db.session.execute(
        select(Withdrawal, ShopAccount.email)
        .join(ShopAccount, ShopAccount.id == Withdrawal.account_id)
        .where(when)
        .order_by(Withdrawal.created_at, Withdrawal.id)
    ).all()
    expected: dict[str, int | None] = {}
    names: dict[str, str] = {}
    for withdrawal, email in rows:
        expected[f"withdrawal:{withdrawal.id}"] = withdrawal.amount
        paid, returned = f"withdrawal-paid:{withdrawal.id}", f"withdrawal-returned:{withdrawal.id}"
        expected[paid] = withdrawal.amount if withdrawal.status == WITHDRAWAL_APPROVED else None
        expected[returned] = withdrawal.amount if withdrawal.status == WITHDRAWAL_REJECTED else None
        for key in (f"withdrawal:{withdrawal.id}", paid, returned):
            names[key] = email
    yield from _compare("withdrawal_posting", expected, names, by_order=False)


def _compare(
    code: str, expected: dict[str, int | None], names: dict[str, str], *, by_order: bool = True
) -> Iterator[Difference]:
    posted = posted_amounts(list(expected))
    for key, amount in expected.items():
        found = posted.get(key)
        if found != amount:
            yield Difference(
                code,
                key,
                amount,
                found,
                order_number=names.get(key) if by_order else None,
                who=None if by_order else names.get(key),
            )
