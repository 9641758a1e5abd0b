"""``app.core.prepared``: a Core statement compiled once and, on
PostgreSQL, sent through psycopg as a prepared statement gives what
SQLAlchemy's own execution gives (typed parameters in, typed columns out),
in the session's transaction, and every statement is still heard by the
engine's listeners."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, event, insert, select

from app.core.prepared import Prepared
from app.extensions import db
from app.orders.models import OrderEvent
from tests.factories import end_outer_transaction, run_in_shop

_events = OrderEvent.__table__
_WHEN = bindparam("when", type_=OrderEvent.__table__.c.created_at.type)


@pytest.fixture
def order_id(app, card_shop, make_account):
    """An order of ``alpha`` whose history the statements below add to."""
    from app.orders.wallet_purchase import buy_with_wallet
    from tests.orders.support import fund_wallet

    buyer = make_account(card_shop.shop, "prep@example.com")
    fund_wallet(app, card_shop.shop, buyer.id, 10_000)
    end_outer_transaction()
    return run_in_shop(
        app,
        card_shop.shop,
        lambda: (
            buy_with_wallet(
                product_id=card_shop.product_id, quantity=1, email=buyer.email, buyer_id=buyer.id
            ).order.id
        ),
    )


def test_a_prepared_statement_writes_and_reads_what_sqlalchemy_would(app, card_shop, order_id):
    when = datetime(2026, 11, 30, 8, 0, 1, tzinfo=UTC)
    event_id = uuid.uuid4()
    write = Prepared(
        insert(_events)
        .values(
            id=bindparam("id"),
            tenant_id=bindparam("tenant_id"),
            order_id=bindparam("order_id"),
            from_status="delivered",
            to_status="delivered",
            actor="prepared",
            note="",
            created_at=_WHEN,
        )
        .returning(_events.c.id, _events.c.created_at)
    )
    read = Prepared(
        select(_events.c.actor, _events.c.created_at).where(
            _events.c.tenant_id == bindparam("tenant_id"), _events.c.id == bindparam("id")
        )
    )
    heard: list[str] = []

    def listen(conn, cursor, statement, *args):
        if not statement.startswith("BEGIN"):  # SQLite's own BEGIN IMMEDIATE
            heard.append(statement)

    def run():
        connection = db.session.connection()
        params = {"tenant_id": card_shop.shop.id, "order_id": order_id, "when": when}
        returned = write.run(connection, {**params, "id": event_id}).one()
        row = read.run(connection, {"tenant_id": card_shop.shop.id, "id": event_id}).first()
        other = read.run(connection, {"tenant_id": uuid.uuid4(), "id": event_id}).first()
        db.session.commit()
        return returned, row, other

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        returned, row, other = run_in_shop(app, card_shop.shop, run)
    finally:
        event.remove(engine, "before_cursor_execute", listen)

    assert returned.id == event_id and returned.created_at == when
    assert row.actor == "prepared" and row.created_at == when and row.created_at.tzinfo
    assert other is None  # another shop's id finds nothing
    assert len(heard) == 3 and "INSERT INTO order_events" in heard[0]
    # Committed with the session's own transaction.
    stored = run_in_shop(
        app,
        card_shop.shop,
        lambda: db.session.scalar(select(OrderEvent.actor).where(OrderEvent.id == event_id)),
    )
    assert stored == "prepared"


def test_a_parameter_list_that_changes_the_sql_is_refused_on_postgresql():
    from sqlalchemy.dialects.postgresql.psycopg import dialect

    from app.core.prepared import _Plan

    statement = select(_events.c.id).where(_events.c.to_status.in_(["paid", "delivered"]))
    with pytest.raises(ValueError, match="expanding"):
        _Plan(statement, dialect())
