"""The one permission check. Every view and endpoint asks ``authorize``
(directly or through ``require``) with a permission name; roles map to
permissions here and nowhere else.

Delivered codes (``orders.codes``): the owner always sees them; a staff
member only while the owner has granted it (``Membership.can_view_codes``,
set on the console's Members page, off by default); an API key of role
staff only while its maker holds that grant in the shop (an owner's key
has it by its role). A principal without it gets orders without their
codes or lookup token, and a 403 where codes are the whole answer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from app.core.errors import Forbidden, Unauthorized

# Who may do what. A role is what the principal is *in the current shop*
# (or on the platform site, for the platform owner).
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "platform_admin": frozenset({"platform.admin", "platform.console"}),
    "operator": frozenset({"platform.console"}),
    "owner": frozenset(
        {
            "shop.console",
            "shop.manage",
            "apikeys.manage",
            "accounts.view",
            "accounts.manage",
            "members.view",
            "members.manage",  # owner only: grants to staff
            "catalog.view",
            "catalog.manage",
            "orders.view",
            "orders.manage",
            "orders.codes",  # delivered codes and lookup tokens; staff by grant
            "cards.manage",
            "cards.reveal",  # owner only: the audited reveal and export
            "pricing.view",
            "pricing.manage",  # owner only: tiers, price rules, coupons
            "agents.view",
            "agents.manage",  # owner only: uplines, agent settings
            "withdrawals.manage",  # owner only: approve or reject payouts
            "ledger.view",  # owner only: the daily reconciliation (财务对账)
            "supply.view",
            "supply.manage",  # owner only: suppliers, sources, supply credentials
        }
    ),
    "staff": frozenset(
        {
            "shop.console",
            "accounts.view",
            "members.view",
            "catalog.view",
            "catalog.manage",
            "orders.view",
            "orders.manage",
            "cards.manage",  # import, list, void; not reveal or export
            "pricing.view",
            "agents.view",
            "supply.view",
        }
    ),
    # agent.centre: the agent's own side (invite link, downline, commission,
    # sub-shop, its own API keys)
    "agent": frozenset({"account.self", "wallet.self", "agent.buy", "agent.centre"}),
    "supplier": frozenset({"account.self", "wallet.self", "supplier.stock"}),
    "customer": frozenset({"account.self", "wallet.self"}),
}

#: What an owner may grant a staff member beyond the role. A grant reaches a
#: principal only through ``member_grants``; any other name is ignored.
CODES_GRANT = "orders.codes"
GRANTABLE: frozenset[str] = frozenset({CODES_GRANT})
KNOWN_PERMISSIONS: frozenset[str] = frozenset(
    {p for perms in ROLE_PERMISSIONS.values() for p in perms} | GRANTABLE
)


def member_grants(role: str | None, *, can_view_codes: bool) -> frozenset[str]:
    """The permissions a membership's grant flags add to its role: for staff,
    ``orders.codes`` while the owner has granted it. Nothing for an owner
    (the role holds everything already) or for no membership, so an API key
    holds a grant only when its maker is staff holding it."""
    if role == "staff" and can_view_codes:
        return frozenset({CODES_GRANT})
    return frozenset()


@dataclass(frozen=True)
class Principal:
    """Who is asking. ``kind``: platform_user | shop_account | api_key | anonymous."""

    kind: str
    id: uuid.UUID | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    email: str | None = None
    via: str = "session"  # session | api_key
    grants: frozenset[str] = field(default_factory=frozenset)  # see ``member_grants``

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"

    def permissions(self) -> frozenset[str]:
        perms: set[str] = set()
        for role in self.roles:
            perms |= ROLE_PERMISSIONS.get(role, frozenset())
        return frozenset(perms | (self.grants & GRANTABLE))

    def can(self, permission: str) -> bool:
        return permission in self.permissions()

    @property
    def actor(self) -> str:
        """How order histories, import rows and the audit log name who acted
        (the one naming rule; at most 120 characters)."""
        if self.kind == "api_key":
            name = f"api key {self.id}"
        elif self.kind == "platform_user":
            name = f"operator {self.email}"
        elif self.kind == "shop_account":
            name = f"buyer {self.email}"
        else:
            name = "guest"
        return name[:120]

    @property
    def shop_account_id(self) -> uuid.UUID | None:
        """The shop account acting (a buyer, agent or supplier signed in to the
        shop), or None."""
        return self.id if self.kind == "shop_account" else None


ANONYMOUS = Principal("anonymous")


def authorize(principal: Principal, permission: str) -> None:
    """Raise ``Unauthorized`` (no one signed in) or ``Forbidden`` unless allowed."""
    if permission not in KNOWN_PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    if not principal.is_authenticated:
        raise Unauthorized("Sign in, or send an API key as 'Authorization: Bearer …'.")
    if not principal.can(permission):
        raise Forbidden("Your role does not allow this.")
