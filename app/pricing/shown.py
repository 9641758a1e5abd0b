"""Products as one viewer is shown them: with that viewer's price.

A storefront page, a sub-shop page and a product answer of the API list
products for someone: a guest, a signed-in customer, an agent of a tier, a
buyer in an agent's sub-shop (分站). ``priced`` asks
``app.pricing.rules.prices_of`` once for the whole list and wraps each
product in a ``Priced``: ``price`` is what this viewer pays for one unit
(the product's minimum quantity), ``retail_price`` the product's list
price, and ``compare_at`` the list price to show struck through beside a
lower price (never in a sub-shop, whose buyers see the sub-shop's price
only: the agent's own price is the agent's business).

Everything else reads through to the product, so a template or a schema
that showed ``item.price`` before shows the viewer's price now, unchanged.
Reads only; the current shop's context.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.pricing.rules import RETAIL, Audience, prices_of


@dataclass(frozen=True)
class Priced:
    """A product with one viewer's price (see the module doc)."""

    item: Any
    price: int
    retail_price: int
    #: the list price to strike through beside ``price`` (None: nothing to compare)
    compare_at: int | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "item":  # not set yet (copying): no recursion
            raise AttributeError(name)
        return getattr(self.item, name)


def priced(
    items: list,
    audience: Audience = RETAIL,
    *,
    now: datetime | None = None,
    rules: list | None = None,
    parents: dict | None = None,
) -> list:
    """``items`` (products or ``ProductView``s, in their order) as
    ``Priced`` for ``audience``: one batch price query for the whole list,
    none when the caller passes the ``rules`` and categories' ``parents``
    it read (``app.pricing.rules.prices_of``)."""
    bare = [item.item if isinstance(item, Priced) else item for item in items]
    if not bare:
        return []
    prices = prices_of(bare, audience, now=now, rules=rules, parents=parents)
    compare = not audience.in_sub_shop
    shown = []
    for item in bare:
        price = prices[item.id]
        below = compare and price < item.price
        shown.append(Priced(item, price, item.price, item.price if below else None))
    return shown


def priced_one(item, audience: Audience = RETAIL, *, now: datetime | None = None) -> Priced:
    """One product as ``audience`` is shown it (see ``priced``)."""
    return priced([item], audience, now=now)[0]
