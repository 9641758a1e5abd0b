"""Timestamps come back aware, in UTC, on every database; the schema is the
plain ``DateTime(timezone=True)`` the migrations wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, DateTime, MetaData, Table, create_engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable

from app.core.dates import UTCDateTime


def _table() -> Table:
    return Table("t", MetaData(), Column("at", UTCDateTime()))


def test_the_schema_is_a_timezone_aware_datetime_on_both_databases():
    for dialect in (postgresql.dialect(), sqlite.dialect()):
        plain = Table("t", MetaData(), Column("at", DateTime(timezone=True)))
        assert str(CreateTable(_table()).compile(dialect=dialect)) == str(
            CreateTable(plain).compile(dialect=dialect)
        )


def test_sqlite_gives_back_aware_utc_whatever_zone_was_written():
    table = _table()
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    beijing = datetime(2024, 5, 1, 20, 30, tzinfo=timezone(timedelta(hours=8)))
    with engine.begin() as conn:
        conn.execute(insert(table).values(at=beijing))
        read = conn.scalar(select(table.c.at))
        earlier = conn.scalar(
            select(table.c.at).where(table.c.at < datetime(2024, 5, 1, 13, tzinfo=UTC))
        )
    assert read == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert read.tzinfo is UTC
    assert earlier == read


def test_a_naive_datetime_is_refused():
    table = _table()
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    with engine.begin() as conn, pytest.raises(Exception, match="naive datetime"):
        conn.execute(insert(table).values(at=datetime(2024, 5, 1, 12, 30)))


def test_a_shops_days_are_bounded_in_its_own_time_zone():
    from datetime import date

    from app.core.dates import day_range

    beijing = day_range(date(2024, 5, 1), date(2024, 5, 1), "Asia/Shanghai")
    new_york = day_range(None, date(2024, 3, 10), "America/New_York")  # the day clocks go forward

    assert beijing == (
        datetime(2024, 4, 30, 16, tzinfo=UTC),
        datetime(2024, 5, 1, 16, tzinfo=UTC),
    )
    assert new_york == (None, datetime(2024, 3, 11, 4, tzinfo=UTC))
    assert day_range(date(2024, 1, 1), None, "No/Such_Zone")[0] == datetime(2024, 1, 1, tzinfo=UTC)
    assert day_range(date.min, date.max, "Asia/Shanghai") == (None, None)
