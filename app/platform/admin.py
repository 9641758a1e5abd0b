"""The platform owner's console, read and written across shops: shops with
their owner and last 30 days of sales, platform users, the audit log of
every shop, and suspending or resuming a shop on the record.

Every function here works across shops (``all_tenants``), which only the
platform console may do; its pages check ``platform.admin`` first. Lists
are paged in the database, and one page costs a fixed number of queries
(the page, its total from the same filtered statement, one aggregate per
figure for the shops on the page), never one per row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select

from app.accounts.models import ROLE_OWNER, Membership, PlatformUser
from app.audit import services as audit
from app.audit.models import AuditEvent
from app.core.errors import ValidationFailed
from app.core.pagination import offset_of
from app.extensions import db
from app.orders.models import Order
from tenants import provisioning
from tenants.context import all_tenants, tenant_context
from tenants.models import TENANT_ACTIVE, TENANT_SUSPENDED, Tenant

#: The window of the shops list's sales figures.
SALES_DAYS = 30
MAX_REASON = 500
SHOP_STATUSES = (TENANT_ACTIVE, TENANT_SUSPENDED)


@dataclass(frozen=True)
class ShopRow:
    """One shop as the platform console lists it. ``orders`` and ``gmv``:
    orders placed in the last ``SALES_DAYS`` days and paid, and their
    totals in the shop's currency (gross: refunds are not taken off)."""

    id: uuid.UUID
    slug: str
    name: str
    status: str
    suspended_reason: str | None
    currency: str
    created_at: datetime
    owner_email: str | None
    orders: int
    gmv: int


def _contains(column, text: str):
    return func.lower(column).contains(text.lower(), autoescape=True)


def _shops_matching(query: str, status: str | None) -> Select:
    """The one filtered statement both the page and its total come from."""
    stmt = select(Tenant)
    text = (query or "").strip()
    if text:
        owners = (
            select(Membership.tenant_id)
            .join(PlatformUser, PlatformUser.id == Membership.user_id)
            .where(Membership.role == ROLE_OWNER, _contains(PlatformUser.email, text))
        )
        stmt = stmt.where(
            or_(
                _contains(Tenant.slug, text),
                _contains(Tenant.name, text),
                Tenant.id.in_(owners),
            )
        )
    if status in SHOP_STATUSES:
        stmt = stmt.where(Tenant.status == status)
    return stmt


def list_shops(
    *, query: str = "", status: str | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[ShopRow], int]:
    """A page of shops, newest first, matching ``query`` (in the name, the
    address or the owner's email) and ``status``, and how many match in
    all. Across shops; reads only."""
    since = datetime.now(UTC) - timedelta(days=SALES_DAYS)
    with all_tenants():
        matching = _shops_matching(query, status)
        total = db.session.scalar(select(func.count()).select_from(matching.subquery())) or 0
        tenants = db.session.scalars(
            matching.order_by(Tenant.created_at.desc(), Tenant.id.desc())
            .limit(per_page)
            .offset(offset_of(page, per_page))
        ).all()
        ids = [t.id for t in tenants]
        owners: dict[uuid.UUID, str] = {}
        sales: dict[uuid.UUID, tuple[int, int]] = {}
        if ids:
            owners = dict(
                db.session.execute(
                    select(Membership.tenant_id, func.min(PlatformUser.email))
                    .join(PlatformUser, PlatformUser.id == Membership.user_id)
                    .where(Membership.tenant_id.in_(ids), Membership.role == ROLE_OWNER)
                    .group_by(Membership.tenant_id)
                ).all()
            )
            # (tenant_id, created_at) is indexed: each shop's last 30 days.
            for tenant_id, count, gmv in db.session.execute(
                select(Order.tenant_id, func.count(Order.id), func.sum(Order.total))
                .where(
                    Order.tenant_id.in_(ids),
                    Order.created_at >= since,
                    Order.paid_at.is_not(None),
                )
                .group_by(Order.tenant_id)
            ).all():
                sales[tenant_id] = (int(count), int(gmv or 0))
    rows = [
        ShopRow(
            id=t.id,
            slug=t.slug,
            name=t.name,
            status=t.status,
            suspended_reason=t.suspended_reason,
            currency=t.currency,
            created_at=t.created_at,
            owner_email=owners.get(t.id),
            orders=sales.get(t.id, (0, 0))[0],
            gmv=sales.get(t.id, (0, 0))[1],
        )
        for t in tenants
    ]
    return rows, int(total)


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed(
            "A reason is required.",
            errors={"reason": ["Required."]},
            message=_l("Give a reason: it is kept with the shop and in the audit log."),
        )
    if len(text) > MAX_REASON:
        raise ValidationFailed(
            f"The reason may be at most {MAX_REASON} characters.",
            errors={"reason": [f"At most {MAX_REASON} characters."]},
            message=_l("The reason may be at most %(max)s characters long.", max=MAX_REASON),
        )
    return text


def _set_status(slug: str, status: str, reason: str | None, actor: str) -> Tenant:
    """Change the shop's status with its audit record, in one transaction."""
    tenant = provisioning.get_shop(slug)
    text = _reason(reason)
    action = "shop.suspended" if status == TENANT_SUSPENDED else "shop.resumed"
    with tenant_context(tenant):
        audit.record(actor, action, f"shop:{tenant.slug}", reason=text, was=tenant.status)
        db.session.flush()
    # Commits the status and the record together, then tells every process.
    return provisioning.set_shop_status(
        tenant.slug, status, text if status == TENANT_SUSPENDED else None
    )


def suspend_shop(slug: str, reason: str | None, actor: str) -> Tenant:
    """Suspend the shop ``slug`` (its pages say so; its data is kept), with a
    required reason, on the shop's audit record. ``ValidationFailed`` without
    a reason (nothing changes), ``NotFound`` for an unknown shop. Commits."""
    return _set_status(slug, TENANT_SUSPENDED, reason, actor)


def resume_shop(slug: str, reason: str | None, actor: str) -> Tenant:
    """Open a suspended shop again, with a required reason, on the shop's
    audit record. As ``suspend_shop``."""
    return _set_status(slug, TENANT_ACTIVE, reason, actor)


# --- platform users -----------------------------------------------------------


@dataclass(frozen=True)
class UserRow:
    """A platform user as the console lists them; ``shops``: memberships."""

    id: uuid.UUID
    email: str
    display_name: str | None
    is_platform_admin: bool
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None
    shops: int


def list_platform_users(
    *, query: str = "", active: bool | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[UserRow], int]:
    """A page of platform users (operators and platform owners), newest
    first, matching ``query`` (email or name) and ``active``, and how many
    match in all. Reads only."""
    stmt = select(PlatformUser)
    text = (query or "").strip()
    if text:
        stmt = stmt.where(
            or_(_contains(PlatformUser.email, text), _contains(PlatformUser.display_name, text))
        )
    if active is not None:
        stmt = stmt.where(PlatformUser.is_active.is_(active))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    users = db.session.scalars(
        stmt.order_by(PlatformUser.created_at.desc(), PlatformUser.id.desc())
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    shops: dict[uuid.UUID, int] = {}
    if users:
        with all_tenants():
            shops = dict(
                db.session.execute(
                    select(Membership.user_id, func.count(Membership.id))
                    .where(Membership.user_id.in_([u.id for u in users]))
                    .group_by(Membership.user_id)
                ).all()
            )
    rows = [
        UserRow(
            id=u.id,
            email=u.email,
            display_name=u.display_name,
            is_platform_admin=bool(u.is_platform_admin),
            is_active=bool(u.is_active),
            created_at=u.created_at,
            last_login_at=u.last_login_at,
            shops=int(shops.get(u.id, 0)),
        )
        for u in users
    ]
    return rows, int(total)


# --- the audit log of every shop ------------------------------------------------


@dataclass(frozen=True)
class AuditRow:
    id: uuid.UUID
    created_at: datetime
    shop_slug: str
    actor: str
    action: str
    subject: str
    detail: dict


def audit_log(
    *, shop: str = "", action: str = "", page: int = 1, per_page: int = 50
) -> tuple[list[AuditRow], int]:
    """A page of the audit records of every shop (suspensions from this
    console among them), newest first, optionally of one shop (its address)
    and of actions starting with ``action``; and how many match. Reads only."""
    stmt = select(AuditEvent, Tenant.slug).join(Tenant, Tenant.id == AuditEvent.tenant_id)
    if shop.strip():
        stmt = stmt.where(Tenant.slug == shop.strip().lower())
    if action.strip():
        stmt = stmt.where(AuditEvent.action.startswith(action.strip(), autoescape=True))
    with all_tenants():
        total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        found = db.session.execute(
            stmt.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(per_page)
            .offset(offset_of(page, per_page))
        ).all()
    rows = [
        AuditRow(e.id, e.created_at, slug, e.actor, e.action, e.subject, e.detail or {})
        for e, slug in found
    ]
    return rows, int(total)
