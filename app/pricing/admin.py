"""The operator's pricing tools: agent tiers (代理等级) here, price rules
(价格规则) in ``app.pricing.rule_admin``, coupons in
``app.pricing.coupon_admin``.

The API and the console call these same functions. Each works in the
current shop (the tenant guard filters every query, so another shop's ids
are simply not found), checks every field and names each bad one in a
``ValidationFailed`` (nothing is written then), commits its change together
with its audit row, and bounds what a shop may hold (``MAX_TIERS``,
``MAX_PRICE_RULES``, ``MAX_COUPONS``). Field errors are English sentences
for the API; pages say them in the reader's language with
``app.pricing.messages``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import ShopAccount
from app.audit import services as audit
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.pricing import checks
from app.pricing.checks import INVALID, Refused
from app.pricing.models import (
    MAX_TIERS,
    UPGRADE_KINDS,
    UPGRADE_MANUAL,
    AgentTier,
    PriceRule,
)

MAX_TIER_NAME = 40
MAX_RANK = 1_000


# --- agent tiers --------------------------------------------------------------------


@dataclass(frozen=True)
class TierView:
    """A tier as shown: its row, how many accounts are on it and how many
    price rules are its own."""

    tier: AgentTier
    accounts: int = 0
    price_rules: int = 0

    @property
    def id(self) -> uuid.UUID:
        return self.tier.id

    @property
    def name(self) -> str:
        return self.tier.name

    @property
    def rank(self) -> int:
        return self.tier.rank

    @property
    def upgrade(self) -> dict:
        return {"kind": self.tier.upgrade_kind, "amount": self.tier.upgrade_amount}

    @property
    def created_at(self) -> datetime:
        return self.tier.created_at


def _counts_by(column, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not ids:
        return {}
    rows = db.session.execute(
        select(column, func.count()).where(column.in_(ids)).group_by(column)
    ).all()
    return {key: int(n) for key, n in rows}


def _tier_views(tiers: list[AgentTier]) -> list[TierView]:
    ids = [t.id for t in tiers]
    accounts = _counts_by(ShopAccount.tier_id, ids)
    rules = _counts_by(PriceRule.tier_id, ids)
    return [TierView(t, accounts.get(t.id, 0), rules.get(t.id, 0)) for t in tiers]


def list_tiers() -> list[TierView]:
    """Every tier of the shop (at most ``MAX_TIERS``), best first (highest
    rank, then name), with its accounts and rules counted (three queries)."""
    tiers = db.session.scalars(
        select(AgentTier).order_by(AgentTier.rank.desc(), AgentTier.name, AgentTier.id)
    ).all()
    return _tier_views(list(tiers))


def _find_tier(tier_id: uuid.UUID) -> AgentTier:
    tier = db.session.scalar(select(AgentTier).where(AgentTier.id == tier_id))
    if tier is None:
        raise NotFound("No such agent tier.")
    return tier


def get_tier(tier_id: uuid.UUID) -> TierView:
    """One tier of the current shop; ``NotFound`` for any other id."""
    return _tier_views([_find_tier(tier_id)])[0]


def _clean_upgrade(value: Any, tier: AgentTier | None) -> tuple[dict, dict]:
    """The upgrade's kind and amount (the tier's own where not given), or
    its field errors."""
    errors: dict[str, list[str]] = {}
    if not isinstance(value, Mapping):
        return {}, {"_schema": ["Must be an object: {kind, amount}."]}
    errors.update(checks.unknown_fields(value, ("kind", "amount")))
    kind = value.get("kind", tier.upgrade_kind if tier else UPGRADE_MANUAL)
    if kind not in UPGRADE_KINDS:
        errors["kind"] = [f"One of {', '.join(UPGRADE_KINDS)}."]
    amount = tier.upgrade_amount if tier is not None else 0
    if "amount" in value:
        try:
            amount = checks.money(value["amount"])
        except Refused as why:
            errors["amount"] = [str(why)]
    if not errors:
        if kind == UPGRADE_MANUAL:
            amount = 0  # reached by hand: no amount applies
        elif amount <= 0:
            errors["amount"] = ["Give an amount above zero for a fee or a recharge total."]
    return {"upgrade_kind": kind, "upgrade_amount": amount}, errors


def _clean_tier(data: Mapping[str, Any], tier: AgentTier | None) -> dict:
    errors: dict[str, Any] = checks.unknown_fields(data, ("name", "rank", "upgrade"))
    values: dict[str, Any] = {}
    if tier is None and "name" not in data:
        errors["name"] = ["Missing data for required field."]
    for key, check in (
        ("name", lambda v: checks.text(v, limit=MAX_TIER_NAME, empty="Give the tier a name.")),
        ("rank", lambda v: checks.whole(v, 0, MAX_RANK)),
    ):
        if key in data:
            try:
                values[key] = check(data[key])
            except Refused as why:
                errors[key] = [str(why)]
    if "upgrade" in data or tier is None:
        upgrade, problems = _clean_upgrade(data.get("upgrade", {}), tier)
        if problems:
            errors["upgrade"] = problems
        values.update(upgrade)
    if errors:
        raise ValidationFailed(INVALID, errors=errors)
    return values


def check_tier(data: Mapping[str, Any], tier_id: uuid.UUID | None = None) -> None:
    """Judge ``data`` as ``create_tier`` (or ``update_tier``) would, writing
    nothing: a form that could not read some fields asks about the rest."""
    _clean_tier(data, _find_tier(tier_id) if tier_id is not None else None)


def _name_taken() -> Conflict:
    return Conflict(
        "Another agent tier has this name.",
        errors={"name": ["Another tier has this name."]},
        message=_l("Another tier has this name: choose another."),
    )


def _check_name_free(name: str, tier_id: uuid.UUID | None) -> None:
    query = select(AgentTier.id).where(AgentTier.name == name)
    if tier_id is not None:
        query = query.where(AgentTier.id != tier_id)
    if db.session.scalar(query) is not None:
        raise _name_taken()


def _tier_detail(tier: AgentTier) -> dict:
    return {
        "name": tier.name,
        "rank": tier.rank,
        "upgrade_kind": tier.upgrade_kind,
        "upgrade_amount": tier.upgrade_amount,
    }


def _commit_or_conflict(conflict) -> None:
    """Commit; a uniqueness clash with a concurrent writer becomes ``conflict()``."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise conflict() from None


def create_tier(data: Mapping[str, Any], *, actor: str) -> TierView:
    """Add a tier: ``name`` (unique in the shop, at most 40 characters),
    ``rank`` (0..1000, higher is better), ``upgrade`` ``{kind, amount}``
    (``manual`` by default; a ``fee`` or ``recharge_total`` needs an amount
    above zero). ``Conflict`` for a taken name or a shop holding
    ``MAX_TIERS`` already. Audited; commits."""
    values = _clean_tier(data, None)
    if db.session.scalar(select(func.count(AgentTier.id))) >= MAX_TIERS:
        raise Conflict(
            f"A shop holds at most {MAX_TIERS} agent tiers.",
            errors={"tiers": [f"At most {MAX_TIERS}."]},
            message=_l("A shop holds at most %(n)s agent tiers.", n=MAX_TIERS),
        )
    _check_name_free(values["name"], None)
    tier = AgentTier(**values)
    db.session.add(tier)
    db.session.flush()
    audit.record(actor, "tier.created", f"tier:{tier.id}", **_tier_detail(tier))
    _commit_or_conflict(_name_taken)
    return get_tier(tier.id)


def update_tier(tier_id: uuid.UUID, data: Mapping[str, Any], *, actor: str) -> TierView:
    """Change the given fields of a tier (``upgrade`` may give its kind or
    amount alone). A change that changes nothing writes nothing. Audited;
    commits."""
    tier = _find_tier(tier_id)
    values = _clean_tier(data, tier)
    if "name" in values:
        _check_name_free(values["name"], tier.id)
    before = _tier_detail(tier)
    for key, value in values.items():
        setattr(tier, key, value)
    after = _tier_detail(tier)
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changed:
        audit.record(actor, "tier.updated", f"tier:{tier.id}", name=tier.name, changed=changed)
        _commit_or_conflict(_name_taken)
    else:
        db.session.rollback()
    return get_tier(tier_id)


@dataclass(frozen=True)
class TierDeleted:
    """What deleting a tier did: the accounts that fell back to retail
    prices and the tier's own price rules that went with it."""

    name: str
    accounts_to_retail: int
    price_rules_deleted: int


def delete_tier(tier_id: uuid.UUID, *, actor: str) -> TierDeleted:
    """Delete a tier. Its accounts fall back to retail prices (their tier
    is cleared) and the price rules for that tier are deleted with it; the
    answer says how many of each. Audited; commits."""
    tier = _find_tier(tier_id)
    moved = db.session.execute(
        update(ShopAccount)
        .where(ShopAccount.tier_id == tier.id)
        .values(tier_id=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    dropped = db.session.execute(
        delete(PriceRule)
        .where(PriceRule.tier_id == tier.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    done = TierDeleted(tier.name, int(moved or 0), int(dropped or 0))
    audit.record(
        actor,
        "tier.deleted",
        f"tier:{tier.id}",
        name=tier.name,
        accounts_to_retail=done.accounts_to_retail,
        price_rules_deleted=done.price_rules_deleted,
    )
    db.session.delete(tier)
    db.session.commit()
    return done
