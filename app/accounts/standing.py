"""An account's standing in its shop, as the operator sets it: its role
(buyer, agent, supplier), its agent tier (whose prices it pays; none:
retail), its upline (the agent who recruited it, up whose chain commission
flows: 上级), whether it may sign in, and its display name.

The upline chain's rules:

- an upline is an *active agent* of the same shop, never the account itself;
- no cycles: an account's upline is never one of its own downline;
- no chain deeper than the shop's ``agent_depth`` (agent settings): the
  links from the deepest account under this one up to the top of the new
  chain are at most that many. A shop paying no levels (depth 0) takes no
  uplines.

Every function works in the current shop (the tenant guard filters every
query; another shop's ids are not found) and costs a bounded number of
queries: a chain is walked at most ``MAX_WALK`` links.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from app.accounts.models import ROLE_AGENT, SHOP_ROLES, ShopAccount
from app.accounts.services import get_shop_account, normalize_email
from app.audit import services as audit
from app.core.errors import ValidationFailed
from app.core.ids import parse_uuid
from app.extensions import db
from app.pricing.models import AgentTier

#: the longest chain read up or down (far past any shop's depth of 3: an
#: older, deeper chain from before a lower setting still reads to its end)
MAX_WALK = 16
FIELDS = ("role", "is_active", "display_name", "tier_id", "upline_id", "upline_email")
INVALID = "The request has invalid fields; see 'errors'."


@dataclass(frozen=True)
class Standing:
    """An account with its tier's name, its upline and how many accounts
    have it as their upline (its direct downline)."""

    account: ShopAccount
    tier_name: str | None
    upline: ShopAccount | None
    downline: int


def standing_of(account_id: uuid.UUID) -> Standing:
    """The account's tier, upline and downline count (``NotFound`` for an
    account of another shop). Three queries at most."""
    account = get_shop_account(account_id)
    tier_name = (
        db.session.scalar(select(AgentTier.name).where(AgentTier.id == account.tier_id))
        if account.tier_id
        else None
    )
    upline = (
        db.session.scalar(select(ShopAccount).where(ShopAccount.id == account.upline_id))
        if account.upline_id
        else None
    )
    downline = db.session.scalar(
        select(func.count(ShopAccount.id)).where(ShopAccount.upline_id == account.id)
    )
    return Standing(account, tier_name, upline, int(downline or 0))


def _shop_depth() -> int:
    from tenants.context import current_tenant_id
    from tenants.models import Tenant

    depth = db.session.scalar(select(Tenant.agent_depth).where(Tenant.id == current_tenant_id()))
    return max(0, int(depth or 0))


def _chain_above(start: uuid.UUID) -> list[uuid.UUID]:
    """``start`` and its uplines, bottom up (at most ``MAX_WALK``)."""
    chain: list[uuid.UUID] = []
    node: uuid.UUID | None = start
    while node is not None and node not in chain and len(chain) < MAX_WALK:
        chain.append(node)
        node = db.session.scalar(select(ShopAccount.upline_id).where(ShopAccount.id == node))
    return chain


def levels_below(account_id: uuid.UUID, limit: int = MAX_WALK) -> int:
    """How many levels of downline the account has (0: none), counted up to
    ``limit``: one query a level."""
    level = select(ShopAccount.id).where(ShopAccount.upline_id == account_id)
    depth = 0
    while depth < limit and db.session.scalar(level.limit(1)) is not None:
        depth += 1
        level = select(ShopAccount.id).where(ShopAccount.upline_id.in_(level))
    return depth


class _Refused(ValueError):
    """The upline is not allowed; ``str(self)`` says why (English; pages
    translate it with ``app.pricing.messages``)."""


def _upline_for(account: ShopAccount, value: Any, by_email: bool) -> uuid.UUID | None:
    """The checked upline id for ``account`` (see the module's rules)."""
    if value is None or (by_email and isinstance(value, str) and not value.strip()):
        return None
    if by_email:
        email = normalize_email(value) if isinstance(value, str) else ""
        upline = db.session.scalar(select(ShopAccount).where(ShopAccount.email == email))
    else:
        ident = parse_uuid(value) if isinstance(value, (str, uuid.UUID)) else None
        if ident is None:
            raise _Refused("Not an account id.")
        upline = db.session.scalar(select(ShopAccount).where(ShopAccount.id == ident))
    if upline is None:
        raise _Refused("No such account in this shop.")
    if upline.id == account.id:
        raise _Refused("An account cannot be its own upline.")
    if upline.role != ROLE_AGENT or not upline.is_active:
        raise _Refused("The upline must be an active agent.")
    above = _chain_above(upline.id)
    if account.id in above:
        raise _Refused("This upline is in the account's own downline: that would make a loop.")
    depth = _shop_depth()
    levels = len(above) + levels_below(account.id, depth + 1)
    if levels > depth:
        raise _Refused(f"The chain would be {levels} levels deep; this shop allows {depth}.")
    return upline.id


def _clean(account: ShopAccount, data: Mapping[str, Any]) -> tuple[dict, dict]:
    """The values to set, and the field errors."""
    errors: dict[str, list[str]] = {key: ["Unknown field."] for key in data if key not in FIELDS}
    values: dict[str, Any] = {}
    if "role" in data:
        if data["role"] in SHOP_ROLES:
            values["role"] = data["role"]
        else:
            errors["role"] = [f"One of {', '.join(SHOP_ROLES)}."]
    if "is_active" in data:
        if isinstance(data["is_active"], bool):
            values["is_active"] = data["is_active"]
        else:
            errors["is_active"] = ["Must be true or false."]
    if "display_name" in data:
        name = data["display_name"]
        if name is not None and (not isinstance(name, str) or len(name.strip()) > 120):
            errors["display_name"] = ["At most 120 characters."]
        else:
            values["display_name"] = (name or "").strip() or None
    if "tier_id" in data:
        tier = data["tier_id"]
        ident = parse_uuid(tier) if isinstance(tier, (str, uuid.UUID)) else None
        if tier is None:
            values["tier_id"] = None
        elif ident is None:
            errors["tier_id"] = ["Not an agent tier id."]
        elif db.session.scalar(select(AgentTier.id).where(AgentTier.id == ident)) is None:
            errors["tier_id"] = ["No such agent tier."]
        else:
            values["tier_id"] = ident
    for key, by_email in (("upline_id", False), ("upline_email", True)):
        if key not in data:
            continue
        try:
            values["upline_id"] = _upline_for(account, data[key], by_email)
        except _Refused as why:
            errors[key] = [str(why)]
        except ValidationFailed:  # not an email address at all
            errors[key] = ["Not an email address."]
    return values, errors


def update_account(account_id: uuid.UUID, data: Mapping[str, Any], *, actor: str) -> ShopAccount:
    """Change an account of the current shop: ``role``, ``is_active``,
    ``display_name``, ``tier_id`` (None: retail prices) and the upline,
    by ``upline_id`` or by ``upline_email`` (None or blank: no upline),
    checked against the chain's rules (module doc). ``ValidationFailed``
    naming every bad field, nothing written; ``NotFound`` for an account
    of another shop. A change is audited (``account.updated``, with what
    changed); one that changes nothing writes nothing. Commits."""
    account = get_shop_account(account_id)
    values, errors = _clean(account, data)
    if errors:
        raise ValidationFailed(INVALID, errors=errors)
    changed = {}
    for key, value in values.items():
        before = getattr(account, key)
        if before != value:
            changed[key] = [_plain(before), _plain(value)]
            setattr(account, key, value)
    if not changed:
        db.session.rollback()
        return get_shop_account(account_id)
    audit.record(
        actor, "account.updated", f"account:{account.id}", email=account.email, changed=changed
    )
    db.session.commit()
    return account


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value
