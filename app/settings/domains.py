"""A shop's custom domains as its operator manages them: connect one, see
the DNS record that proves it is theirs, verify it now, remove it.

The rules (which hosts may be connected, the record, the DNS check) are
``tenants.provisioning``'s; here each change is recorded in the audit log
in the same transaction, and every process learns of it after the commit.
Everything acts on the current shop: another shop's domain is
``NotFound``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.audit import services as audit
from app.billing import limits
from app.extensions import db
from tenants import provisioning
from tenants.context import current_tenant_id
from tenants.resolve import invalidate_resolution


@dataclass(frozen=True)
class DomainView:
    """One domain as the settings page shows it."""

    host: str
    verified_at: datetime | None
    record_name: str
    record_value: str


def list_domains() -> list[DomainView]:
    """The current shop's domains with the TXT record each one needs."""
    return [
        DomainView(d.host, d.verified_at, *provisioning.verification_record(d))
        for d in provisioning.shop_domains()
    ]


def add_domain(host: str, *, actor: str) -> DomainView:
    """Connect ``host`` to the current shop (unverified: it serves once its
    TXT record is seen). Atomic with its audit row. ``ValidationFailed`` or
    ``Conflict`` as ``provisioning.connect_domain`` says."""
    limits.check("domains")
    domain = provisioning.connect_domain(current_tenant_id(), host)
    view = DomainView(domain.host, None, *provisioning.verification_record(domain))
    audit.record(actor, "domain.added", f"domain:{domain.host}")
    db.session.commit()
    return view


def verify_domain(host: str, *, actor: str) -> DomainView:
    """Look up the domain's TXT record now; when it holds the value, mark
    the domain verified (the shop answers there at once), on the audit
    record. ``ValidationFailed`` saying what the lookup saw otherwise (in
    the reader's language: ``user_message()``); nothing is written then."""
    tenant_id = current_tenant_id()
    provisioning.check_domain_record(tenant_id, host)
    domain = provisioning.set_domain_verified(tenant_id, host)
    view = DomainView(domain.host, domain.verified_at, *provisioning.verification_record(domain))
    audit.record(actor, "domain.verified", f"domain:{domain.host}")
    db.session.commit()
    invalidate_resolution()
    return view


def remove_domain(host: str, *, actor: str) -> str:
    """Disconnect ``host`` from the current shop; it stops answering there
    at once. Atomic with its audit row. Returns the host."""
    domain = provisioning.disconnect_domain(current_tenant_id(), host)
    removed = domain.host
    audit.record(actor, "domain.removed", f"domain:{removed}", verified=bool(domain.verified_at))
    db.session.commit()
    invalidate_resolution()
    return removed
