"""Sub-shops (分站) as their buyers meet them: an agent's storefront inside
the shop at ``/s/<code>``.

A sub-shop shows the shop's products on sale under the sub-shop's title
and notice, at the sub-shop's prices (the owner's tier price plus the
owner's markup, ``app.pricing.rules.audience_for``); its orders are the
shop's, fulfilled by the shop, with the sub-shop recorded on them. It is
open while its owner's account is active and still an agent: any other
code (unknown, another shop's, an owner switched off or no longer an
agent) is not found, exactly like a page that does not exist.

Reads only, in the current shop's context; one query per look-up. The
owner manages the code, title, notice and markups elsewhere (the agent
centre); this module never changes them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from sqlalchemy import select

from app.core.errors import NotFound
from app.extensions import db

#: the longest code a sub-shop has (``SubShop.code``); a longer one is unknown
MAX_CODE = 24


@dataclass(frozen=True)
class SubShopFront:
    """What a sub-shop's pages show of it, and whose it is."""

    id: uuid.UUID
    code: str
    title: str
    notice: str
    account_id: uuid.UUID


def _open(*conditions) -> SubShopFront | None:
    from app.accounts.models import ROLE_AGENT, ShopAccount
    from app.agents.models import SubShop

    row = db.session.execute(
        select(SubShop.id, SubShop.code, SubShop.title, SubShop.notice, SubShop.account_id)
        .join(ShopAccount, ShopAccount.id == SubShop.account_id)
        .where(*conditions, ShopAccount.is_active.is_(True), ShopAccount.role == ROLE_AGENT)
    ).first()
    if row is None:
        return None
    return SubShopFront(row.id, row.code, row.title, row.notice or "", row.account_id)


def open_sub_shop(code: str) -> SubShopFront:
    """The open sub-shop ``code`` of the current shop; ``NotFound`` when
    there is none (unknown, or its owner is inactive or no longer an agent)."""
    from app.agents.models import SubShop

    front = None
    if code and len(code) <= MAX_CODE:
        front = _open(SubShop.code == code)
    if front is None:
        raise NotFound("No such sub-shop.")
    return front


def sub_shop_by_id(sub_shop_id: uuid.UUID | None) -> SubShopFront | None:
    """The sub-shop an order was placed in, while it is open (None
    otherwise): its order pages wear its title and lead back to it."""
    from app.agents.models import SubShop

    if sub_shop_id is None:
        return None
    return _open(SubShop.id == sub_shop_id)


def dressed(shop, front: SubShopFront):
    """The shop as a sub-shop's pages show it (``tenants.resolve.
    ShopSnapshot``): the sub-shop's title and notice in place of the shop's
    name and announcement, and no logo or banner of the shop's."""
    return replace(
        shop, name=front.title, announcement=front.notice, logo_file=None, banner_file=None
    )
