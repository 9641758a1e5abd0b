"""The plan's limits, asked by every service that adds something a plan
counts: ``check(name)`` before a product, a staff member, a custom domain,
an API key, a sub-shop or an order is added to the current shop.

A limit only blocks what is new: a shop over a limit after a downgrade
keeps everything it has and can use it; it cannot add more until it is
under the limit again or on a plan that lifts it. ``PlanLimitReached``
(403, ``plan-limit``) names the limit, the shop's plan and the cheapest
active plan that lifts it. A shop with no plan (the unlimited default)
costs one query a request (its plan, read once) and counts nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.billing.models import Plan
from app.billing.plans import (
    COUNT_LIMITS,
    FEATURE_LIMITS,
    LIMIT_NAMES,
    limit_value,
    list_plans,
    plan_of,
)
from app.core.errors import KamengError
from app.extensions import db
from tenants.context import current_tenant_id


class PlanLimitReached(KamengError):
    status = 403
    slug = "plan-limit"
    title = "The shop's plan does not allow this"


class _Sentence:
    """Two translated sentences shown as one message (each is its own msgid,
    so neither carries the other's words)."""

    def __init__(self, *parts) -> None:
        self.parts = parts

    def __str__(self) -> str:
        return " ".join(str(p) for p in self.parts)


_RULES = {
    "products": lambda plan, n: _l(
        "The %(plan)s plan allows at most %(count)s products.", plan=plan, count=n
    ),
    "staff": lambda plan, n: _l(
        "The %(plan)s plan allows at most %(count)s staff members.", plan=plan, count=n
    ),
    "domains": lambda plan, n: _l(
        "The %(plan)s plan allows at most %(count)s custom domains.", plan=plan, count=n
    ),
    "orders_month": lambda plan, n: _l(
        "This shop has taken the %(count)s orders a month its %(plan)s plan allows.",
        plan=plan,
        count=n,
    ),
    "api": lambda plan, n: _l("The %(plan)s plan does not include API keys.", plan=plan),
    "sub_shops": lambda plan, n: _l("The %(plan)s plan does not include sub-shops.", plan=plan),
}


def month_start(zone: str, now: datetime | None = None) -> datetime:
    """The first instant (UTC) of the current month in time zone ``zone``."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    local = (now or datetime.now(UTC)).astimezone(tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def usage(name: str, tenant_id: uuid.UUID | None = None) -> int:
    """How much of limit ``name`` the current shop uses now (one count):
    products, staff members, custom domains, live operator API keys,
    sub-shops, orders placed since the month began in the shop's zone."""
    from app.accounts.models import ROLE_STAFF, ApiKey, Membership
    from app.agents.models import SubShop
    from app.catalog.models import Product
    from app.orders.models import Order
    from tenants.models import CustomDomain

    tenant_id = tenant_id or current_tenant_id()
    if name == "products":
        stmt = select(func.count(Product.id))
    elif name == "staff":
        stmt = select(func.count(Membership.id)).where(Membership.role == ROLE_STAFF)
    elif name == "domains":
        stmt = select(func.count(CustomDomain.id))
    elif name == "api":
        stmt = select(func.count(ApiKey.id)).where(
            ApiKey.revoked_at.is_(None), ApiKey.shop_account_id.is_(None)
        )
    elif name == "sub_shops":
        stmt = select(func.count(SubShop.id))
    elif name == "orders_month":
        zone = plan_of(tenant_id).timezone
        stmt = select(func.count(Order.id)).where(Order.created_at >= month_start(zone))
    else:
        raise ValueError(f"unknown limit {name!r}")
    return int(db.session.scalar(stmt) or 0)


def lifts(plan, name: str, needed: int) -> bool:
    """Whether ``plan`` allows ``needed`` of count limit ``name`` (or, for a
    feature, includes it)."""
    value = limit_value(plan, name)
    if name in FEATURE_LIMITS:
        return bool(value)
    return value is None or value >= needed


def cheapest_lifting(name: str, needed: int, current=None):
    """The cheapest active plan (by monthly price) other than ``current``
    that allows ``needed`` of ``name``, or ``None``."""
    for plan in list_plans(active_only=True):
        if (current is None or plan.id != current.id) and lifts(plan, name, needed):
            return plan
    return None


def check(name: str, *, adding: int = 1, tenant_id: uuid.UUID | None = None) -> None:
    """Raise ``PlanLimitReached`` when the current shop's plan does not allow
    ``adding`` more of limit ``name`` (one of ``LIMIT_NAMES``). Reads the
    plan (once a request) and, only when the plan caps that count, one
    count. Writes nothing; the caller adds the row after."""
    if name not in LIMIT_NAMES:
        raise ValueError(f"unknown limit {name!r}")
    tenant_id = tenant_id or current_tenant_id()
    plan = plan_of(tenant_id).plan
    if plan is None:
        return
    if name in FEATURE_LIMITS:
        if limit_value(plan, name):
            return
        needed, cap, used = 1, None, None
    else:
        cap = limit_value(plan, name)
        if cap is None:
            return
        used = usage(name, tenant_id)
        needed = used + adding
        if needed <= cap:
            return
    upgrade = cheapest_lifting(name, needed, plan)
    rule = _RULES[name](plan.name, cap)
    if upgrade is not None:
        remedy = _l("The %(upgrade)s plan lifts this limit.", upgrade=upgrade.name)
        detail = f"The {plan.code} plan does not allow this ({name}); the {upgrade.code} plan does."
    else:
        remedy = _l("No plan on offer lifts this limit; ask the platform.")
        detail = f"The {plan.code} plan does not allow this ({name}); no plan on offer lifts it."
    raise PlanLimitReached(
        detail,
        message=_Sentence(rule, remedy),
        limit=name,
        allowed=cap if name in COUNT_LIMITS else False,
        used=used,
        plan=plan.code,
        upgrade=upgrade.code if upgrade is not None else None,
    )


#: what ``plan_report`` counts, by limit name (``api``: live operator keys)
USAGE_NAMES: tuple[str, ...] = ("products", "staff", "domains", "orders_month", "api", "sub_shops")


@dataclass(frozen=True)
class PlanReport:
    """A shop's plan as its operator sees it: the plan (``None``: no plan,
    nothing limited), where it comes from (``subscription``, ``default`` or
    ``none``), the subscription's status and dates, each limit, and what
    the shop uses of each now."""

    plan: Plan | None
    source: str
    status: str | None
    started_at: datetime | None
    current_period_end: datetime | None
    launch_offer_ends_at: datetime | None
    limits: dict
    usage: dict


def plan_report(tenant_id: uuid.UUID | None = None) -> PlanReport:
    """The current shop's plan, limits and usage (the orders of the month
    that began in the shop's time zone). Reads only: one query for the plan
    and one count per limit."""
    tenant_id = tenant_id or current_tenant_id()
    shop_plan = plan_of(tenant_id)
    plan, sub = shop_plan.plan, shop_plan.subscription
    source = "subscription" if sub is not None else ("default" if plan is not None else "none")
    return PlanReport(
        plan=plan,
        source=source,
        status=sub.status if sub is not None else None,
        started_at=sub.started_at if sub is not None else None,
        current_period_end=sub.current_period_end if sub is not None else None,
        launch_offer_ends_at=sub.launch_offer_ends_at if sub is not None else None,
        limits={name: limit_value(plan, name) for name in LIMIT_NAMES},
        usage={name: usage(name, tenant_id) for name in USAGE_NAMES},
    )
