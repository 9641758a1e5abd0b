"""Opening a shop with its owner: the tenant row (``tenants.provisioning``)
and the owner's membership, written together or not at all."""

from __future__ import annotations

from app.accounts.models import ROLE_OWNER, Membership, PlatformUser
from app.extensions import db
from tenants.context import tenant_context
from tenants.models import Tenant
from tenants.provisioning import add_tenant
from tenants.resolve import invalidate_resolution


def open_shop(slug: str, name: str, owner: PlatformUser, *, locale: str = "zh_CN") -> Tenant:
    """Open a shop with ``owner`` as its owner. Atomic (commits the caller's
    pending rows with it, e.g. a new owner); raises ``ValidationFailed`` for
    a bad slug or name and ``Conflict`` when the slug is taken. The shop
    answers on its host right after."""
    tenant = add_tenant(slug, name, locale=locale)
    with tenant_context(tenant):
        db.session.add(Membership(tenant_id=tenant.id, user_id=owner.id, role=ROLE_OWNER))
        try:
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    invalidate_resolution()
    return tenant
