"""Money as integer minor units (分, cents) of an ISO 4217 currency.

Amounts are ``int`` everywhere: in columns, in JSON and in arithmetic. This
module is the one place that knows how many minor units a currency has and
how an amount is written for people; it never goes through ``float``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from app.core.errors import ValidationFailed

# ISO 4217 minor units that differ from the usual 2.
_MINOR_DIGITS = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}

# Symbols shoppers of our markets expect; other currencies show their code.
_SYMBOLS = {
    "CNY": "¥",
    "JPY": "¥",
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "HKD": "HK$",
    "TWD": "NT$",
    "MOP": "MOP$",
    "SGD": "S$",
    "KRW": "₩",
}


#: an amount as typed: digits, optionally a point and more digits (ASCII
#: only: ``str.isdigit`` would let other scripts' digits through)


def minor_digits(currency: str) -> int:
    """How many decimal places the currency's minor unit has (2 unless listed)."""
    return _MINOR_DIGITS.get((currency or "").upper(), 2)


def format_money(minor: int, currency: str) -> str:
    """``1250, "CNY"`` → ``"¥12.50"``; ``123456, "USD"`` → ``"$1,234.56"``;
    ``500, "JPY"`` → ``"¥500"``; unknown symbols → ``"CHF 12.50"``.

    Exact for any integer (no floats); a negative amount gets a leading
    minus sign. Raises ``TypeError`` for anything but an ``int``.
    """
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"money is an int of minor units, not {type(minor).__name__}")
    code = (currency or "").upper()
    digits = minor_digits(code)
    whole, fraction = divmod(abs(minor), 10**digits)
    text = f"{whole:,}"
    if digits:
        text += "." + str(fraction).zfill(digits)
    symbol = _SYMBOLS.get(code)
    text = f"{symbol}{text}" if symbol else f"{code} {text}"
    return f"-{text}" if minor < 0 else text


def share_of(amount: int, basis_points: int) -> int:
    """``amount × basis_points / 10 000``, rounded half up to a whole minor unit.

    The one rounding rule for shares of money (platform fees, commissions):
    exact integer arithmetic, so ``share_of(1999, 300) == 60`` (59.97 → 60).
    """
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("money is an int of minor units")
    if amount < 0:
        return -share_of(-amount, basis_points)
    return (amount * basis_points + 5_000) // 10_000


def average_of(total: int, count: int) -> int:
    """``total / count`` rounded half up to a whole minor unit; 0 when
    ``count`` is 0 (an average order of no orders). Exact integer arithmetic:
    ``average_of(1000, 3) == 333``, ``average_of(1001, 2) == 501``."""
    for value in (total, count):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("money is an int of minor units")
    if count <= 0:
        return 0
    if total < 0:
        return -average_of(-total, count)
    return (2 * total + count) // (2 * count)


def money_formatter(currency: str) -> Callable[..., str]:
    """The ``money`` a template calls: ``money(1250)`` writes 1250 minor units
    of ``currency`` (``"¥12.50"``); ``money(1250, "USD")`` another currency's.

    Whole numbers only, as ``format_money``; a ``Decimal`` that holds one (a
    SQL ``SUM`` on PostgreSQL) is taken as its integer, a fraction raises
    ``TypeError``.
    """

    def money(minor: int, other_currency: str | None = None) -> str:
        if isinstance(minor, Decimal) and minor == minor.to_integral_value():
            minor = int(minor)
        return format_money(minor, other_currency or currency)

    return money


def parse_money(text: str, currency: str) -> int:
    """What a person typed (``"12.50"``, ``"12.5"``, ``"¥1,250"``, full-width
    ``"１２．５０"`` from a Chinese keyboard) as minor units of ``currency``
    (``1250``), exactly: decimal text to int, never through ``float``.

    Takes an optional currency symbol or code, thousands separators, and a
    fraction no finer than the currency's minor unit (``"12.345"`` is
    refused for CNY, trailing zeros are fine, any fraction is refused for
    JPY). Raises ``ValueError`` for anything else, a sign or a negative
    amount included; the caller says what is wrong in the person's words."""
    code = (currency or "").upper()
    raw = unicodedata.normalize("NFKC", text or "").strip()
    raw = raw.replace(",", "").replace("，", "")
    for prefix in (_SYMBOLS.get(code, ""), code, "￥", "¥"):
        if prefix and raw.upper().startswith(prefix.upper()):
            raw = raw[len(prefix) :]
            break
    whole, _dot, fraction = raw.partition(".")
    digits = minor_digits(code)
    if not whole and not fraction:
        raise ValueError(f"not an amount of {code}: {text!r}")
    for part in (whole, fraction):
        if part and not (part.isascii() and part.isdigit()):
            raise ValueError(f"not an amount of {code}: {text!r}")
    fraction = fraction.rstrip("0")
    if len(fraction) > digits or len(whole) > 15:
        raise ValueError(f"not an amount of {code}: {text!r}")
    return int(whole or "0") * 10**digits + int(fraction.ljust(digits, "0") or "0")


def decimal_text(minor: int, currency: str) -> str:
    """``1250, "CNY"`` → ``"12.50"``: an amount as a person types it into a
    form (no symbol, no separators), the inverse of :func:`parse_money`."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError("money is an int of minor units")
    digits = minor_digits(currency)
    whole, fraction = divmod(abs(minor), 10**digits)
    text = f"{whole}.{str(fraction).zfill(digits)}" if digits else str(whole)
    return f"-{text}" if minor < 0 else text


def parse_signed_money(text: str, currency: str) -> int:
    """:func:`parse_money` with an optional leading ``+`` or ``-`` (an
    operator's balance adjustment: ``"-3"``, ``"+1,200"``, ``"-¥5"``).
    ``ValidationFailed`` (field ``amount``) with a message for the page when
    it is not an amount; more decimals than the currency has are refused,
    not rounded."""
    raw = unicodedata.normalize("NFKC", text or "").strip()
    sign = -1 if raw.startswith("-") else 1
    if raw[:1] in ("+", "-"):
        raw = raw[1:]
    try:
        return sign * parse_money(raw, currency)
    except ValueError:
        digits = minor_digits(currency)
        whole, _dot, fraction = raw.partition(".")
        if fraction.rstrip("0").isdigit() and len(fraction.rstrip("0")) > digits:
            message = (
                _l("This currency has at most %(digits)s decimal places.", digits=digits)
                if digits
                else _l("This currency has no decimal places.")
            )
        else:
            message = _l("Type an amount such as 12.50 or -3.")
        raise ValidationFailed(
            f"{text!r} is not an amount.", errors={"amount": ["Not an amount."]}, message=message
        ) from None
