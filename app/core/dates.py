"""Points in time, stored and read as timezone-aware UTC.

``UTCDateTime`` is the column type of every timestamp. It is
``DateTime(timezone=True)`` in the schema (``timestamptz`` on PostgreSQL; no
migration tells the two apart), and adds one guarantee: what a row gives
back is an aware ``datetime`` in UTC on every database. SQLite keeps no
zone and returns naive values, which could not be compared with
``datetime.now(UTC)``; with this type no caller has to repair them.

Writing: an aware value is converted to UTC first (SQLite would otherwise
store its wall-clock time and drop the offset). A naive value is refused with
``ValueError``: it names no instant, and guessing UTC would hide a bug where
local time was meant.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """``DateTime(timezone=True)`` that returns aware UTC datetimes everywhere
    and refuses naive ones on write."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"a timestamp is a datetime, not {type(value).__name__}")
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError("naive datetime: give a timezone (datetime.now(UTC))")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite: stored as UTC, read back without a zone
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# --- showing times ---------------------------------------------------------------
#
# Every time a person sees is shown in the shop's time zone (the platform's
# pages: UTC), through Flask-Babel's time-zone selector (``shop_timezone``)
# and these filters; templates never call ``strftime``.


_FORCED_ZONE: ContextVar[str | None] = ContextVar("kameng_forced_zone", default=None)


def shop_timezone() -> str:
    """The request's time zone: its shop's, else UTC (Flask-Babel's selector).
    Inside ``in_zone`` (a job rendering a shop's mail): that zone."""
    from flask import g, has_request_context

    forced = _FORCED_ZONE.get()
    if forced:
        return forced
    shop = getattr(g, "shop", None) if has_request_context() else None
    return getattr(shop, "timezone", None) or "UTC"


@contextmanager
def in_zone(zone: str | None):
    """Show times in ``zone`` inside the block: for work outside a shop's
    request (a job rendering the shop's mail), where no shop sets it."""
    from flask_babel import refresh

    token = _FORCED_ZONE.set(zone or "UTC")
    refresh()
    try:
        yield
    finally:
        _FORCED_ZONE.reset(token)
        refresh()


def _formatter(pattern: str):
    def show(value: datetime | None) -> str:
        if value is None:
            return ""
        from flask_babel import format_datetime

        return format_datetime(value, pattern)

    show.__name__ = f"show_{pattern}"
    return show


#: Jinja filters: ``{{ order.created_at|when }}`` and so on.
TIME_FILTERS = {
    "when": _formatter("yyyy-MM-dd HH:mm"),
    "when_exact": _formatter("yyyy-MM-dd HH:mm:ss"),
    "day": _formatter("yyyy-MM-dd"),
    "clock": _formatter("HH:mm"),
}


def zone_label() -> str:
    """The request's time zone as people know it ("China Standard Time",
    "中国标准时间"), for a hint beside a time."""
    from babel.dates import get_timezone, get_timezone_name
    from flask_babel import get_locale

    return get_timezone_name(get_timezone(shop_timezone()), locale=get_locale())


def day_range(
    first: date | None, last: date | None, zone: str
) -> tuple[datetime | None, datetime | None]:
    """The instants (aware, UTC) that bound the days ``first`` to ``last``,
    both included, as they are in time zone ``zone``: the start of ``first``
    and the start of the day after ``last`` (use ``>= start`` and ``< end``).
    Either may be None (an open end). An unknown zone counts as UTC."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")

    def start_of(day: date | None, days_after: int = 0) -> datetime | None:
        if day is None:
            return None
        try:
            moment = datetime.combine(day + timedelta(days=days_after), time.min, tzinfo=tz)
            return moment.astimezone(UTC)
        except OverflowError:  # past the first or last day there is: no bound
            return None

    return start_of(first), start_of(last, 1)


# --- times typed in forms ------------------------------------------------------------
#
# A form's date-and-time field (``<input type="datetime-local">``) sends the
# wall-clock time the person means, in the shop's time zone and without an
# offset; these turn it into the instant it names and back.


def _zone(name: str):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_moment(text: str | None, zone: str) -> datetime | None:
    """What a form's date-and-time field holds (``2025-05-01T09:30``, a
    space for the ``T``, seconds optional) as the aware UTC instant it is
    in time zone ``zone``; None when blank. ``ValueError`` when it is not a
    date and time, or carries an offset of its own. A wall-clock time a
    daylight-saving change skips or repeats is read with the offset before
    the change."""
    text = (text or "").strip()
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    if moment.tzinfo is not None:
        raise ValueError("a local time carries no offset")
    return moment.replace(tzinfo=_zone(zone)).astimezone(UTC)


def local_input(value: datetime | None, zone: str) -> str:
    """An instant as a form's date-and-time field shows it in time zone
    ``zone`` (``2025-05-01T09:30``); blank for None."""
    if value is None:
        return ""
    return value.astimezone(_zone(zone)).strftime("%Y-%m-%dT%H:%M")
