"""Judging the fields of an agent tier, a price rule or a coupon as they
arrive: from JSON (the API) or from a console form already read into
Python values. Each check takes the value as given and returns the clean
value, or raises ``Refused`` with the English sentence a field error
carries (``app.pricing.messages`` says it in the reader's language).

Kept apart from the services so that each service reads as its rules, not
as type checks: JSON may send ``true`` where a number belongs, ``1.5``
where a whole number does, or a list anywhere.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.core.ids import parse_uuid
from app.extensions import db

#: minor units: far above any price, far below BIGINT (as a product's price)
MAX_MONEY = 10**12
MAX_QUANTITY = 100_000
MAX_PRIORITY = 1_000_000
MAX_USES = 10_000_000
INVALID = "The request has invalid fields; see 'errors'."


class Refused(ValueError):
    """A field's value is not allowed; ``str(self)`` says why (English)."""


def whole(value: Any, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high`` (``True`` is not a number)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused("Must be a whole number.")
    if value < low:
        raise Refused("Must not be negative." if low == 0 else f"Must be at least {low}.")
    if value > high:
        raise Refused(f"Must be at most {high}.")
    return value


def money(value: Any, *, low: int = 0) -> int:
    """An amount in minor units (1250 for 12.50), from ``low``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused("Must be a whole number of minor units (1250 for 12.50).")
    return whole(value, low, MAX_MONEY)


def flag(value: Any) -> bool:
    """``True`` or ``False`` as JSON sends them (not 1, 0 or text)."""
    if not isinstance(value, bool):
        raise Refused("Must be true or false.")
    return value


def text(value: Any, *, limit: int, empty: str) -> str:
    """Text of 1 to ``limit`` characters once trimmed; ``empty`` is the
    sentence for a blank one."""
    if not isinstance(value, str):
        raise Refused("Must be text.")
    value = " ".join(value.split())
    if not value:
        raise Refused(empty)
    if len(value) > limit:
        raise Refused(f"At most {limit} characters.")
    return value


def moment(value: Any) -> datetime | None:
    """An instant: an aware ``datetime``, or ISO 8601 text with its offset
    (``2024-05-01T09:00:00+08:00``, ``…Z``); None stays None. A time
    without an offset names no instant and is refused."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise Refused(
                "Must be a date and time with its offset, like 2024-05-01T09:00:00+08:00."
            ) from None
    if not isinstance(value, datetime):
        raise Refused("Must be a date and time with its offset, like 2024-05-01T09:00:00+08:00.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise Refused("Give the time zone offset, like 2024-05-01T09:00:00+08:00.")
    if not 1970 <= value.year <= 9998:
        raise Refused("Must be between the years 1970 and 9998.")
    return value


def row_id(value: Any, model, what: str) -> uuid.UUID | None:
    """The id of a row of ``model`` in the current shop (the tenant guard
    hides every other shop's rows), or None for None. ``what`` names the
    kind in the sentences (``product``, ``category``, ``agent tier``)."""
    if value is None:
        return None
    ident = parse_uuid(value) if isinstance(value, (str, uuid.UUID)) else None
    if ident is None:
        article = "an" if what[0] in "aeiou" else "a"
        raise Refused(f"Not {article} {what} id.")
    if db.session.scalar(select(model.id).where(model.id == ident)) is None:
        raise Refused(f"No such {what}.")
    return ident


def unknown_fields(data, known) -> dict[str, list[str]]:
    """A field error for each key of ``data`` that is not in ``known``."""
    return {str(key): ["Unknown field."] for key in data if key not in known}


# --- pairs and windows (rules and coupons) ------------------------------------------


def either_of(values: dict, row, first: str, second: str) -> tuple[Any, Any]:
    """The final pair of two fields of which at most one is set (a rule's
    scope, its price or percent): a field given a value clears the other
    unless that one is given too."""
    a = values[first] if first in values else getattr(row, first, None)
    b = values[second] if second in values else getattr(row, second, None)
    if values.get(first) is not None and second not in values:
        b = None
    if values.get(second) is not None and first not in values:
        a = None
    return a, b


def window_problem(starts: datetime | None, ends: datetime | None) -> str | None:
    """Why a window from ``starts`` to ``ends`` is refused (it ends at or
    before it starts), or None; either end may be open."""
    if starts is not None and ends is not None and ends <= starts:
        return "Must end after it starts."
    return None
