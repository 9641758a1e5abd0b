"""The lines of a price as a person reads them: one label per line kind.

``quote`` writes each line with its ``kind`` (``app.pricing.quote``:
``items``, ``tier_price``, ``quantity_break``, ``sale_price``,
``sub_shop_markup``, ``coupon``, ``first_order``); the order page, the pay
page and the order answers of the API name them from here, in the reader's
language, so a kind is called the same everywhere.

What a buyer is shown of an order placed in a sub-shop (分站): the items at
the sub-shop's price, then the coupon and first-order lines. How that price
was made (the agent's own price and markup) is the agent's business, not
its buyer's; the shop's operators see every line.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.pricing.quote import (
    LINE_COUPON,
    LINE_FIRST_ORDER,
    LINE_ITEMS,
    LINE_QUANTITY,
    LINE_SALE,
    LINE_SUB_SHOP,
    LINE_TIER,
)

LINE_LABELS = {
    LINE_TIER: _l("Agent price"),
    LINE_QUANTITY: _l("Quantity discount"),
    LINE_SALE: _l("Sale price"),
    LINE_SUB_SHOP: _l("Sub-shop markup"),
    LINE_COUPON: _l("Coupon"),
    LINE_FIRST_ORDER: _l("First order discount"),
}
#: the lines that make the unit price (folded into the items for a sub-shop's buyer)
UNIT_PRICE_KINDS = frozenset({LINE_TIER, LINE_QUANTITY, LINE_SALE, LINE_SUB_SHOP})


def line_label(kind: str, label: str = "", ref: str | None = None) -> str:
    """A line's label in the reader's language. The items line keeps the
    label written with the order (the product's name and the quantity); a
    coupon names its code; a kind this code does not know keeps its label."""
    if kind == LINE_COUPON and ref:
        return _("Coupon %(code)s", code=ref)
    known = LINE_LABELS.get(kind)
    if kind == LINE_ITEMS or known is None:
        return label or kind
    return str(known)


def shown_lines(snapshot: dict | None, *, folded: bool = False) -> list[dict]:
    """An order's price lines (``kind``, ``label``, ``amount``) from its
    quote snapshot, labelled. ``folded``: the unit-price lines are added
    into the items line (what a sub-shop's buyer sees). Orders priced
    before lines had kinds read as items lines."""
    lines = []
    for raw in (snapshot or {}).get("lines", []):
        kind = raw.get("kind") or LINE_ITEMS
        amount = int(raw.get("amount", 0))
        if folded and kind in UNIT_PRICE_KINDS and lines and lines[0]["kind"] == LINE_ITEMS:
            lines[0]["amount"] += amount
            continue
        label = line_label(kind, raw.get("label", ""), raw.get("ref"))
        lines.append({"kind": kind, "label": label, "amount": amount})
    return lines
