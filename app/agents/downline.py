"""An agent's downline (下级): the agents it recruited, theirs, and so on,
as deep as the shop pays commission (``Tenant.agent_depth``, at least the
direct downline).

What an agent is shown of its downline is what it needs and no more: a
masked email (``a***@example.com``), the tier's name, when they joined and
at which level below it. Lists are paged in the database (one query for the
page, one for the count, whatever the size of the tree).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import aliased

from app.accounts.models import ShopAccount
from app.agents.invites import shop_depth
from app.core.pagination import offset_of
from app.extensions import db
from app.pricing.models import AgentTier


@dataclass(frozen=True)
class DownlineMember:
    """One account below the agent: ``level`` 1 is its direct downline."""

    email: str  # masked
    tier: str | None
    role: str
    joined: datetime
    level: int


def mask_email(email: str) -> str:
    """``alice@example.com`` → ``a***@example.com``: enough to recognise
    someone one knows, not enough to write to them."""
    local, at, domain = (email or "").partition("@")
    if not at:
        return (local[:1] + "***") if local else "***"
    return f"{local[:1]}***@{domain}"


def _levels(account_id: uuid.UUID, depth: int):
    """One SELECT per level below ``account_id`` (level n joins n − 1
    uplines), each naming the level it is."""
    selects = []
    for level in range(1, depth + 1):
        member = aliased(ShopAccount)
        tier = aliased(AgentTier)
        chain = [member]
        query = select(
            member.id.label("id"),
            member.email.label("email"),
            member.role.label("role"),
            member.created_at.label("joined"),
            tier.name.label("tier"),
            literal(level).label("level"),
        ).outerjoin(tier, tier.id == member.tier_id)
        for _ in range(level - 1):
            above = aliased(ShopAccount)
            query = query.join(above, above.id == chain[-1].upline_id)
            chain.append(above)
        selects.append(query.where(chain[-1].upline_id == account_id))
    return union_all(*selects).subquery()


def levels_shown() -> int:
    """How many levels below an agent its downline shows (1..3)."""
    return max(1, shop_depth())


def downline_page(
    account_id: uuid.UUID, *, page: int = 1, per_page: int = 50
) -> tuple[list[DownlineMember], int]:
    """A page of the agent's downline, nearest level first, then by when
    they joined, and how many there are in all (current shop only)."""
    tree = _levels(account_id, levels_shown())
    total = db.session.scalar(select(func.count()).select_from(tree)) or 0
    rows = db.session.execute(
        select(tree)
        .order_by(tree.c.level, tree.c.joined.desc(), tree.c.id)
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    members = [
        DownlineMember(mask_email(r.email), r.tier, r.role, r.joined, int(r.level)) for r in rows
    ]
    return members, int(total)


def direct_count(account_id: uuid.UUID) -> int:
    """How many accounts the agent recruited itself."""
    return int(
        db.session.scalar(
            select(func.count(ShopAccount.id)).where(ShopAccount.upline_id == account_id)
        )
        or 0
    )
