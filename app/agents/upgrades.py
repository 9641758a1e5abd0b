"""Reaching a better agent tier (升级): by paying its fee from the wallet, or
by recharging the wallet up to its total. ``manual`` tiers are the
operator's to give (``app.pricing``'s tier settings) and are never bought.

- Only upgrades: a tier of a higher rank than the account's current one
  (any tier, for an account with none). The account row is locked while
  its tier changes, so two requests cannot both upgrade it.
- **fee**: the ledger transaction ``tier-fee:<account>:<tier>:<n>`` (kind
  ``tier_fee``) moves the fee from the wallet to ``fees:tier``; a wallet
  short of it is ``InsufficientFunds`` (402) and nothing changes. Asking
  for the tier the account already holds charges nothing (a repeated
  request is harmless); ``n`` counts earlier purchases of that tier, so a
  tier bought again after the operator took it away is paid again.
- **recharge_total**: granted once the account's recharges (the
  ``recharge`` transactions into its wallet) add up to the tier's amount;
  asked for, or by itself when a recharge is confirmed
  (``grant_recharge_tier``, called by ``app.payments.recharges``).
- A tier makes a customer an agent. Suppliers keep their role and reach no
  tier this way.

Functions work in the current shop's context.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.accounts.models import ROLE_AGENT, ROLE_CUSTOMER, ShopAccount
from app.core.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from app.pricing.models import (
    UPGRADE_FEE,
    UPGRADE_MANUAL,
    UPGRADE_RECHARGE_TOTAL,
    AgentTier,
)

#: roles that may reach a tier (and become agents by it)
UPGRADABLE_ROLES = (ROLE_CUSTOMER, ROLE_AGENT)


class TierNotForSale(Forbidden):
    slug = "tier-not-for-sale"


class NotAnUpgrade(Conflict):
    slug = "tier-not-an-upgrade"


class TierNotReached(Conflict):
    slug = "tier-not-reached"


@dataclass(frozen=True)
class TierChoice:
    """A tier as the account sees it: whether it is above its own, how it is
    reached, and how far the account is from it (``progress``: its recharge
    total for a recharge tier, its balance for a fee tier)."""

    tier: AgentTier
    above: bool
    progress: int

    @property
    def kind(self) -> str:
        return self.tier.upgrade_kind

    @property
    def amount(self) -> int:
        return int(self.tier.upgrade_amount or 0)

    @property
    def reachable(self) -> bool:
        """Whether asking for it now would succeed."""
        return self.above and self.kind != UPGRADE_MANUAL and self.progress >= self.amount

    @property
    def missing(self) -> int:
        """What the account still lacks (0 when it has enough)."""
        return max(0, self.amount - self.progress)


@dataclass(frozen=True)
class TierOffer:
    """The account's tier (``None``: retail) and every tier of the shop, best
    first, with the account's standing towards each."""

    current: AgentTier | None
    choices: list[TierChoice]
    recharged: int
    balance: int

    @property
    def upgrades(self) -> list[TierChoice]:
        """Tiers above the current one the account can reach itself."""
        return [c for c in self.choices if c.above and c.kind != UPGRADE_MANUAL]


@dataclass(frozen=True)
class Upgrade:
    """The result of asking for a tier: the tier, what was charged (0 for a
    recharge tier or a repeat) and whether the account changed."""

    tier: AgentTier
    charged: int
    changed: bool


def recharge_total(account_id: uuid.UUID) -> int:
    """Everything the account has recharged into its wallet in this shop
    (the sum of its ``recharge`` transactions' wallet entries). One query."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0))
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(
                LedgerAccount.code == ledger.wallet_code(account_id),
                LedgerTransaction.kind == "recharge",
            )
        )
        or 0
    )


def _tiers() -> list[AgentTier]:
    return list(
        db.session.scalars(select(AgentTier).order_by(AgentTier.rank.desc(), AgentTier.name))
    )


def _is_above(tier: AgentTier, current: AgentTier | None) -> bool:
    return current is None or tier.rank > current.rank


def tier_offer(account_id: uuid.UUID) -> TierOffer:
    """The account's tier and the shop's tiers with its standing towards
    each (a fixed number of queries; a shop holds at most ``MAX_TIERS``)."""
    account = _account(account_id)
    tiers = _tiers()
    current = next((t for t in tiers if t.id == account.tier_id), None)
    recharged = recharge_total(account.id)
    balance = ledger.wallet_balance(account.id)
    choices = [
        TierChoice(
            tier,
            _is_above(tier, current),
            recharged if tier.upgrade_kind == UPGRADE_RECHARGE_TOTAL else balance,
        )
        for tier in tiers
    ]
    return TierOffer(current, choices, recharged, balance)


def _account(account_id: uuid.UUID, *, lock: bool = False) -> ShopAccount:
    query = select(ShopAccount).where(ShopAccount.id == account_id)
    if lock:
        query = query.with_for_update()
    account = db.session.scalar(query)
    if account is None or not account.is_active:
        raise NotFound("No such account.")
    return account


def _promote(account: ShopAccount, tier: AgentTier) -> None:
    account.tier_id = tier.id
    if account.role == ROLE_CUSTOMER:
        account.role = ROLE_AGENT


def buy_tier(account_id: uuid.UUID, tier_id: uuid.UUID) -> Upgrade:
    """Move the account up to ``tier_id`` (see the module doc). Commits.

    ``NotFound`` for a tier of no such id here; ``TierNotForSale`` (403)
    for a manual tier or a supplier's account; ``NotAnUpgrade`` (409) for a
    tier not above the account's; ``TierNotReached`` (409) for a recharge
    tier the account has not recharged enough for; ``InsufficientFunds``
    (402) for a fee its wallet cannot pay. Nothing changes on any error."""
    tier = db.session.scalar(select(AgentTier).where(AgentTier.id == tier_id))
    if tier is None:
        raise NotFound("No such tier.", message=_l("This tier no longer exists."))
    account = _account(account_id, lock=True)
    if account.tier_id == tier.id:
        db.session.rollback()
        return Upgrade(tier, 0, False)
    try:
        charged = _reach(account, tier)
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return Upgrade(tier, charged, True)


def _reach(account: ShopAccount, tier: AgentTier) -> int:
    """Check the rules, charge a fee tier, and set the tier (caller's
    transaction). Returns what was charged."""
    if account.role not in UPGRADABLE_ROLES:
        raise TierNotForSale(
            "Supplier accounts do not take agent tiers.",
            message=_l("This account cannot become an agent."),
        )
    if tier.upgrade_kind == UPGRADE_MANUAL:
        raise TierNotForSale(
            "This tier is given by the shop only; it cannot be bought.",
            message=_l("The shop gives this tier itself; it cannot be bought."),
        )
    current = (
        db.session.scalar(select(AgentTier).where(AgentTier.id == account.tier_id))
        if account.tier_id
        else None
    )
    if not _is_above(tier, current):
        raise NotAnUpgrade(
            "The account's tier is already at or above this one.",
            message=_l("Your tier is already at or above this one."),
        )
    charged = 0
    if tier.upgrade_kind == UPGRADE_FEE:
        charged = int(tier.upgrade_amount or 0)
        if charged > 0:
            _charge_fee(account, tier, charged)
    elif recharge_total(account.id) < int(tier.upgrade_amount or 0):
        raise TierNotReached(
            "The account's recharges do not reach this tier's total yet.",
            message=_l("Recharge a little more to reach this tier."),
        )
    _promote(account, tier)
    return charged


def _charge_fee(account: ShopAccount, tier: AgentTier, fee: int) -> None:
    from tenants.models import current_shop_currency

    stem = f"tier-fee:{account.id}:{tier.id}:"
    earlier = db.session.scalar(
        select(func.count(LedgerTransaction.id)).where(
            LedgerTransaction.idempotency_key.startswith(stem, autoescape=True)
        )
    )
    try:
        ledger.post(
            f"{stem}{int(earlier or 0) + 1}",
            "tier_fee",
            [
                ledger.Line(ledger.wallet_code(account.id), -fee),
                ledger.Line(ledger.TIER_FEES, fee),
            ],
            current_shop_currency(),
            memo=f"agent tier {tier.name}",
        )
    except ledger.InsufficientFunds:
        raise ledger.InsufficientFunds(
            "The wallet balance is too low for this tier's fee.",
            message=_l("Your balance is too low for this tier. Recharge first."),
        ) from None


def grant_recharge_tier(account_id: uuid.UUID) -> AgentTier | None:
    """After a recharge: move the account up to the best ``recharge_total``
    tier its recharges now reach, when that is above its tier (never down).
    The caller's transaction (the recharge's). Returns the new tier, or
    ``None`` when nothing changed."""
    tiers = [
        t
        for t in db.session.scalars(
            select(AgentTier)
            .where(AgentTier.upgrade_kind == UPGRADE_RECHARGE_TOTAL)
            .order_by(AgentTier.rank.desc(), AgentTier.upgrade_amount)
        )
    ]
    if not tiers:
        return None
    # Never raises for the account: a recharge must credit whatever the
    # account has become since it started.
    account = db.session.scalar(
        select(ShopAccount).where(ShopAccount.id == account_id).with_for_update()
    )
    if account is None or not account.is_active or account.role not in UPGRADABLE_ROLES:
        return None
    total = recharge_total(account.id)
    reached = next((t for t in tiers if int(t.upgrade_amount or 0) <= total), None)
    if reached is None or reached.id == account.tier_id:
        return None
    current_rank = (
        db.session.scalar(select(AgentTier.rank).where(AgentTier.id == account.tier_id))
        if account.tier_id
        else None
    )
    if current_rank is not None and reached.rank <= current_rank:
        return None
    _promote(account, reached)
    db.session.flush()
    return reached
