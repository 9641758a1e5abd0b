"""A shop's storefront paused for an unpaid plan, as the storefront reads it.

The truth is the subscription's ``suspended`` state; ``Tenant.billing_paused``
mirrors it so the host lookup (cached per process, ``tenants.resolve``)
tells every storefront request whether to show the paused page without a
query of its own. ``sync`` writes the mirror in the caller's transaction;
``announce`` (after the commit) tells every process's host cache, which also
makes the page cache's copies of the shop stale.
"""

from __future__ import annotations

from app.billing.models import SUB_SUSPENDED, Subscription
from app.extensions import db
from tenants.models import Tenant


def sync(row: Subscription) -> bool:
    """Set the shop's mirror from ``row``'s state (not committed); whether
    it changed (then ``announce`` after the commit)."""
    tenant = db.session.get(Tenant, row.tenant_id)
    paused = row.status == SUB_SUSPENDED
    if tenant is None or bool(tenant.billing_paused) == paused:
        return False
    tenant.billing_paused = paused
    return True


def announce(changed: bool = True) -> None:
    """After the commit of a ``sync`` that changed something: every
    process resolves the shop's host afresh."""
    if changed:
        from tenants.resolve import invalidate_resolution

        invalidate_resolution()
