"""Money as integer minor units (分, cents) of an ISO 4217 currency.

Amounts are ``int`` everywhere: in columns, in JSON and in arithmetic. This
module is the one place that knows how many minor units a currency has and
how an amount is written for people; it never goes through ``float``.
"""

from __future__ import annotations

import re
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


def format_amount(minor: int, currency: str) -> str:
    """``1250, "CNY"`` → ``"12.50"``: the plain number, no symbol and no
    grouping, for a spreadsheet column or to fill a form field again.
    Exact, as ``format_money``."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"money is an int of minor units, not {type(minor).__name__}")
    digits = minor_digits(currency)
    whole, fraction = divmod(abs(minor), 10**digits)
    text = str(whole) + ("." + str(fraction).zfill(digits) if digits else "")
    return f"-{text}" if minor < 0 else text


#: The largest amount an operator may type: 10^12 major units, far above any
#: wallet and far below the 64-bit columns.
MAX_TYPED_MAJOR = 10**12
_TYPED = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?")


def parse_money(text: str, currency: str) -> int:
    """What an operator typed (``"12.50"``, ``"-3"``, ``"+1,200"``, ``"¥5"``,
    full-width ``"１２．５"``) as integer minor units of ``currency``.

    Exact (string arithmetic, never ``float``). The currency's symbol or code
    and thousands commas may be typed; more decimals than the currency has
    are refused, not rounded. ``ValidationFailed`` (field ``amount``) with a
    message for the page when it is not an amount.
    """
    code = (currency or "").upper()
    digits = minor_digits(code)
    cleaned = unicodedata.normalize("NFKC", text or "")
    cleaned = re.sub(r"\s+", "", cleaned).replace(",", "").replace("，", "")
    sign = ""
    if cleaned[:1] in ("+", "-"):
        sign, cleaned = cleaned[0], cleaned[1:]
    # The longest first: "HK$" before "$" would leave "HK".
    for prefix in sorted({_SYMBOLS.get(code, ""), code} - {""}, key=len, reverse=True):
        if cleaned.upper().startswith(prefix.upper()):
            cleaned = cleaned[len(prefix) :]
            break
    match = _TYPED.fullmatch(sign + cleaned)
    if not cleaned or match is None or not (match.group(2) or match.group(3)):
        raise ValidationFailed(
            f"{text!r} is not an amount.",
            errors={"amount": ["Not an amount."]},
            message=_l("Type an amount such as 12.50 or -3."),
        )
    sign, whole, fraction = match.group(1), match.group(2) or "0", match.group(3) or ""
    if len(fraction) > digits:
        raise ValidationFailed(
            f"At most {digits} decimal places.",
            errors={"amount": [f"At most {digits} decimal places."]},
            message=_l("This currency has at most %(digits)s decimal places.", digits=digits)
            if digits
            else _l("This currency has no decimal places."),
        )
    whole = whole.lstrip("0") or "0"
    if len(whole) > len(str(MAX_TYPED_MAJOR)) or int(whole) >= MAX_TYPED_MAJOR:
        raise ValidationFailed(
            "The amount is too large.",
            errors={"amount": ["Too large."]},
            message=_l("That amount is too large."),
        )
    minor = int(whole) * 10**digits + int(fraction.ljust(digits, "0") or "0")
    return -minor if sign == "-" else minor
