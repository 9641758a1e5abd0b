"""Opening a shop with its owner: the tenant row (``tenants.provisioning``)
and the owner's membership, written together or not at all, within the
owner's quota of shops."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.accounts.models import ROLE_OWNER, Membership, PlatformUser
from app.core.errors import KamengError
from app.extensions import db
from tenants.context import all_tenants, tenant_context
from tenants.models import Tenant
from tenants.provisioning import add_tenant
from tenants.resolve import invalidate_host


class ShopQuotaReached(KamengError):
    status = 403
    slug = "shop-quota-reached"
    title = "This account may open no more shops"


def shops_owned(owner: PlatformUser) -> int:
    """How many shops ``owner`` owns, in every shop."""
    with all_tenants():
        return db.session.scalar(
            select(func.count(Membership.id)).where(
                Membership.user_id == owner.id, Membership.role == ROLE_OWNER
            )
        )


def ensure_shop_quota(owner: PlatformUser) -> None:
    """``ShopQuotaReached`` when ``owner`` already owns ``SHOPS_PER_ACCOUNT``
    shops. Platform admins are exempt: they open shops for others (``flask
    tenants create``) and are trusted with the platform anyway. Locks the
    owner's row for the rest of the transaction, so two requests of one
    account cannot both take the last place."""
    if owner.is_platform_admin:
        return
    db.session.execute(select(PlatformUser.id).where(PlatformUser.id == owner.id).with_for_update())
    limit = current_app.config["SHOPS_PER_ACCOUNT"]
    if shops_owned(owner) >= limit:
        raise ShopQuotaReached(
            f"This account already owns {limit} shops, the most one account may open.",
            message=_l(
                "You already own %(limit)s shops, the most one account may open.",
                limit=limit,
            ),
            limit=limit,
        )


def open_shop(slug: str, name: str, owner: PlatformUser, *, locale: str = "zh_CN") -> Tenant:
    """Open a shop with ``owner`` as its owner. Atomic (commits the caller's
    pending rows with it, e.g. a new owner); raises ``ValidationFailed`` for
    a bad slug or name, ``Conflict`` when the slug is taken and
    ``ShopQuotaReached`` past ``SHOPS_PER_ACCOUNT``. The shop answers on its
    host right after, and no other shop's cached host answer or page is
    dropped: the new host alone is invalidated (it may have been cached as
    an unknown host), since no other host changed."""
    ensure_shop_quota(owner)
    tenant = add_tenant(slug, name, locale=locale)
    with tenant_context(tenant):
        db.session.add(Membership(tenant_id=tenant.id, user_id=owner.id, role=ROLE_OWNER))
        try:
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    invalidate_host(f"{tenant.slug}.{current_app.config['PLATFORM_DOMAIN']}")
    return tenant
