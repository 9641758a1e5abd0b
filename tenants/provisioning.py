"""The tenant rows: a shop's slug and name rules, its ``Tenant`` row, its
suspension, and its custom domains and their verification.

Opening a shop *with its owner* is a use case of the accounts domain
(``app.accounts.shops.open_shop``): it adds the tenant row here and the
owner's membership there in one transaction. Every other function here owns
its transaction (commits on success) and publishes the change to every
process's host cache after the commit.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.core.errors import BadHost, Conflict, NotFound, ValidationFailed
from app.core.ids import uuid7
from app.extensions import db
from tenants.context import all_tenants, tenant_context
from tenants.models import TENANT_ACTIVE, TENANT_SUSPENDED, CustomDomain, Tenant
from tenants.resolve import invalidate_resolution, normalize_host
from tenants.slugs import ensure_slug_free, slug_taken, validate_slug


def validate_shop_name(name: str) -> str:
    value = (name or "").strip()
    if not 1 <= len(value) <= 120:
        raise ValidationFailed(
            "The shop name must be 1 to 120 characters long.",
            errors={"name": ["Must be 1 to 120 characters long."]},
            message=_l("The shop name must be 1 to 120 characters long."),
        )
    return value


def default_timezone(locale: str) -> str:
    """A new shop's time zone: Beijing time for a Chinese shop, else UTC
    (the operator changes it in the console's settings)."""
    return "Asia/Shanghai" if locale.startswith("zh") else "UTC"


def add_tenant(slug: str, name: str, *, locale: str = "zh_CN") -> Tenant:
    """Add the shop's ``Tenant`` row to the caller's transaction (flushed, not
    committed). ``ValidationFailed`` for a bad slug or name; ``Conflict``
    when the slug is taken (the transaction is then rolled back). The caller
    commits and then calls ``invalidate_resolution()`` so the host answers."""
    slug = validate_slug(slug)
    name = validate_shop_name(name)
    ensure_slug_free(slug)
    with all_tenants():
        # The id is given before the flush so that whatever watches the
        # flush (the page cache) sees this one shop, not a shop without id
        # (read as "every shop").
        tenant = Tenant(
            id=uuid7(), slug=slug, name=name, locale=locale, timezone=default_timezone(locale)
        )
        db.session.add(tenant)
        try:
            db.session.flush()
        except IntegrityError as exc:  # opened by someone else since the check
            db.session.rollback()
            raise slug_taken(slug) from exc
    return tenant


def get_shop(slug: str) -> Tenant:
    with all_tenants():
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == (slug or "").lower()))
    if tenant is None:
        raise NotFound(f"No shop '{slug}'.")
    return tenant


def set_shop_status(slug: str, status: str, reason: str | None = None) -> Tenant:
    """Suspend or resume a shop. Idempotent; its data is kept either way."""
    if status not in (TENANT_ACTIVE, TENANT_SUSPENDED):
        raise ValidationFailed(f"Unknown shop status '{status}'.")
    if reason is not None and len(reason) > 500:
        raise ValidationFailed(
            "The reason is too long.", errors={"reason": ["At most 500 characters."]}
        )
    tenant = get_shop(slug)
    with all_tenants():
        db.session.execute(
            update(Tenant)
            .where(Tenant.id == tenant.id)
            .values(
                status=status,
                suspended_reason=reason if status == TENANT_SUSPENDED else None,
            )
        )
        db.session.commit()
        db.session.refresh(tenant)
    invalidate_resolution()
    return tenant


def suspend_shop(slug: str, reason: str | None = None) -> Tenant:
    return set_shop_status(slug, TENANT_SUSPENDED, reason)


def resume_shop(slug: str) -> Tenant:
    return set_shop_status(slug, TENANT_ACTIVE)


def _domain_host(host: str) -> str:
    """Normalise a custom domain, or raise ``ValidationFailed`` saying why."""
    try:
        host = normalize_host(host)
    except BadHost as exc:
        raise ValidationFailed("Not a valid host name.", errors={"host": [exc.detail]}) from exc
    platform = current_app.config["PLATFORM_DOMAIN"]
    if host == platform or host.endswith("." + platform):
        raise ValidationFailed(
            f"Addresses under {platform} belong to the platform; connect a domain you own.",
            errors={"host": ["This address belongs to the platform."]},
        )
    if "." not in host or host.startswith("[") or host.rsplit(".", 1)[1].isdigit():
        raise ValidationFailed(
            "Connect a domain name, not an IP address or a single-label name.",
            errors={"host": ["Use a full domain name such as shop.example.com."]},
        )
    return host


def add_custom_domain(tenant: Tenant, host: str) -> CustomDomain:
    """Register ``host`` for the shop; it serves once verified. ``Conflict``
    when any shop has it already."""
    host = _domain_host(host)
    taken = Conflict("That domain is already connected to a shop.")
    with all_tenants():
        if db.session.scalar(select(CustomDomain.id).where(CustomDomain.host == host)):
            raise taken
    with tenant_context(tenant):
        domain = CustomDomain(host=host, verification_token=secrets.token_urlsafe(24))
        db.session.add(domain)
        try:
            db.session.commit()
        except IntegrityError as exc:  # connected by another shop since the check
            db.session.rollback()
            raise taken from exc
    return domain


def _shop_domain(host: str) -> CustomDomain:
    try:
        host = normalize_host(host)
    except BadHost as exc:
        raise NotFound(f"No domain '{host}' for this shop.") from exc
    domain = db.session.scalar(select(CustomDomain).where(CustomDomain.host == host))
    if domain is None:
        raise NotFound(f"No domain '{host}' for this shop.")
    return domain


def mark_domain_verified(tenant: Tenant, host: str) -> CustomDomain:
    """Record that the domain's ownership was verified; it serves at once.
    Only the shop's own domains (another shop's is ``NotFound``)."""
    with tenant_context(tenant):
        domain = _shop_domain(host)
        domain.verified_at = datetime.now(UTC)
        db.session.commit()
    invalidate_resolution()
    return domain


def verify_domain_dns(tenant: Tenant, host: str) -> CustomDomain:
    """Check the ``_kameng.<host>`` TXT record and mark the domain verified."""
    import dns.exception
    import dns.resolver

    with tenant_context(tenant):
        domain = _shop_domain(host)
        host, token = domain.host, domain.verification_token
    try:
        answers = dns.resolver.resolve(f"_kameng.{host}", "TXT", lifetime=5)
        values = {b"".join(r.strings).decode("ascii", "replace") for r in answers}
    except dns.exception.DNSException as exc:
        raise ValidationFailed(
            f"No TXT record _kameng.{host} was found ({type(exc).__name__})."
        ) from exc
    if token not in values:
        raise ValidationFailed(f"The TXT record _kameng.{host} does not hold the token.")
    return mark_domain_verified(tenant, host)
