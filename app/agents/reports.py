"""What the shop's operators read about agents (代理): the agents with their
tier, upline, downline, balance and pending commission; one agent's chain
(its uplines and its downline tree, 3 levels at most); and the commission
ledger (分润明细) with totals per status.

Reads only, in the current shop; every list is paged in the database and a
page costs a fixed number of queries whatever its length or the shop's size.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.accounts.customers import wallet_balances
from app.accounts.models import ROLE_AGENT, ShopAccount
from app.accounts.services import get_shop_account
from app.agents.models import (
    COMMISSION_PENDING,
    COMMISSION_SETTLED,
    COMMISSION_STATUSES,
    MAX_DEPTH,
    WITHDRAWAL_REQUESTED,
    Commission,
    Withdrawal,
)
from app.core.errors import ValidationFailed
from app.core.pagination import offset_of
from app.extensions import db
from app.pricing.models import AgentTier

#: how many accounts one level of a chain view shows (the rest are counted)
LEVEL_SHOWN = 100


@dataclass(frozen=True)
class AgentRow:
    """An agent as the list shows it."""

    account: ShopAccount
    tier_name: str | None
    upline_email: str | None
    downline: int
    balance: int
    pending: int


def list_agents(
    *,
    search: str | None = None,
    tier_id: uuid.UUID | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[AgentRow], int]:
    """A page of the current shop's agents, newest first, and how many match:
    ``search`` is part of an email (any case), ``tier_id`` one tier. Each
    row carries its tier's name, its upline's email, how many agents it
    recruited directly, its wallet balance and its pending commission.
    Five queries a page."""
    upline = aliased(ShopAccount)
    conditions = [ShopAccount.role == ROLE_AGENT]
    if search and search.strip():
        conditions.append(
            func.lower(ShopAccount.email).contains(search.strip().lower(), autoescape=True)
        )
    if tier_id is not None:
        conditions.append(ShopAccount.tier_id == tier_id)
    total = db.session.scalar(select(func.count(ShopAccount.id)).where(*conditions)) or 0
    rows = db.session.execute(
        select(ShopAccount, AgentTier.name, upline.email)
        .outerjoin(AgentTier, AgentTier.id == ShopAccount.tier_id)
        .outerjoin(upline, upline.id == ShopAccount.upline_id)
        .where(*conditions)
        .order_by(ShopAccount.created_at.desc(), ShopAccount.id.desc())
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    ids = [account.id for account, _tier, _up in rows]
    downline = downline_counts(ids)
    pending = pending_commission(ids)
    balances = wallet_balances(ids)
    return [
        AgentRow(
            account,
            tier,
            up,
            downline.get(account.id, 0),
            balances.get(account.id, (0, ""))[0],
            pending.get(account.id, 0),
        )
        for account, tier, up in rows
    ], int(total)


def downline_counts(account_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Account id → how many accounts name it as their upline (one query)."""
    if not account_ids:
        return {}
    return {
        upline: int(count)
        for upline, count in db.session.execute(
            select(ShopAccount.upline_id, func.count(ShopAccount.id))
            .where(ShopAccount.upline_id.in_(account_ids))
            .group_by(ShopAccount.upline_id)
        ).all()
    }


def pending_commission(account_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Account id → its commission not yet settled (one query)."""
    if not account_ids:
        return {}
    return {
        account: int(amount)
        for account, amount in db.session.execute(
            select(Commission.account_id, func.sum(Commission.amount))
            .where(Commission.account_id.in_(account_ids), Commission.status == COMMISSION_PENDING)
            .group_by(Commission.account_id)
        ).all()
    }


def tier_choices() -> list[tuple[uuid.UUID, str]]:
    """The shop's tiers as ``(id, name)``, best rank first (at most
    ``MAX_TIERS``)."""
    return [
        (tier_id, name)
        for tier_id, name in db.session.execute(
            select(AgentTier.id, AgentTier.name).order_by(AgentTier.rank.desc(), AgentTier.name)
        ).all()
    ]


@dataclass(frozen=True)
class Node:
    """An account in a chain view: who, its tier's name, where it hangs."""

    id: uuid.UUID
    email: str
    role: str
    tier_name: str | None
    upline_id: uuid.UUID | None
    is_active: bool
    created_at: datetime


@dataclass
class Chain:
    """One agent's place in its chain (推广关系): ``uplines`` from the nearest
    up, ``levels`` of its downline (level 1 first, ``LEVEL_SHOWN`` each at
    most) with how many each level has in all, and its money at a glance."""

    agent: Node
    uplines: list[Node]
    levels: list[list[Node]]
    level_totals: list[int]
    balance: int
    pending: int
    settled: int
    withdrawals_waiting: int
    children: dict = field(default_factory=dict)

    def children_of(self, node_id: uuid.UUID) -> list[Node]:
        return self.children.get(node_id, [])


def _nodes(query) -> list[Node]:
    return [
        Node(a.id, a.email, a.role, tier, a.upline_id, a.is_active, a.created_at)
        for a, tier in db.session.execute(
            query.add_columns(AgentTier.name).outerjoin(
                AgentTier, AgentTier.id == ShopAccount.tier_id
            )
        ).all()
    ]


def chain_of(account_id: uuid.UUID, *, depth: int = MAX_DEPTH) -> Chain:
    """The chain of one account of the current shop (``NotFound`` for
    another shop's): up to ``depth`` uplines and ``depth`` levels of
    downline. A few queries per level, whatever the downline's size."""
    account = get_shop_account(account_id)
    agent = _nodes(select(ShopAccount).where(ShopAccount.id == account.id))[0]
    uplines: list[Node] = []
    seen = {agent.id}
    next_up = agent.upline_id
    while next_up is not None and next_up not in seen and len(uplines) < depth:
        found = _nodes(select(ShopAccount).where(ShopAccount.id == next_up))
        if not found:
            break
        uplines.append(found[0])
        seen.add(next_up)
        next_up = found[0].upline_id
    levels: list[list[Node]] = []
    totals: list[int] = []
    children: dict[uuid.UUID, list[Node]] = {}
    all_below = select(ShopAccount.id).where(ShopAccount.id == account.id)
    shown_above = [account.id]
    for _level in range(depth):
        all_below = select(ShopAccount.id).where(ShopAccount.upline_id.in_(all_below))
        count = db.session.scalar(select(func.count()).select_from(all_below.subquery())) or 0
        if not count:
            break
        shown = _nodes(
            select(ShopAccount)
            .where(ShopAccount.upline_id.in_(shown_above), ShopAccount.id.not_in(seen))
            .order_by(ShopAccount.created_at, ShopAccount.id)
            .limit(LEVEL_SHOWN)
        )
        for node in shown:
            children.setdefault(node.upline_id, []).append(node)
            seen.add(node.id)
        levels.append(shown)
        totals.append(int(count))
        shown_above = [node.id for node in shown]
        if not shown_above:
            break
    money = db.session.execute(
        select(Commission.status, func.coalesce(func.sum(Commission.amount), 0))
        .where(
            Commission.account_id == account.id,
            Commission.status.in_((COMMISSION_PENDING, COMMISSION_SETTLED)),
        )
        .group_by(Commission.status)
    ).all()
    by_status = {status: int(amount) for status, amount in money}
    waiting = db.session.scalar(
        select(func.count(Withdrawal.id)).where(
            Withdrawal.account_id == account.id, Withdrawal.status == WITHDRAWAL_REQUESTED
        )
    )
    return Chain(
        agent=agent,
        uplines=uplines,
        levels=levels,
        level_totals=totals,
        balance=wallet_balances([account.id]).get(account.id, (0, ""))[0],
        pending=by_status.get(COMMISSION_PENDING, 0),
        settled=by_status.get(COMMISSION_SETTLED, 0),
        withdrawals_waiting=int(waiting or 0),
        children=children,
    )


@dataclass(frozen=True)
class CommissionFilter:
    """Which commissions: one ``status``, one earning agent (``account_id``)
    or agents whose email contains ``email_part``, created within
    ``[created_from, created_before)``."""

    status: str | None = None
    account_id: uuid.UUID | None = None
    email_part: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None


@dataclass(frozen=True)
class CommissionRow:
    commission: Commission
    order_number: str
    email: str


def _commission_conditions(wanted: CommissionFilter, *, with_status: bool = True) -> list:
    if wanted.status is not None and wanted.status not in COMMISSION_STATUSES:
        raise ValidationFailed("Unknown status.", errors={"status": ["Unknown."]})
    conditions = []
    if with_status and wanted.status:
        conditions.append(Commission.status == wanted.status)
    if wanted.account_id is not None:
        conditions.append(Commission.account_id == wanted.account_id)
    if wanted.email_part and wanted.email_part.strip():
        conditions.append(
            func.lower(ShopAccount.email).contains(
                wanted.email_part.strip().lower(), autoescape=True
            )
        )
    if wanted.created_from is not None:
        conditions.append(Commission.created_at >= wanted.created_from)
    if wanted.created_before is not None:
        conditions.append(Commission.created_at < wanted.created_before)
    return conditions


def list_commissions(
    wanted: CommissionFilter = CommissionFilter(), *, page: int = 1, per_page: int = 50
) -> tuple[list[CommissionRow], int]:
    """A page of the current shop's commissions, newest first, with the
    order's number and the agent's email, and how many match (two queries)."""
    from app.orders.models import Order

    conditions = _commission_conditions(wanted)
    total = db.session.scalar(
        select(func.count(Commission.id))
        .join(ShopAccount, ShopAccount.id == Commission.account_id)
        .where(*conditions)
    )
    rows = db.session.execute(
        select(Commission, Order.number, ShopAccount.email)
        .join(ShopAccount, ShopAccount.id == Commission.account_id)
        .join(Order, Order.id == Commission.order_id)
        .where(*conditions)
        .order_by(Commission.created_at.desc(), Commission.id.desc())
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    return [CommissionRow(c, number, email) for c, number, email in rows], int(total or 0)


def commission_totals(wanted: CommissionFilter = CommissionFilter()) -> dict[str, tuple[int, int]]:
    """Status → (how many, how much) of the commissions the filter matches,
    every status whatever the filter's own (one grouped query)."""
    rows = db.session.execute(
        select(Commission.status, func.count(Commission.id), func.sum(Commission.amount))
        .join(ShopAccount, ShopAccount.id == Commission.account_id)
        .where(*_commission_conditions(wanted, with_status=False))
        .group_by(Commission.status)
    ).all()
    found = {status: (int(count), int(amount or 0)) for status, count, amount in rows}
    return {status: found.get(status, (0, 0)) for status in COMMISSION_STATUSES}
