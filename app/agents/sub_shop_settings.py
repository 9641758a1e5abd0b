"""An agent's own sub-shop (分站) settings: its address code, title, notice
and markups, as ``GET/PUT /api/v1/me/sub-shop`` and the agent centre set
them. (The sub-shop's pages at ``/s/<code>`` and its prices are the
storefront's and ``app.pricing.rules``'.)

Rules, each checked here for the API and the pages alike:

- only an active agent has a sub-shop, one per agent;
- ``code``: 3 to 24 characters of ``a-z``, ``0-9`` and ``-`` (typed in any
  case, stored lower-case), unique within the shop;
- ``title``: 1 to 80 characters; ``notice``: plain text up to 500;
- ``markups``: whole percents from 0 to ``MAX_MARKUP`` over the agent's own
  price, ``"*"`` for every category not named, else keyed by the id of one
  of this shop's categories (a child's own markup beats its parent's).

Functions work in the current shop's context; ``save_sub_shop`` commits.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import ROLE_AGENT, ShopAccount
from app.agents.models import SubShop
from app.billing import limits
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.ids import parse_uuid
from app.extensions import db

CODE = re.compile(r"[a-z0-9-]{3,24}")
MAX_TITLE = 80
MAX_NOTICE = 500
MAX_MARKUP = 500
ALL_CATEGORIES = "*"


def _agent(account_id: uuid.UUID) -> ShopAccount:
    account = db.session.scalar(select(ShopAccount).where(ShopAccount.id == account_id))
    if account is None or not account.is_active:
        raise NotFound("No such account.")
    if account.role != ROLE_AGENT:
        raise Forbidden(
            "Only agents open a sub-shop.", message=_l("Only agents can open a sub-shop.")
        )
    return account


def get_sub_shop(account_id: uuid.UUID) -> SubShop | None:
    """The account's sub-shop in the current shop, or ``None``."""
    return db.session.scalar(select(SubShop).where(SubShop.account_id == account_id))


def clean_code(raw: Any) -> str:
    """The code as stored (trimmed, lower-case); ``ValidationFailed``
    unless it keeps the rule."""
    code = raw.strip().lower() if isinstance(raw, str) else ""
    if not CODE.fullmatch(code):
        raise ValidationFailed(
            "code is 3 to 24 characters of a-z, 0-9 and '-'.",
            errors={"code": ["3 to 24 characters of a-z, 0-9 and '-'."]},
            message=_l("Use 3 to 24 letters, digits or hyphens for the address."),
        )
    return code


def _clean_text(raw: Any, field: str, limit: int, *, required: bool) -> str:
    text = raw.strip() if isinstance(raw, str) else ""
    if required and not text:
        raise ValidationFailed(
            f"{field} is required.",
            errors={field: ["Required."]},
            message=_l("Give your sub-shop a title."),
        )
    if len(text) > limit:
        raise ValidationFailed(
            f"{field} is at most {limit} characters.",
            errors={field: [f"At most {limit} characters."]},
            message=_l("Keep this to %(limit)s characters.", limit=limit),
        )
    return text


def _bad_markup(key: str) -> ValidationFailed:
    return ValidationFailed(
        f"markups[{key!r}] is a whole percent from 0 to {MAX_MARKUP}.",
        errors={"markups": [f"{key}: a whole percent from 0 to {MAX_MARKUP}."]},
        message=_l("A markup is a whole percent from 0 to %(max)s.", max=MAX_MARKUP),
    )


def clean_markups(raw: Any) -> dict[str, int]:
    """The markups as stored: ``{"*": pct, "<category id>": pct}``, every
    key ``"*"`` or a category of the current shop (one query), every value
    a whole percent from 0 to ``MAX_MARKUP``."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValidationFailed(
            "markups is an object of percents.",
            errors={"markups": ['An object such as {"*": 10}.']},
            message=_l("A markup is a whole percent from 0 to %(max)s.", max=MAX_MARKUP),
        )
    from app.catalog.models import Category

    cleaned: dict[str, int] = {}
    categories: dict[uuid.UUID, str] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MARKUP:
            raise _bad_markup(str(key))
        if key == ALL_CATEGORIES:
            cleaned[key] = value
            continue
        ident = parse_uuid(key) if isinstance(key, str) else None
        if ident is None:
            raise _unknown_category(str(key))
        categories[ident] = str(ident)
        cleaned[str(ident)] = value
    if categories:
        known = set(db.session.scalars(select(Category.id).where(Category.id.in_(categories))))
        for ident, key in categories.items():
            if ident not in known:
                raise _unknown_category(key)
    return cleaned


def _unknown_category(key: str) -> ValidationFailed:
    return ValidationFailed(
        f"markups[{key!r}] names no category of this shop.",
        errors={"markups": [f"{key}: not a category of this shop."]},
        message=_l("One of the categories is no longer in this shop. Reload the page."),
    )


def save_sub_shop(
    account_id: uuid.UUID,
    *,
    code: Any,
    title: Any,
    notice: Any = "",
    markups: Any = None,
) -> tuple[SubShop, bool]:
    """Open or change the agent's sub-shop; ``(sub-shop, created)``. Commits.

    ``Forbidden`` unless the account is an agent, ``ValidationFailed`` for
    a field that breaks a rule (the first one found), ``Conflict`` when
    another sub-shop of this shop has the code; nothing is written then."""
    account = _agent(account_id)
    values = {
        "code": clean_code(code),
        "title": _clean_text(title, "title", MAX_TITLE, required=True),
        "notice": _clean_text(notice, "notice", MAX_NOTICE, required=False),
        "markups": clean_markups(markups),
    }
    taken = db.session.scalar(
        select(SubShop.id).where(SubShop.code == values["code"], SubShop.account_id != account.id)
    )
    if taken is not None:
        raise _code_taken()
    sub_shop = get_sub_shop(account.id)
    created = sub_shop is None
    if created:
        limits.check("sub_shops")
        sub_shop = SubShop(account_id=account.id, **values)
        db.session.add(sub_shop)
    else:
        for name, value in values.items():
            setattr(sub_shop, name, value)
    try:
        db.session.commit()
    except IntegrityError:  # a twin took the code (or opened this agent's) first
        db.session.rollback()
        raise _code_taken() from None
    return sub_shop, created


def _code_taken() -> Conflict:
    return Conflict(
        "Another sub-shop has this code.",
        errors={"code": ["Taken."]},
        message=_l("Another sub-shop already uses this address. Choose another."),
    )
