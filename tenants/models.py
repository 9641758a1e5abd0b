"""Shops (tenants) and their custom domains."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Uuid, false, func
from sqlalchemy.orm import Mapped, mapped_column

from app.core.dates import UTCDateTime
from app.core.ids import uuid7
from app.extensions import db
from tenants.guard import TenantOwned

TENANT_ACTIVE = "active"
TENANT_SUSPENDED = "suspended"


class Tenant(db.Model):
    """A shop. Platform-level: not itself tenant-owned."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    slug: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default=TENANT_ACTIVE)
    suspended_reason: Mapped[str | None] = mapped_column(String(500))
    theme: Mapped[str] = mapped_column(String(40), default="default")
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN")
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    #: IANA name; every time a person sees is shown in it (``app.core.dates``)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # The look (console › Settings): a colour, a plain-text announcement,
    # uploaded logo and banner files, and the theme's own settings.
    brand_color: Mapped[str] = mapped_column(String(7), default="#e4572e", server_default="#e4572e")
    announcement: Mapped[str] = mapped_column(String(500), default="", server_default="")
    logo_file: Mapped[str | None] = mapped_column(String(80))
    banner_file: Mapped[str | None] = mapped_column(String(80))
    #: the theme settings set for each theme: ``{"<theme>": {"<setting>": value}}``
    #: (read through ``app.core.themes``; switching themes keeps each one's)
    theme_settings: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    #: the platform's payment providers this shop does not offer (names); a
    #: provider the platform adds later is offered until the shop turns it off
    disabled_payment_providers: Mapped[list] = mapped_column(
        JSON, default=list, server_default="[]"
    )
    #: the operator's connected Stripe account (acct_…), if they connected one
    stripe_account_id: Mapped[str | None] = mapped_column(String(64))
    # Agents (console › Agents › Settings): how many upline levels earn
    # commission (0..3), how long commission waits before it settles (the
    # refund window), the first-order discount (whole percent), and the
    # smallest withdrawal and its fee (basis points of the amount).
    agent_depth: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    commission_hold_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    first_order_percent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    withdraw_min: Mapped[int] = mapped_column(BigInteger, default=1000, server_default="1000")
    withdraw_fee_bps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: the shop's supply API (``/supply/v1/``) answers docking partners
    supply_open: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: the storefront is paused for an unpaid plan (``app.billing.pause``);
    #: the console stays open. Kept beside the subscription's ``suspended``
    #: so a storefront request learns it from the cached host, with no query
    billing_paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )

    @property
    def is_suspended(self) -> bool:
        return self.status == TENANT_SUSPENDED


class CustomDomain(TenantOwned, db.Model):
    """A host name an operator points at the shop; served once verified.

    Verification: the operator publishes ``verification_token`` in a DNS TXT
    record ``_kameng.<host>``; ``verified_at`` is set when it is seen.
    """

    __tablename__ = "custom_domains"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    # Unique across the platform: a host maps to one shop. Directory data
    # (looked up before any shop is known), hence not led by tenant_id.
    host: Mapped[str] = mapped_column(String(253), unique=True)
    verification_token: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


def current_shop_currency() -> str:
    """The current shop's ISO 4217 currency (one indexed read; surfaces that
    hold the cached shop pass ``g.shop.currency`` instead)."""
    from sqlalchemy import select

    from tenants.context import current_tenant_id

    return db.session.scalar(select(Tenant.currency).where(Tenant.id == current_tenant_id()))
