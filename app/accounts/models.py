"""Who can sign in: platform users (operators, the platform owner), their
memberships of shops, shop accounts (buyers, agents, suppliers) and
operator API keys.

Platform users are one login for many shops. Shop accounts belong to one
shop: the same email at two shops is two accounts (``(tenant_id, email)``
is unique).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint, Uuid, false, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.dates import UTCDateTime
from app.core.ids import uuid7
from app.extensions import db
from tenants.guard import TenantOwned

ROLE_OWNER = "owner"
ROLE_STAFF = "staff"
MEMBER_ROLES = (ROLE_OWNER, ROLE_STAFF)

ROLE_CUSTOMER = "customer"
ROLE_AGENT = "agent"
ROLE_SUPPLIER = "supplier"
SHOP_ROLES = (ROLE_CUSTOMER, ROLE_AGENT, ROLE_SUPPLIER)


class PlatformUser(db.Model):
    """An operator or the platform owner (``is_platform_admin``)."""

    __tablename__ = "platform_users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(120))
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Membership(TenantOwned, db.Model):
    """A platform user's role in one shop (owner or staff), and what the
    owner has granted a staff member beyond the role (``can_view_codes``:
    see the delivered codes of orders; the owner always may). Grants become
    permissions in ``app.accounts.permissions.member_grants``."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    # Indexed alone for "the shops I belong to" on the platform site: like
    # custom domains, this is directory data that stays beside the shop map
    # when shops are sharded.
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("platform_users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16), default=ROLE_STAFF)
    can_view_codes: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())

    user: Mapped[PlatformUser] = relationship(lazy="joined")


class ShopAccount(TenantOwned, db.Model):
    """A buyer, agent or supplier of one shop."""

    __tablename__ = "shop_accounts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email"),
        UniqueConstraint("tenant_id", "invite_code"),
        Index("ix_shop_accounts_tenant_upline", "tenant_id", "upline_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16), default=ROLE_CUSTOMER)
    #: the agent tier whose prices this account pays (``app.pricing``)
    tier_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("agent_tiers.id", ondelete="SET NULL")
    )
    #: the agent who recruited this one (commission flows up this chain)
    upline_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("shop_accounts.id", ondelete="SET NULL")
    )
    #: the code of this agent's invite link ``/join/<code>``
    invite_code: Mapped[str | None] = mapped_column(String(24))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiKey(TenantOwned, db.Model):
    """An operator API key: ``km_<prefix>_<secret>``.

    Only the prefix (shown in listings) and an HMAC of the whole key are
    stored; the key itself is shown once, at creation.
    """

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "prefix"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default=ROLE_OWNER)
    #: an agent's own key (``POST /api/v1/me/api-keys``): it acts as that
    #: shop account (its prices, its wallet), never as the shop
    shop_account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("shop_accounts.id", ondelete="CASCADE")
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("platform_users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
