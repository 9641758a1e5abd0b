"""Prices: one pure function, ``quote``, returns what a buyer pays and the
lines that explain it. Orders store its snapshot. Later rules (agent tiers,
price rules, coupons, first-order discounts) extend this function and only
this function; the order of application is written here once.

Money is integer minor units of the shop's currency; ``quote`` multiplies
and adds integers only, so it never rounds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class QuoteLine:
    label: str
    amount: int


@dataclass(frozen=True)
class Quote:
    currency: str
    unit_price: int
    quantity: int
    total: int
    lines: list[QuoteLine] = field(default_factory=list)

    def snapshot(self) -> dict:
        return asdict(self)


def quote(*, unit_price: int, quantity: int, currency: str, product_name: str) -> Quote:
    """Retail price × quantity (today's only rule)."""
    if not isinstance(unit_price, int) or not isinstance(quantity, int):
        raise TypeError("quote takes integer minor units and an integer quantity")
    if unit_price < 0 or quantity < 1:
        raise ValueError("price must be >= 0 and quantity >= 1")
    subtotal = unit_price * quantity
    lines = [QuoteLine(f"{product_name} × {quantity}", subtotal)]
    return Quote(currency, unit_price, quantity, subtotal, lines)
