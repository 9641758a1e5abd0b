"""The platform's plans as the platform owner edits them, and the plan each
shop is on.

Plans are platform data: these functions read and write them with no shop
current. A shop's plan is its ``Subscription`` row's, else the default plan
(``BILLING_DEFAULT_PLAN``); with neither the shop is unlimited (``None``).
A shop's plan is read once per request (``plan_of`` keeps it on the
request's ``g``), since every limit check asks for it; a job or a command
reads it at each check.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.audit import services as audit
from app.billing.models import (
    INTERVAL_MONTH,
    INTERVAL_YEAR,
    INTERVALS,
    SUB_ACTIVE,
    Plan,
    Subscription,
)
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from tenants.context import tenant_context
from tenants.models import Tenant

MAX_MONEY = 10**12
MAX_LIMIT = 10**9
CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")

#: The limits a plan sets, by the name the CLI, the API and the
#: ``plan-limit`` problem use, and the column holding each. A count limit
#: is a whole number or ``None`` (unlimited); a feature is on or off.
COUNT_LIMITS: dict[str, str] = {
    "products": "max_products",
    "staff": "max_staff",
    "domains": "max_domains",
    "orders_month": "max_orders_month",
}
FEATURE_LIMITS: dict[str, str] = {"api": "api_access", "sub_shops": "sub_shops"}
LIMIT_NAMES: tuple[str, ...] = (*COUNT_LIMITS, *FEATURE_LIMITS)

#: every field a plan is written with, and its default on a new plan
PLAN_FIELDS: dict[str, Any] = {
    "code": None,
    "name": None,
    "price": 0,
    "currency": "CNY",
    "interval": INTERVAL_MONTH,
    "commission_bps": 0,
    "trial_days": 0,
    "grace_days": 7,
    "max_products": None,
    "max_staff": None,
    "max_domains": None,
    "max_orders_month": None,
    "api_access": True,
    "sub_shops": True,
    "active": True,
}


def limit_value(plan: Plan | None, name: str) -> int | bool | None:
    """The plan's limit ``name``: a count (``None``: unlimited) or whether a
    feature is included. No plan (the unlimited default) allows everything."""
    if name in FEATURE_LIMITS:
        return True if plan is None else bool(getattr(plan, FEATURE_LIMITS[name]))
    return None if plan is None else getattr(plan, COUNT_LIMITS[name])


def monthly_price(plan: Plan) -> int:
    """What the plan costs a month, to compare plans of either interval
    (a yearly fee spread over twelve months, rounded down)."""
    return plan.price // 12 if plan.interval == INTERVAL_YEAR else plan.price


def percent_text(basis_points: int) -> str:
    """``250`` → ``"2.5"``: basis points as a percentage for people, exact."""
    whole, rest = divmod(int(basis_points), 100)
    return f"{whole}.{rest:02d}".rstrip("0").rstrip(".") if rest else str(whole)


# --- writing plans ----------------------------------------------------------


def _whole(value: Any, low: int, high: int, errors: dict, key: str, *, blank_ok: bool = False):
    if value is None and blank_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errors[key] = [_l("Must be a whole number.")]
    elif value < low:
        errors[key] = [
            _l("Must not be negative.") if low == 0 else _l("Must be at least %(n)s.", n=low)
        ]
    elif value > high:
        errors[key] = [_l("Must be at most %(n)s.", n=high)]
    return value


def clean_plan(data: Mapping[str, Any], plan: Plan | None = None) -> dict[str, Any]:
    """Checked values for the given plan fields (all of them, with their
    defaults, for a new plan), or ``ValidationFailed`` naming every bad
    field with words for a page. Writes nothing."""
    errors: dict[str, list] = {}
    for key in data:
        if key not in PLAN_FIELDS:
            errors[str(key)] = [_l("Unknown field.")]
    values = {k: v for k, v in data.items() if k in PLAN_FIELDS}
    if plan is None:
        values = {**{k: v for k, v in PLAN_FIELDS.items() if v is not None}, **values}
        for key in ("code", "name"):
            if not values.get(key):
                errors[key] = [_l("Required.")]
    if "code" in values and "code" not in errors:
        code = str(values["code"] or "").strip().lower()
        if not CODE_PATTERN.match(code):
            errors["code"] = [
                _l(
                    "1 to 40 lower-case letters, digits or hyphens, starting with a letter or digit."
                )
            ]
        values["code"] = code
    if "name" in values and "name" not in errors:
        name = str(values["name"] or "").strip()
        if not 1 <= len(name) <= 80:
            errors["name"] = [_l("Must be 1 to 80 characters long.")]
        values["name"] = name
    if "currency" in values:
        currency = str(values["currency"] or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            errors["currency"] = [_l("A three-letter currency code, such as CNY.")]
        values["currency"] = currency
    if "interval" in values and values["interval"] not in INTERVALS:
        errors["interval"] = [_l("Either month or year.")]
    bounds = {"price": MAX_MONEY, "commission_bps": 10_000, "trial_days": 365, "grace_days": 90}
    for key, high in bounds.items():
        if key in values:
            _whole(values[key], 0, high, errors, key)
    for column in COUNT_LIMITS.values():
        if column in values:
            _whole(values[column], 0, MAX_LIMIT, errors, column, blank_ok=True)
    for column in (*FEATURE_LIMITS.values(), "active"):
        if column in values and not isinstance(values[column], bool):
            errors[column] = [_l("Either yes or no.")]
    if errors:
        raise ValidationFailed("The plan has invalid fields.", errors=errors)
    return values


def _code_taken() -> Conflict:
    return Conflict(
        "Another plan has this code.",
        errors={"code": [_l("Another plan has this code.")]},
    )


def create_plan(data: Mapping[str, Any]) -> Plan:
    """Add a plan (``code`` and ``name`` required; the rest default to a
    free monthly plan with no commission and no limits). Commits.
    ``ValidationFailed`` naming every bad field, ``Conflict`` for a code
    another plan has."""
    values = clean_plan(data)
    if db.session.scalar(select(Plan.id).where(Plan.code == values["code"])):
        raise _code_taken()
    plan = Plan(**values)
    db.session.add(plan)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise _code_taken() from None
    return plan


def update_plan(code: str, data: Mapping[str, Any]) -> Plan:
    """Change the given fields of the plan ``code``; its shops have the new
    limits at once (a lower limit blocks new use, never deletes). Commits.
    ``NotFound``, ``ValidationFailed``, or ``Conflict`` for a taken code."""
    plan = get_plan(code)
    values = clean_plan(data, plan)
    if values.get("code", plan.code) != plan.code and db.session.scalar(
        select(Plan.id).where(Plan.code == values["code"])
    ):
        raise _code_taken()
    for key, value in values.items():
        setattr(plan, key, value)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise _code_taken() from None
    forget_cached_plans()
    return plan


def set_plan_active(code: str, active: bool) -> Plan:
    """Offer the plan again, or take it off the offer (its shops stay on it;
    it is never deleted). Commits; ``NotFound`` for an unknown code."""
    plan = get_plan(code)
    plan.active = active
    db.session.commit()
    return plan


def get_plan(code: str) -> Plan:
    """The plan ``code``; ``NotFound`` when there is none."""
    plan = db.session.scalar(select(Plan).where(Plan.code == (code or "").strip().lower()))
    if plan is None:
        raise NotFound(
            f"No plan has the code {code!r}.",
            errors={"plan": ["No such plan."]},
            message=_l("No such plan."),
        )
    return plan


def list_plans(*, active_only: bool = False) -> list[Plan]:
    """Every plan (a platform has a handful), cheapest first by monthly price."""
    stmt = select(Plan)
    if active_only:
        stmt = stmt.where(Plan.active.is_(True))
    plans = list(db.session.scalars(stmt))
    return sorted(plans, key=lambda p: (monthly_price(p), p.code))


def plans_by_tenant(tenant_ids: list[uuid.UUID]) -> dict[uuid.UUID, Plan]:
    """The subscribed plan of each of these shops that has one (one query)."""
    if not tenant_ids:
        return {}
    rows = db.session.execute(
        select(Subscription.tenant_id, Plan)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.tenant_id.in_(tenant_ids))
    ).all()
    return {tenant_id: plan for tenant_id, plan in rows}


def subscriber_counts() -> dict[uuid.UUID, int]:
    """How many shops are subscribed to each plan (by plan id)."""
    return dict(
        db.session.execute(
            select(Subscription.plan_id, func.count(Subscription.id)).group_by(Subscription.plan_id)
        ).all()
    )


# --- a shop's plan ------------------------------------------------------------


@dataclass(frozen=True)
class ShopPlan:
    """The plan a shop is on and why: ``plan`` (``None``: unlimited), its
    ``subscription`` row (``None``: the default plan applies), and the
    shop's time zone (its months are counted in it)."""

    plan: Plan | None
    subscription: Subscription | None
    timezone: str = "UTC"


_CACHE = "kameng_billing_plans"


def _cache() -> dict | None:
    # Per request only: a worker keeps one app context (and its ``g``) for
    # its whole life, where a kept plan would outlive any change to it.
    return g.setdefault(_CACHE, {}) if has_request_context() else None


def forget_cached_plans() -> None:
    """Drop the plans this request read, after a change."""
    if has_request_context():
        g.pop(_CACHE, None)


def default_plan() -> Plan | None:
    """The plan of shops with no subscription (``BILLING_DEFAULT_PLAN``), or
    ``None`` (unlimited) when unset or naming no plan."""
    code = current_app.config.get("BILLING_DEFAULT_PLAN")
    if not code:
        return None
    return db.session.scalar(select(Plan).where(Plan.code == code))


def plan_of(tenant_id: uuid.UUID) -> ShopPlan:
    """The shop's plan, read at most once per request (one query, two with
    a default plan configured and no subscription)."""
    cache = _cache()
    if cache is not None and tenant_id in cache:
        return cache[tenant_id]
    row = db.session.execute(
        select(Tenant.timezone, Subscription)
        .outerjoin(Subscription, Subscription.tenant_id == Tenant.id)
        .where(Tenant.id == tenant_id)
    ).first()
    zone, subscription = (row[0], row[1]) if row is not None else ("UTC", None)
    found = ShopPlan(
        subscription.plan if subscription is not None else default_plan(),
        subscription,
        zone or "UTC",
    )
    if cache is not None:
        cache[tenant_id] = found
    return found


def find_shop(slug: str) -> Tenant:
    """The shop ``slug``; ``NotFound`` when there is none."""
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == (slug or "").strip().lower()))
    if tenant is None:
        raise NotFound(
            f"No shop has the address {slug!r}.",
            errors={"shop": ["No such shop."]},
            message=_l("No such shop."),
        )
    return tenant


def assign_plan(slug: str, code: str, *, actor: str, now: datetime | None = None) -> Subscription:
    """Put the shop ``slug`` on the plan ``code`` by hand (a comp or a
    migration): its subscription becomes ``active`` on that plan at once,
    keeping its start, its Stripe ids and its launch offer; a shop's first
    subscription gets the launch offer counted from the day it opened
    (``BILLING_LAUNCH_OFFER_DAYS``). On the shop's audit record
    (``billing.plan_assigned``) in the same transaction. A plan taken off
    the offer may still be assigned. ``NotFound`` for an unknown shop or
    plan. Commits; idempotent (the same plan again changes nothing but the
    record)."""
    tenant = find_shop(slug)
    plan = get_plan(code)
    now = now or datetime.now(UTC)
    subscription = db.session.scalar(
        select(Subscription).where(Subscription.tenant_id == tenant.id)
    )
    before = subscription.plan.code if subscription is not None else None
    if subscription is None:
        offer_days = current_app.config.get("BILLING_LAUNCH_OFFER_DAYS", 30)
        opened = tenant.created_at or now
        subscription = Subscription(
            tenant_id=tenant.id,
            plan_id=plan.id,
            status=SUB_ACTIVE,
            started_at=now,
            launch_offer_ends_at=opened + timedelta(days=offer_days) if offer_days else None,
        )
        db.session.add(subscription)
    else:
        subscription.plan_id = plan.id
        subscription.status = SUB_ACTIVE
    subscription.plan = plan
    with tenant_context(tenant):
        audit.record(
            actor, "billing.plan_assigned", f"plan:{plan.code}", plan=plan.code, before=before
        )
        db.session.commit()
    forget_cached_plans()
    return subscription


def commission_bps(tenant_id: uuid.UUID, now: datetime | None = None) -> int:
    """The platform's commission on the shop's sales right now, in basis
    points: its plan's, or none during its launch offer or with no plan."""
    shop_plan = plan_of(tenant_id)
    if shop_plan.plan is None:
        return 0
    sub = shop_plan.subscription
    now = now or datetime.now(UTC)
    if sub is not None and sub.launch_offer_ends_at is not None and now < sub.launch_offer_ends_at:
        return 0
    return shop_plan.plan.commission_bps
