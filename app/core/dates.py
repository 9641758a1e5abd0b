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

from datetime import UTC, datetime
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
