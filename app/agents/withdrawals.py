"""Withdrawals (提现): an agent takes earned money out of its wallet, or a
supplier account what the shop owes it out of its payable (应付,
``supplier:payable:<account>``, credited at cost for each code sold from
its pool), and the shop's owner pays it out or returns it. Both go through
the same rules below; the account a request draws on is its ``source``
(``source_code``) and a rejection returns the money there.

- ``request_withdrawal``: the amount leaves the agent's wallet at once and
  waits in ``withdrawals:pending`` (ledger ``withdrawal:<id>``: wallet −N,
  ``withdrawals:pending`` +N), so it cannot be spent twice while the owner
  decides. Only an active agent may ask; the amount is at least the shop's
  ``withdraw_min``; the shop's fee (``withdraw_fee_bps`` of the amount,
  rounded half up by ``core.money.share_of``) is fixed when asked and shown
  before; an agent has at most ``MAX_OPEN`` requests waiting.
- ``approve``: the owner paid it outside (bank, Alipay …) and gives the
  payment's reference (ledger ``withdrawal-paid:<id>``:
  ``withdrawals:pending`` −N, ``payouts`` +(N − fee), ``fees:withdrawal``
  +fee).
- ``reject``: the money goes back to the wallet, with the reason
  (ledger ``withdrawal-returned:<id>``: ``withdrawals:pending`` −N, wallet
  +N).

A decision is one conditional UPDATE (``requested`` → ``approved`` |
``rejected``): of two clicks, or two owners at once, one decides and the
other is told it was decided already; the money moves with the decision, in
its transaction, on the audit record. Asking is idempotent by the caller's
key (a form's hidden key, an API ``Idempotency-Key``): the same key returns
the first request and moves nothing more.

Every function works in the current shop and commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import ROLE_AGENT, ROLE_SUPPLIER, ShopAccount
from app.agents.models import (
    WITHDRAWAL_APPROVED,
    WITHDRAWAL_REJECTED,
    WITHDRAWAL_REQUESTED,
    WITHDRAWAL_STATUSES,
    Withdrawal,
)
from app.audit import services as audit
from app.core.errors import Conflict, Forbidden, KamengError, NotFound, ValidationFailed
from app.core.money import format_money, share_of
from app.core.pagination import offset_of
from app.extensions import db
from app.ledger import services as ledger

#: how many requests one agent may have waiting for a decision
MAX_OPEN = 3
MAX_TEXT = 200
MAX_KEY = 64
#: the roles that may withdraw, and the ledger account each draws on
WITHDRAWING_ROLES = (ROLE_AGENT, ROLE_SUPPLIER)


def source_code(role: str, account_id: uuid.UUID) -> str:
    """The ledger account a withdrawal of an account of ``role`` draws on:
    a supplier's payable, anyone else's wallet."""
    if role == ROLE_SUPPLIER:
        return ledger.supplier_payable_code(account_id)
    return ledger.wallet_code(account_id)


def withdrawable_balance(account_id: uuid.UUID, role: str | None = None) -> int:
    """What the account may withdraw now: its payable (a supplier) or its
    wallet (anyone else); ``role`` is read when not given."""
    if role is None:
        role = db.session.scalar(select(ShopAccount.role).where(ShopAccount.id == account_id))
    return ledger.account_balance(source_code(role or "", account_id))


class TooManyOpenWithdrawals(Conflict):
    slug = "too-many-open-withdrawals"
    title = "Too many withdrawal requests are waiting"


class WithdrawalDecided(Conflict):
    slug = "withdrawal-already-decided"
    title = "This withdrawal was already decided"


@dataclass(frozen=True)
class Terms:
    """What the shop asks of a withdrawal: the smallest amount, the fee in
    basis points, the currency, and how many requests may wait at once."""

    minimum: int
    fee_bps: int
    currency: str
    max_open: int = MAX_OPEN

    def fee_of(self, amount: int) -> int:
        return share_of(amount, self.fee_bps)


@dataclass(frozen=True)
class Requested:
    """A request as it stands, and whether this call made it (False: the same
    key was sent again and the first request is returned)."""

    withdrawal: Withdrawal
    made: bool


def terms() -> Terms:
    """The current shop's withdrawal terms (one row read)."""
    from tenants.context import current_tenant_id
    from tenants.models import Tenant

    row = db.session.execute(
        select(Tenant.withdraw_min, Tenant.withdraw_fee_bps, Tenant.currency).where(
            Tenant.id == current_tenant_id()
        )
    ).one()
    return Terms(max(1, int(row[0])), min(max(int(row[1]), 0), 10_000), row[2])


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def request_withdrawal(
    account_id: uuid.UUID,
    amount: int,
    payout_account: str,
    *,
    key: str | None = None,
) -> Requested:
    """Ask to withdraw ``amount`` minor units of the agent's wallet to
    ``payout_account`` (the agent's words: an Alipay account, a bank card).

    Atomic: the request row and its ledger transaction commit together, or
    nothing does. Idempotent by ``key`` per account (a repeat returns the
    first request with ``made=False``; the same key with another amount or
    payout account is a ``Conflict``). Refusals, each with a message for a
    page: ``Forbidden`` (not an active agent), ``ValidationFailed`` (amount
    below the shop's minimum or not more than the fee, payout account
    missing or too long), ``TooManyOpenWithdrawals`` (409, ``MAX_OPEN``
    waiting), ``InsufficientFunds`` (402, the wallet holds less)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("money is an int of minor units")
    payout_account = _clean(payout_account)
    key = (key or "").strip() or None
    if key is not None and len(key) > MAX_KEY:
        raise ValidationFailed(
            f"An idempotency key has at most {MAX_KEY} characters.",
            errors={"key": ["Too long."]},
            message=_l("The form was incomplete. Reload the page and try again."),
        )
    # The account row is locked first: two requests at once count the open
    # ones one after the other, so the cap holds.
    account = db.session.scalar(
        select(ShopAccount).where(ShopAccount.id == account_id).with_for_update()
    )
    if account is None:
        raise NotFound("No such account.")
    if key is not None:
        earlier = db.session.scalar(
            select(Withdrawal).where(
                Withdrawal.account_id == account.id, Withdrawal.request_key == key
            )
        )
        if earlier is not None:
            return _replayed(earlier, amount, payout_account)
    if account.role not in WITHDRAWING_ROLES or not account.is_active:
        raise Forbidden(
            "Only the shop's agents and suppliers can withdraw.",
            message=_l("Only agents and suppliers of this shop can withdraw money."),
        )
    shop = terms()
    _check_request(amount, payout_account, shop)
    waiting = db.session.scalar(
        select(func.count(Withdrawal.id)).where(
            Withdrawal.account_id == account.id, Withdrawal.status == WITHDRAWAL_REQUESTED
        )
    )
    if waiting >= shop.max_open:
        raise TooManyOpenWithdrawals(
            f"At most {shop.max_open} withdrawal requests may wait at once.",
            message=_l(
                "You already have %(count)s requests waiting. Wait for the shop to decide "
                "one of them, then ask again.",
                count=waiting,
            ),
        )
    withdrawal = Withdrawal(
        account_id=account.id,
        amount=amount,
        fee=shop.fee_of(amount),
        currency=shop.currency,
        payout_account=payout_account,
        status=WITHDRAWAL_REQUESTED,
        request_key=key,
        created_at=datetime.now(UTC),
    )
    try:
        with db.session.begin_nested():
            db.session.add(withdrawal)
    except IntegrityError:
        # The same key sent twice at once: the first one's request stands.
        db.session.rollback()
        earlier = db.session.scalar(
            select(Withdrawal).where(
                Withdrawal.account_id == account_id, Withdrawal.request_key == key
            )
        )
        if earlier is None:
            raise
        return _replayed(earlier, amount, payout_account)
    drawn_on = source_code(account.role, account.id)
    try:
        ledger.post(
            f"withdrawal:{withdrawal.id}",
            "withdrawal",
            [
                ledger.Line(drawn_on, -amount),
                ledger.Line(ledger.WITHDRAWALS_PENDING, amount),
            ],
            shop.currency,
            memo=f"withdrawal to {payout_account}",
        )
    except ledger.InsufficientFunds as err:
        db.session.rollback()
        balance = ledger.account_balance(drawn_on)
        raise ledger.InsufficientFunds(
            err.detail,
            errors={"amount": ["More than the balance."]},
            message=_l(
                "Your balance is %(balance)s: you can withdraw at most that.",
                balance=format_money(max(balance, 0), shop.currency),
            ),
        ) from None
    db.session.commit()
    return Requested(withdrawal, True)


def _replayed(earlier: Withdrawal, amount: int, payout_account: str) -> Requested:
    if earlier.amount != amount or earlier.payout_account != payout_account:
        raise Conflict(
            "This key was used for a different withdrawal request.",
            errors={"key": ["Used."]},
            message=_l("This form was used for another request already. Reload the page."),
        )
    return Requested(earlier, False)


def _check_request(amount: int, payout_account: str, shop: Terms) -> None:
    errors: dict[str, list[str]] = {}
    message = None
    if amount < shop.minimum:
        errors["amount"] = [f"At least {shop.minimum}."]
        message = _l(
            "The smallest withdrawal is %(minimum)s.",
            minimum=format_money(shop.minimum, shop.currency),
        )
    elif amount - shop.fee_of(amount) <= 0:
        errors["amount"] = ["Not more than the fee."]
        message = _l("After the fee nothing would be paid out. Withdraw more.")
    if not payout_account:
        errors["payout_account"] = ["Required."]
        message = message or _l("Say where the money should be paid: an account or card.")
    elif len(payout_account) > MAX_TEXT:
        errors["payout_account"] = [f"At most {MAX_TEXT} characters."]
        message = message or _l("The payout account is too long (at most 200 characters).")
    if errors:
        raise ValidationFailed(
            "The withdrawal request has invalid fields.", errors=errors, message=message
        )


def _decide(withdrawal_id: uuid.UUID, to: str, text: str, actor: str, field: str) -> Withdrawal:
    """Move one requested withdrawal to ``to`` with its reference or reason
    (the caller's transaction); the row as it was, with its amount and fee."""
    text = _clean(text)
    if not text or len(text) > MAX_TEXT:
        if field == "reference":
            message = _l("Give the payment's reference (at most 200 characters).")
        else:
            message = _l("Give a reason (at most 200 characters): the agent sees it.")
        raise ValidationFailed(
            f"Give the {field} (1 to {MAX_TEXT} characters).",
            errors={field: ["Required." if not text else f"At most {MAX_TEXT} characters."]},
            message=message,
        )
    withdrawal = get_withdrawal(withdrawal_id)
    moved = db.session.execute(
        update(Withdrawal)
        .where(Withdrawal.id == withdrawal.id, Withdrawal.status == WITHDRAWAL_REQUESTED)
        .values(status=to, reference=text, decided_by=actor[:120], decided_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        db.session.rollback()
        now = get_withdrawal(withdrawal_id)
        raise WithdrawalDecided(
            f"This withdrawal is {now.status} already.",
            status_now=now.status,
            message=(
                _l("This withdrawal was approved already; nothing more was done.")
                if now.status == WITHDRAWAL_APPROVED
                else _l("This withdrawal was rejected already; nothing more was done.")
            ),
        )
    return withdrawal


def approve(withdrawal_id: uuid.UUID, reference: str, actor: str) -> Withdrawal:
    """Record that the shop paid the withdrawal out (``reference``: the
    payment's number at the bank or Alipay). Atomic and decided once: a
    second call raises ``WithdrawalDecided`` (409) and moves nothing.
    ``NotFound`` for another shop's id; ``ValidationFailed`` without a
    reference. On the audit record (``withdrawal.approved``)."""
    withdrawal = _decide(withdrawal_id, WITHDRAWAL_APPROVED, reference, actor, "reference")
    lines = [
        ledger.Line(ledger.WITHDRAWALS_PENDING, -withdrawal.amount),
        ledger.Line(ledger.PAYOUTS, withdrawal.amount - withdrawal.fee),
    ]
    if withdrawal.fee:
        lines.append(ledger.Line(ledger.WITHDRAWAL_FEES, withdrawal.fee))
    ledger.post(
        f"withdrawal-paid:{withdrawal.id}",
        "withdrawal_paid",
        lines,
        withdrawal.currency,
        memo=f"withdrawal paid: {_clean(reference)}",
    )
    audit.record(
        actor,
        "withdrawal.approved",
        f"account:{withdrawal.account_id}",
        withdrawal=str(withdrawal.id),
        amount=withdrawal.amount,
        fee=withdrawal.fee,
        currency=withdrawal.currency,
        reference=_clean(reference),
    )
    db.session.commit()
    return get_withdrawal(withdrawal.id)


def drawn_from(withdrawal: Withdrawal) -> str:
    """The ledger account the request took its amount from (read from its
    ``withdrawal:<id>`` posting, so a role changed since does not matter)."""
    from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction

    code = db.session.scalar(
        select(LedgerAccount.code)
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerTransaction.idempotency_key == f"withdrawal:{withdrawal.id}",
            LedgerEntry.amount < 0,
        )
        .limit(1)
    )
    return code or ledger.wallet_code(withdrawal.account_id)


def reject(withdrawal_id: uuid.UUID, reason: str, actor: str) -> Withdrawal:
    """Refuse the withdrawal: the whole amount returns to the account it was
    drawn on (the agent's wallet, the supplier's payable), with ``reason``.
    Atomic and decided once (``WithdrawalDecided`` on a second call). On the
    audit record (``withdrawal.rejected``)."""
    withdrawal = _decide(withdrawal_id, WITHDRAWAL_REJECTED, reason, actor, "reason")
    ledger.post(
        f"withdrawal-returned:{withdrawal.id}",
        "withdrawal_returned",
        [
            ledger.Line(ledger.WITHDRAWALS_PENDING, -withdrawal.amount),
            ledger.Line(drawn_from(withdrawal), withdrawal.amount),
        ],
        withdrawal.currency,
        memo=f"withdrawal returned: {_clean(reason)}",
    )
    audit.record(
        actor,
        "withdrawal.rejected",
        f"account:{withdrawal.account_id}",
        withdrawal=str(withdrawal.id),
        amount=withdrawal.amount,
        currency=withdrawal.currency,
        reason=_clean(reason),
    )
    db.session.commit()
    return get_withdrawal(withdrawal.id)


def get_withdrawal(withdrawal_id: uuid.UUID) -> Withdrawal:
    """One withdrawal of the current shop, read fresh (``NotFound`` otherwise)."""
    db.session.expire_all()
    found = db.session.scalar(select(Withdrawal).where(Withdrawal.id == withdrawal_id))
    if found is None:
        raise NotFound("No such withdrawal.")
    return found


@dataclass(frozen=True)
class WithdrawalRow:
    """A withdrawal as a list shows it, with its requester's email and role
    (``agent`` or ``supplier``)."""

    withdrawal: Withdrawal
    email: str
    role: str = ROLE_AGENT


def list_withdrawals(
    *,
    status: str | None = None,
    account_id: uuid.UUID | None = None,
    email_part: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[WithdrawalRow], int]:
    """A page of the current shop's withdrawals, newest first, with how many
    match in all: of one ``status``, one agent (``account_id``) or agents
    whose email contains ``email_part``. Two queries."""
    if status is not None and status not in WITHDRAWAL_STATUSES:
        raise ValidationFailed("Unknown status.", errors={"status": ["Unknown."]})
    conditions = []
    if status:
        conditions.append(Withdrawal.status == status)
    if account_id is not None:
        conditions.append(Withdrawal.account_id == account_id)
    if email_part and email_part.strip():
        conditions.append(
            func.lower(ShopAccount.email).contains(email_part.strip().lower(), autoescape=True)
        )
    joined = select(func.count(Withdrawal.id)).join(
        ShopAccount, ShopAccount.id == Withdrawal.account_id
    )
    total = db.session.scalar(joined.where(*conditions)) or 0
    rows = db.session.execute(
        select(Withdrawal, ShopAccount.email, ShopAccount.role)
        .join(ShopAccount, ShopAccount.id == Withdrawal.account_id)
        .where(*conditions)
        .order_by(Withdrawal.created_at.desc(), Withdrawal.id.desc())
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    return [WithdrawalRow(w, email, role) for w, email, role in rows], int(total)


def open_count(account_id: uuid.UUID) -> int:
    """How many of the account's requests wait for a decision."""
    return int(
        db.session.scalar(
            select(func.count(Withdrawal.id)).where(
                Withdrawal.account_id == account_id, Withdrawal.status == WITHDRAWAL_REQUESTED
            )
        )
        or 0
    )


def refusal_field(err: KamengError) -> str | None:
    """The form field a refusal is about (``amount``, ``payout_account``,
    ``reference``, ``reason``), or None for the page's top."""
    return next(iter(err.errors or {}), None)
