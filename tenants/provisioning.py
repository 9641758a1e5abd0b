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
import uuid
from datetime import UTC, datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
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


#: A shop as these functions take it: its row or its id (``tenant_context``'s rules).
ShopRef = Tenant | uuid.UUID

#: Domains one shop may connect (a shop needs a few; more would only hold
#: names that other shops may want).
MAX_DOMAINS_PER_SHOP = 10
#: Where the verification record lives: ``_kameng.<host>``.
RECORD_PREFIX = "_kameng."


def verification_record(domain: CustomDomain) -> tuple[str, str]:
    """The DNS TXT record that proves ``domain`` is the operator's: its
    name and its value."""
    return RECORD_PREFIX + domain.host, domain.verification_token


def shop_domains() -> list[CustomDomain]:
    """The current shop's domains, oldest first (at most
    ``MAX_DOMAINS_PER_SHOP``)."""
    return list(
        db.session.scalars(
            select(CustomDomain)
            .order_by(CustomDomain.created_at, CustomDomain.id)
            .limit(MAX_DOMAINS_PER_SHOP)
        )
    )


def connect_domain(tenant: ShopRef, host: str) -> CustomDomain:
    """Add ``host`` to the shop in the caller's transaction (flushed, not
    committed); it serves once verified. ``ValidationFailed`` for a host the
    shop may not connect, ``Conflict`` when any shop has it already (the
    transaction is then rolled back) or the shop has
    ``MAX_DOMAINS_PER_SHOP``."""
    host = _domain_host(host)
    taken = Conflict(
        "That domain is already connected to a shop.",
        errors={"host": ["Already connected to a shop."]},
        message=_l("That domain is already connected to a shop."),
    )
    with all_tenants():
        if db.session.scalar(select(CustomDomain.id).where(CustomDomain.host == host)):
            raise taken
    with tenant_context(tenant):
        count = db.session.scalar(select(func.count(CustomDomain.id)))
        if count >= MAX_DOMAINS_PER_SHOP:
            raise Conflict(
                f"A shop connects at most {MAX_DOMAINS_PER_SHOP} domains; remove one first.",
                message=_l(
                    "A shop connects at most %(count)s domains; remove one first.",
                    count=MAX_DOMAINS_PER_SHOP,
                ),
            )
        domain = CustomDomain(host=host, verification_token=secrets.token_urlsafe(24))
        db.session.add(domain)
        try:
            db.session.flush()
        except IntegrityError as exc:  # connected by another shop since the check
            db.session.rollback()
            raise taken from exc
    return domain


def add_custom_domain(tenant: Tenant, host: str) -> CustomDomain:
    """Register ``host`` for the shop; it serves once verified. Commits.
    ``Conflict`` when any shop has it already."""
    domain = connect_domain(tenant, host)
    db.session.commit()
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


def shop_domain(tenant: ShopRef, host: str) -> CustomDomain:
    """The shop's domain ``host``; another shop's, or none, is ``NotFound``."""
    with tenant_context(tenant):
        return _shop_domain(host)


def disconnect_domain(tenant: ShopRef, host: str) -> CustomDomain:
    """Delete the shop's domain ``host`` in the caller's transaction
    (flushed); the shop stops answering there once the caller commits and
    calls ``invalidate_resolution``. Another shop's is ``NotFound``."""
    with tenant_context(tenant):
        domain = _shop_domain(host)
        db.session.delete(domain)
        db.session.flush()
    return domain


def set_domain_verified(tenant: ShopRef, host: str) -> CustomDomain:
    """Record in the caller's transaction (flushed) that the domain's
    ownership was verified; it serves once the caller commits and calls
    ``invalidate_resolution``. Another shop's is ``NotFound``."""
    with tenant_context(tenant):
        domain = _shop_domain(host)
        domain.verified_at = datetime.now(UTC)
        db.session.flush()
    return domain


def mark_domain_verified(tenant: Tenant, host: str) -> CustomDomain:
    """Record that the domain's ownership was verified; it serves at once.
    Only the shop's own domains (another shop's is ``NotFound``). Commits."""
    domain = set_domain_verified(tenant, host)
    db.session.commit()
    invalidate_resolution()
    return domain


def _nameserver(entry: str):
    """``ip``, ``ip:port``, ``[ipv6]`` or ``[ipv6]:port`` as a nameserver."""
    import dns.nameserver

    entry = entry.strip()
    if entry.startswith("["):
        address, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else "53"
    elif entry.count(":") == 1:
        address, port = entry.split(":")
    else:  # an IPv4 address, or an IPv6 one without brackets
        address, port = entry, "53"
    return dns.nameserver.Do53Nameserver(address, int(port))


def _resolver():
    """A DNS resolver: the system's, or the servers ``DNS_NAMESERVERS``
    names (comma-separated) when it is set."""
    import dns.resolver

    configured = current_app.config.get("DNS_NAMESERVERS") or ""
    if not configured.strip():
        return dns.resolver.Resolver()
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [_nameserver(e) for e in configured.split(",") if e.strip()]
    return resolver


def check_domain_record(tenant: ShopRef, host: str) -> None:
    """Look up the domain's ``_kameng.<host>`` TXT record now; returns when it
    holds the domain's value, else ``ValidationFailed`` saying what was seen
    (no record yet, a lookup that failed, or another value). Writes nothing.
    Another shop's domain is ``NotFound``."""
    import dns.exception
    import dns.resolver

    domain = shop_domain(tenant, host)
    name, token = verification_record(domain)
    try:
        answers = _resolver().resolve(name, "TXT", lifetime=5)
        values = {b"".join(r.strings).decode("ascii", "replace") for r in answers}
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer) as exc:
        raise ValidationFailed(
            f"No TXT record {name} was found ({type(exc).__name__}).",
            message=_l(
                "No TXT record %(name)s was found yet. A new record can take from a few "
                "minutes to a few hours to show; try again later.",
                name=name,
            ),
        ) from exc
    except dns.exception.DNSException as exc:
        raise ValidationFailed(
            f"The lookup of the TXT record {name} failed ({type(exc).__name__}).",
            message=_l(
                "The lookup of the TXT record %(name)s failed. Try again in a few minutes.",
                name=name,
            ),
        ) from exc
    if token not in values:
        raise ValidationFailed(
            f"The TXT record {name} does not hold the token.",
            message=_l(
                "The TXT record %(name)s was found, but it does not hold this domain's "
                "value. Check that it was copied exactly.",
                name=name,
            ),
        )


def verify_domain_dns(tenant: Tenant, host: str) -> CustomDomain:
    """Check the ``_kameng.<host>`` TXT record and mark the domain verified."""
    check_domain_record(tenant, host)
    return mark_domain_verified(tenant, host)
