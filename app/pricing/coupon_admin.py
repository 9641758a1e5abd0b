"""The operator's coupons (优惠券): create, list with their live uses,
change or switch off, delete. Using a coupon at checkout is
``app.pricing.coupons``; what it takes off a price is ``quote``'s.

Every function works in the current shop, checks every field (naming each
bad one in a ``ValidationFailed``; nothing is written then), commits its
change together with its audit row, and keeps a shop within
``MAX_COUPONS``. A code is stored upper-case and is unique in its shop
(``Conflict``, 409, for a taken one).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.audit import services as audit
from app.catalog.models import Category, Product
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.pagination import offset_of
from app.extensions import db
from app.pricing import checks
from app.pricing.checks import INVALID, Refused
from app.pricing.coupons import RETURNED_STATES
from app.pricing.models import (
    COUPON_FIXED,
    COUPON_KINDS,
    COUPON_PERCENT,
    MAX_COUPONS,
    Coupon,
    CouponRedemption,
)

CODE = re.compile(r"[A-Z0-9_-]{3,32}")
FIELDS = (
    "code",
    "kind",
    "amount",
    "min_spend",
    "product_id",
    "category_id",
    "max_uses",
    "max_uses_per_buyer",
    "starts_at",
    "expires_at",
    "allow_below_cost",
    "active",
)


def clean_code(value: Any) -> str:
    """A coupon code as stored: trimmed, upper-case, 3 to 32 of A-Z, 0-9,
    ``-`` and ``_``."""
    if not isinstance(value, str):
        raise Refused("Must be text.")
    code = value.strip().upper()
    if not CODE.fullmatch(code):
        raise Refused("3 to 32 letters, digits, - or _.")
    return code


def _uses_limit(value: Any) -> int | None:
    return None if value is None else checks.whole(value, 1, checks.MAX_USES)


_CHECKS = {
    "code": clean_code,
    "kind": lambda v: v if v in COUPON_KINDS else _refuse(f"One of {', '.join(COUPON_KINDS)}."),
    "min_spend": checks.money,
    "product_id": lambda v: checks.row_id(v, Product, "product"),
    "category_id": lambda v: checks.row_id(v, Category, "category"),
    "max_uses": _uses_limit,
    "max_uses_per_buyer": _uses_limit,
    "starts_at": checks.moment,
    "expires_at": checks.moment,
    "allow_below_cost": checks.flag,
    "active": checks.flag,
}


def _refuse(why: str):
    raise Refused(why)


def _amount(value: Any, kind: str) -> int:
    """A fixed amount off (minor units, above zero) or a whole percent (1..100)."""
    if kind == COUPON_PERCENT:
        return checks.whole(value, 1, 100)
    return checks.money(value, low=1)


def _clean(data: Mapping[str, Any], coupon: Coupon | None) -> dict:
    errors: dict[str, Any] = checks.unknown_fields(data, FIELDS)
    values: dict[str, Any] = {}
    if coupon is None:
        for key in ("code", "amount"):
            if key not in data:
                errors[key] = ["Missing data for required field."]
    for key, check in _CHECKS.items():
        if key in data:
            try:
                values[key] = check(data[key])
            except Refused as why:
                errors[key] = [str(why)]
    if "kind" not in errors:
        kind = values.get("kind", coupon.kind if coupon is not None else COUPON_FIXED)
        values["kind"] = kind
        if "amount" in data:
            try:
                values["amount"] = _amount(data["amount"], kind)
            except Refused as why:
                errors["amount"] = [str(why)]
        elif coupon is not None and kind != coupon.kind:
            # 20 minor units off is not 20 % off: a new kind needs its amount.
            errors["amount"] = ["Give the amount again for the new kind."]
    if not {"product_id", "category_id"} & errors.keys():
        product, category = checks.either_of(values, coupon, "product_id", "category_id")
        if product is not None and category is not None:
            errors["category_id"] = ["Choose a product or a category, not both."]
        values["product_id"], values["category_id"] = product, category
    if not {"starts_at", "expires_at"} & errors.keys():
        starts = (
            values["starts_at"] if "starts_at" in values else getattr(coupon, "starts_at", None)
        )
        ends = (
            values["expires_at"] if "expires_at" in values else getattr(coupon, "expires_at", None)
        )
        problem = checks.window_problem(starts, ends)
        if problem:
            errors["expires_at"] = [problem]
    if errors:
        raise ValidationFailed(INVALID, errors=errors)
    return values


def _code_taken() -> Conflict:
    return Conflict(
        "Another coupon of this shop has this code.",
        errors={"code": ["Another coupon has this code."]},
        message=_l("Another coupon has this code: choose another."),
    )


def _check_code_free(code: str, coupon_id: uuid.UUID | None) -> None:
    query = select(Coupon.id).where(Coupon.code == code)
    if coupon_id is not None:
        query = query.where(Coupon.id != coupon_id)
    if db.session.scalar(query) is not None:
        raise _code_taken()


def _commit() -> None:
    try:
        db.session.commit()
    except IntegrityError:  # the same code saved at the same moment
        db.session.rollback()
        raise _code_taken() from None


@dataclass(frozen=True)
class CouponView:
    """A coupon as shown: its row and its live uses (orders that expired or
    were cancelled gave theirs back)."""

    coupon: Coupon
    uses: int = 0

    def __getattr__(self, name: str) -> Any:
        if name == "coupon":  # not set yet (copying): no recursion
            raise AttributeError(name)
        return getattr(self.coupon, name)


def uses_of(coupon_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each coupon's live uses, counted as ``app.pricing.coupons.uses``
    counts one coupon's, for a page of coupons in one query."""
    from app.orders.models import Order

    if not coupon_ids:
        return {}
    rows = db.session.execute(
        select(CouponRedemption.coupon_id, func.count(CouponRedemption.id))
        .join(Order, Order.id == CouponRedemption.order_id)
        .where(
            CouponRedemption.coupon_id.in_(coupon_ids),
            Order.status.not_in(RETURNED_STATES),
        )
        .group_by(CouponRedemption.coupon_id)
    ).all()
    return {coupon_id: int(n) for coupon_id, n in rows}


def _views(coupons: list[Coupon]) -> list[CouponView]:
    counted = uses_of([c.id for c in coupons])
    return [CouponView(c, counted.get(c.id, 0)) for c in coupons]


def _find(coupon_id: uuid.UUID) -> Coupon:
    coupon = db.session.scalar(select(Coupon).where(Coupon.id == coupon_id))
    if coupon is None:
        raise NotFound("No such coupon.")
    return coupon


def get_coupon(coupon_id: uuid.UUID) -> CouponView:
    """One coupon of the current shop with its uses; ``NotFound`` otherwise."""
    return _views([_find(coupon_id)])[0]


def list_coupons(
    *,
    q: str | None = None,
    active: bool | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[CouponView], int]:
    """A page of the shop's coupons, newest first, each with its live uses,
    and how many match: ``q`` is part of the code (any case), ``active``
    keeps the coupons switched on (True) or off (False). Three queries."""
    conditions = []
    if q and q.strip():
        conditions.append(Coupon.code.contains(q.strip().upper(), autoescape=True))
    if active is not None:
        conditions.append(Coupon.active.is_(active))
    total = db.session.scalar(select(func.count(Coupon.id)).where(*conditions)) or 0
    rows = db.session.scalars(
        select(Coupon)
        .where(*conditions)
        .order_by(Coupon.created_at.desc(), Coupon.id.desc())
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    return _views(list(rows)), int(total)


def _detail(coupon: Coupon) -> dict:
    detail = {key: getattr(coupon, key) for key in FIELDS}
    for key, value in detail.items():
        if isinstance(value, uuid.UUID):
            detail[key] = str(value)
        elif isinstance(value, datetime):
            detail[key] = value.isoformat()
    return detail


def check_coupon(data: Mapping[str, Any], coupon_id: uuid.UUID | None = None) -> None:
    """Judge ``data`` as ``create_coupon`` (or ``update_coupon``) would,
    writing nothing."""
    _clean(data, _find(coupon_id) if coupon_id is not None else None)


def create_coupon(data: Mapping[str, Any], *, actor: str) -> CouponView:
    """Add a coupon: ``code`` and ``amount`` required; ``kind`` ``fixed``
    (minor units off, above zero; the default) or ``percent`` (1..100);
    ``min_spend``; a ``product_id`` or ``category_id`` scope (at most
    one); ``max_uses`` and ``max_uses_per_buyer`` (None: no limit);
    ``starts_at``/``expires_at``; ``allow_below_cost``; ``active``
    (default on). ``Conflict`` for a taken code or a shop holding
    ``MAX_COUPONS``. Audited; commits."""
    values = _clean(data, None)
    if db.session.scalar(select(func.count(Coupon.id))) >= MAX_COUPONS:
        raise Conflict(
            f"A shop holds at most {MAX_COUPONS} coupons.",
            errors={"coupons": [f"At most {MAX_COUPONS}."]},
            message=_l("A shop holds at most %(n)s coupons.", n=MAX_COUPONS),
        )
    _check_code_free(values["code"], None)
    coupon = Coupon(**values)
    db.session.add(coupon)
    db.session.flush()
    audit.record(actor, "coupon.created", f"coupon:{coupon.id}", **_detail(coupon))
    _commit()
    return get_coupon(coupon.id)


def update_coupon(coupon_id: uuid.UUID, data: Mapping[str, Any], *, actor: str) -> CouponView:
    """Change the given fields of a coupon; ``{"active": false}`` switches
    it off (buyers are refused it; its uses stay counted). A new ``kind``
    needs its ``amount`` with it. Audited; commits."""
    coupon = _find(coupon_id)
    values = _clean(data, coupon)
    if "code" in values:
        _check_code_free(values["code"], coupon.id)
    before = _detail(coupon)
    for key, value in values.items():
        setattr(coupon, key, value)
    after = _detail(coupon)
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changed:
        audit.record(
            actor, "coupon.updated", f"coupon:{coupon.id}", code=coupon.code, changed=changed
        )
        _commit()
    else:
        db.session.rollback()
    return get_coupon(coupon_id)


def delete_coupon(coupon_id: uuid.UUID, *, actor: str) -> str:
    """Delete a coupon no order has used; returns its code. A used coupon
    is history (its orders name it): ``Conflict``, switch it off instead.
    Audited; commits."""
    coupon = _find(coupon_id)
    used = db.session.scalar(
        select(CouponRedemption.id).where(CouponRedemption.coupon_id == coupon.id).limit(1)
    )
    if used is not None:
        raise Conflict(
            "This coupon has been used; switch it off instead of deleting it.",
            message=_l("This coupon has been used; switch it off instead of deleting it."),
        )
    code = coupon.code
    audit.record(actor, "coupon.deleted", f"coupon:{coupon.id}", **_detail(coupon))
    db.session.delete(coupon)
    db.session.commit()
    return code
