"""The shop's customers as its operators see them (客户): buyers, agents and
suppliers with their wallet balances, and one customer's wallet history.

Reads only, in the current shop. A list page costs two queries whatever its
length: the accounts, then the balances of just those wallets (by their
ledger codes, which the ledger's unique index answers). Changing a balance
is ``app.ledger.adjustments``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.accounts.models import SHOP_ROLES, ShopAccount
from app.accounts.services import get_shop_account
from app.core.pagination import offset_of
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.adjustments import ADJUSTMENT
from app.ledger.kinds import kind_label
from app.ledger.models import LedgerAccount
from app.orders.models import Order


@dataclass(frozen=True)
class CustomerRow:
    account: ShopAccount
    balance: int
    currency: str


def list_customers(
    *,
    search: str | None = None,
    role: str | None = None,
    page: int = 1,
    per_page: int = 50,
    currency: str,
) -> tuple[list[CustomerRow], int]:
    """A page of the current shop's accounts, newest first, each with its
    wallet balance (0 and ``currency`` for a wallet never used), and how
    many match in all. ``search`` matches part of the email, any case;
    an unknown ``role`` matches every role."""
    conditions = []
    if search and search.strip():
        conditions.append(
            func.lower(ShopAccount.email).contains(search.strip().lower(), autoescape=True)
        )
    if role in SHOP_ROLES:
        conditions.append(ShopAccount.role == role)
    total = db.session.scalar(select(func.count(ShopAccount.id)).where(*conditions)) or 0
    accounts = db.session.scalars(
        select(ShopAccount)
        .where(*conditions)
        .order_by(ShopAccount.created_at.desc(), ShopAccount.id.desc())
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    wallets = wallet_balances([a.id for a in accounts])
    rows = [
        CustomerRow(a, *wallets.get(a.id, (0, currency)))
        for a in accounts  # a wallet never used holds nothing
    ]
    return rows, int(total)


def wallet_balances(account_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, str]]:
    """``account id → (balance, currency)`` for those of the accounts whose
    wallet has been used; one query."""
    if not account_ids:
        return {}
    codes = {ledger.wallet_code(i): i for i in account_ids}
    rows = db.session.execute(
        select(LedgerAccount.code, LedgerAccount.balance, LedgerAccount.currency).where(
            LedgerAccount.code.in_(codes)
        )
    ).all()
    return {codes[code]: (int(balance), currency) for code, balance, currency in rows}


@dataclass
class WalletLine:
    """One entry of a wallet's history, in people's words."""

    created_at: object
    amount: int
    kind: str
    label: str
    order_number: str | None
    memo: str


@dataclass
class CustomerWallet:
    account: ShopAccount
    balance: int
    currency: str
    lines: list[WalletLine] = field(default_factory=list)
    total: int = 0


def customer_wallet(account_id: uuid.UUID, *, page: int = 1, per_page: int = 50) -> CustomerWallet:
    """One account of the current shop with its balance and a page of its
    wallet's entries, newest first: the kind in words and, for an order's
    payment or refund, the order's number (one query for the page's
    numbers). The memo is kept only for adjustments, whose memo is the
    operator's reason; the others are internal references. ``NotFound``
    for an account of another shop."""
    account = get_shop_account(account_id)
    wallet = ledger.wallet_page(account.id, page=page, per_page=per_page)
    order_ids = {e["order_id"] for e in wallet["entries"] if e["order_id"]}
    numbers = (
        dict(
            db.session.execute(select(Order.id, Order.number).where(Order.id.in_(order_ids))).all()
        )
        if order_ids
        else {}
    )
    lines = [
        WalletLine(
            created_at=e["created_at"],
            amount=e["amount"],
            kind=e["kind"],
            label=kind_label(e["kind"]),
            order_number=numbers.get(e["order_id"]),
            memo=e["memo"] if e["kind"] == ADJUSTMENT else "",
        )
        for e in wallet["entries"]
    ]
    return CustomerWallet(account, wallet["balance"], wallet["currency"], lines, wallet["total"])
