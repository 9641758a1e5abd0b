"""The order services without HTTP: late payments (掉单), expiry, replays,
repeated delivery, the sweeper and the delivery mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.catalog.models import Card
from app.extensions import db
from app.orders import checkout, fulfilment, jobs, lookups, payment, remedies
from app.orders.models import Order, OrderEvent, Ticket
from tenants.context import tenant_context
from tests.factories import card_statuses

KEY = "k-1-0123456789abcdef0123456789abcdef"  # a guest's key: at least 32 characters

pytestmark = pytest.mark.critical


@pytest.fixture
def shop_ctx(app, card_shop):
    """An app context inside the shop, as a job has."""
    with app.app_context(), tenant_context(card_shop.shop):
        yield card_shop
        db.session.remove()


def _order(shop, quantity: int = 1, email: str = "guest@example.com") -> Order:
    order, created = checkout.create_order(
        product_id=shop.product_id, quantity=quantity, email=email, idempotency_key=None
    )
    assert created
    return order


def _age(order: Order) -> None:
    """Let the order's 15 minutes pass."""
    past = datetime.now(UTC) - timedelta(minutes=1)
    db.session.execute(update(Order).where(Order.id == order.id).values(expires_at=past))
    db.session.execute(update(Card).where(Card.order_id == order.id).values(reserved_until=past))
    db.session.commit()


def _confirm(order: Order, ref: str = "pi_1", amount: int | None = None) -> bool:
    return payment.confirm_payment(
        order.id,
        provider="sandbox",
        provider_ref=ref,
        amount=order.total if amount is None else amount,
        actor="webhook",
    )


def _counts(shop) -> dict:
    from app.catalog import stock

    return stock.counts(shop.product_id)


# --- order numbers ------------------------------------------------------------


def test_an_order_number_that_clashes_is_drawn_again(shop_ctx, monkeypatch):
    """Two draws of the same random digits: the second order gets a new number
    and its stock, and neither order is lost."""
    draws = iter([42, 42, 43])
    monkeypatch.setattr(checkout.secrets, "randbelow", lambda _n: next(draws))
    first = _order(shop_ctx)
    second = _order(shop_ctx)

    assert first.number.endswith("00000000000042")
    assert second.number.endswith("00000000000043")
    assert len(second.number) == 20 and second.number.isdigit()
    numbers = db.session.scalars(select(Order.number).order_by(Order.number)).all()
    assert numbers == [first.number, second.number]
    assert _counts(shop_ctx)["reserved"] == 2


def test_a_concurrent_twin_with_the_same_key_is_answered_with_the_first_order(
    shop_ctx, monkeypatch
):
    """The twin's insert hits the key's unique index: it gets the order the
    first request made instead of an error."""
    first, created = checkout.create_order(
        product_id=shop_ctx.product_id, quantity=1, email="a@example.com", idempotency_key=KEY
    )
    assert created
    # The twin looked for the key before the first committed and saw nothing.
    real_scalar = db.session.scalar
    calls = []

    def scalar(stmt, *args, **kwargs):
        calls.append(stmt)
        return None if len(calls) == 1 else real_scalar(stmt, *args, **kwargs)

    monkeypatch.setattr(db.session, "scalar", scalar)
    again, created = checkout.create_order(
        product_id=shop_ctx.product_id, quantity=1, email="a@example.com", idempotency_key=KEY
    )
    assert not created and again.id == first.id
    assert _counts(shop_ctx)["reserved"] == 1


# --- expiry -------------------------------------------------------------------


def test_expire_due_expires_unpaid_orders_and_returns_their_stock(shop_ctx):
    stale, fresh = _order(shop_ctx, 2), _order(shop_ctx, 1)
    _age(stale)
    assert _counts(shop_ctx)["available"] == 2

    assert fulfilment.expire_due() == 1
    assert fulfilment.expire_due() == 0

    assert lookups.get_order_by_id(stale.id).status == "expired"
    assert lookups.get_order_by_id(fresh.id).status == "pending_payment"
    counts = _counts(shop_ctx)
    assert counts["available"] == 4 and counts["reserved"] == 1


def test_the_expiry_job_expires_orders_of_every_shop(app, card_shop, make_shop):
    from tests.factories import add_product, codes

    other = make_shop("bravo")
    other_product = add_product(app, other, stock=codes("B", 2))
    with app.app_context():
        for tenant, product in ((card_shop.shop, card_shop.product_id), (other, other_product)):
            with tenant_context(tenant):
                order, _ = checkout.create_order(
                    product_id=product, quantity=1, email="g@example.com"
                )
                _age(order)
        db.session.remove()

        assert jobs.expire_orders() == 2

    assert card_statuses(app, card_shop.shop, card_shop.product_id)["available"] == 5
    assert card_statuses(app, other, other_product)["available"] == 2


@pytest.fixture
def expiry_every_second(monkeypatch):
    """The worker started after this one runs the expiry job every second."""
    monkeypatch.setenv("ORDER_EXPIRY_INTERVAL_SECONDS", "1")


def test_the_worker_expires_orders_on_its_schedule(
    expiry_every_second, app, card_shop, browser_for, worker
):
    """The real worker with its cron: nobody calls expire_due by hand."""
    import time

    with app.app_context(), tenant_context(card_shop.shop):
        order = _order(card_shop, 3)
        _age(order)
        order_id = order.id
        db.session.remove()
    # The expiry job runs every second; the bound covers the scheduler's start.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with app.app_context(), tenant_context(card_shop.shop):
            status = lookups.get_order_by_id(order_id).status
            db.session.remove()
        if status == "expired":
            break
        time.sleep(0.5)
    assert status == "expired"
    assert card_statuses(app, card_shop.shop, card_shop.product_id)["available"] == 5


def test_an_expired_hold_is_sellable_before_any_job_runs(shop_ctx):
    stale = _order(shop_ctx, 5)
    _age(stale)

    taken = _order(shop_ctx, 5, email="next@example.com")

    assert taken.status == "pending_payment"
    assert _counts(shop_ctx)["reserved"] == 5


# --- late payments (掉单) --------------------------------------------------------


def test_a_payment_after_expiry_re_reserves_and_delivers(shop_ctx):
    order = _order(shop_ctx, 2)
    _age(order)
    fulfilment.expire_due()

    assert _confirm(order) is True

    paid = lookups.get_order_by_id(order.id)
    assert paid.status == "paid"
    assert fulfilment.fulfil(order.id) == "delivered"
    assert len(lookups.delivered_codes(paid)) == 2
    notes = [e.note for e in lookups.order_events(order.id)]
    assert "sandbox pi_1 (after expiry)" in notes
    assert db.session.scalars(select(Ticket)).all() == []
    # Each move names the one state it left, also where two were allowed
    # (pending or expired -> paid, paid or a stale lease -> fulfilling).
    assert [(e.from_status, e.to_status) for e in lookups.order_events(order.id)] == [
        (None, "pending_payment"),
        ("pending_payment", "expired"),
        ("expired", "paid"),
        ("paid", "fulfilling"),
        ("fulfilling", "delivered"),
    ]


def test_a_payment_after_expiry_with_the_stock_gone_opens_a_ticket(shop_ctx):
    order = _order(shop_ctx, 2)
    _age(order)
    _order(shop_ctx, 4, email="winner@example.com")  # takes the expired hold and more

    assert _confirm(order) is True

    paid = lookups.get_order_by_id(order.id)
    assert paid.status == "paid"
    [ticket] = db.session.scalars(select(Ticket)).all()
    assert ticket.reason == "out_of_stock" and ticket.order_id == order.id
    assert fulfilment.fulfil(order.id) == "failed"
    # The payment is in the books, and one ticket is enough.
    assert len(db.session.scalars(select(Ticket)).all()) == 1
    assert remedies.refund(order.id, to="original", actor="operator").status == "refunded"
    assert sum(ledger_state_now().values()) == 0


def test_a_late_payment_keeps_the_cards_it_still_holds(shop_ctx):
    order = _order(shop_ctx, 4)
    _age(order)
    _order(shop_ctx, 2, email="winner@example.com")  # takes two of the expired hold

    _confirm(order)  # 2 held, 1 left in stock: 1 short

    assert db.session.scalars(select(Ticket.reason)).all() == ["out_of_stock"]
    held = db.session.scalars(select(Card).where(Card.order_id == order.id)).all()
    assert len(held) == 2
    assert all(
        c.reserved_until.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(days=1) for c in held
    )


def ledger_state_now() -> dict:
    from app.ledger import services as ledger

    return ledger.trial_balance()


# --- replays ------------------------------------------------------------------


def test_a_replayed_confirmation_changes_nothing(shop_ctx):
    order = _order(shop_ctx)

    assert _confirm(order) is True
    assert _confirm(order) is False
    assert _confirm(order) is False

    from app.ledger.models import LedgerTransaction

    assert len(db.session.scalars(select(LedgerTransaction)).all()) == 1
    assert len([e for e in lookups.order_events(order.id) if e.to_status == "paid"]) == 1
    assert db.session.scalars(select(Ticket)).all() == []


def test_a_second_different_payment_opens_a_ticket_to_refund_one(shop_ctx):
    order = _order(shop_ctx)
    _confirm(order, "pi_1")

    assert _confirm(order, "pi_2") is False

    [ticket] = db.session.scalars(select(Ticket)).all()
    assert ticket.reason == "duplicate_payment" and "pi_2" in ticket.detail


def test_a_wrong_amount_does_not_pay_the_order(shop_ctx):
    order = _order(shop_ctx)

    assert _confirm(order, amount=1) is False

    assert lookups.get_order_by_id(order.id).status == "pending_payment"
    assert db.session.scalars(select(Ticket)).one().reason == "amount_mismatch"


def test_delivering_twice_sells_the_codes_once(shop_ctx):
    order = _order(shop_ctx, 2)
    _confirm(order)

    assert fulfilment.fulfil(order.id) == "delivered"
    assert fulfilment.fulfil(order.id) == "delivered"

    assert _counts(shop_ctx)["sold"] == 2
    delivered = [e for e in lookups.order_events(order.id) if e.to_status == "delivered"]
    assert len(delivered) == 1


def test_a_fulfilment_lease_held_by_a_live_worker_is_not_taken(shop_ctx):
    order = _order(shop_ctx)
    _confirm(order)
    db.session.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(status="fulfilling", fulfil_started_at=datetime.now(UTC))
    )
    db.session.commit()

    assert fulfilment.fulfil(order.id) == "fulfilling"
    assert _counts(shop_ctx)["sold"] == 0


def test_the_sweeper_re_enqueues_a_paid_order_whose_job_was_lost(shop_ctx):
    from app.core.queues import get_queue

    order = _order(shop_ctx)
    _confirm(order)
    get_queue("fulfilment").empty()  # the message is lost
    long_ago = datetime.now(UTC) - timedelta(minutes=1)
    db.session.execute(update(Order).where(Order.id == order.id).values(paid_at=long_ago))
    db.session.commit()

    ident = order.id

    assert jobs.sweep_orders() == 1

    assert get_queue("fulfilment").job_ids == [f"fulfil-{ident}"]


# --- mail -----------------------------------------------------------------------


def test_the_delivery_mail_carries_the_codes_and_goes_once(app, shop_ctx, mail_server):
    order = _order(shop_ctx, 2, email="li@example.com")
    _confirm(order)
    fulfilment.fulfil(order.id)
    codes = [c["code"] for c in lookups.delivered_codes(lookups.get_order_by_id(order.id))]
    number, tenant_id, order_id = order.number, str(order.tenant_id), str(order.id)

    assert jobs.mail_delivery(tenant_id, order_id) == "sent"
    assert jobs.mail_delivery(tenant_id, order_id) == "already sent"

    [mail] = mail_server.to("li@example.com")
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    for code in codes:
        assert code in text and code in html
    assert number in mail["Subject"] and "Alpha 游戏卡" in mail["Subject"]


def test_the_delivery_mail_speaks_the_shops_language(app, shop_ctx, mail_server):
    from tenants.context import all_tenants
    from tenants.models import Tenant

    chinese = _order(shop_ctx, 1, email="wang@example.com")
    _confirm(chinese, "pi_zh")
    fulfilment.fulfil(chinese.id)
    jobs.mail_delivery(str(chinese.tenant_id), str(chinese.id))
    with all_tenants():
        db.session.execute(update(Tenant).where(Tenant.id == shop_ctx.shop.id).values(locale="en"))
        db.session.commit()
    english = _order(shop_ctx, 1, email="smith@example.com")
    _confirm(english, "pi_en")
    fulfilment.fulfil(english.id)
    jobs.mail_delivery(str(english.tenant_id), str(english.id))

    [zh] = mail_server.to("wang@example.com")
    [en] = mail_server.to("smith@example.com")
    assert "订单" in zh["Subject"] and "卡密" in zh.get_body(("plain",)).get_content()
    assert "Your order" in en["Subject"] and "Your codes" in en.get_body(("plain",)).get_content()


def test_events_record_who_moved_the_order(shop_ctx):
    order = _order(shop_ctx)
    _confirm(order)

    events = db.session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.created_at)
    ).all()
    assert [(e.to_status, e.actor) for e in events] == [
        ("pending_payment", "buyer"),
        ("paid", "webhook"),
    ]


@pytest.fixture
def fast_sweeper(monkeypatch):
    """Workers started after this sweep every second (the default is 15 s)."""
    monkeypatch.setenv("ORDER_SWEEP_INTERVAL_SECONDS", "1")


def test_an_order_whose_worker_died_mid_delivery_is_delivered_once_by_the_sweeper(
    app, card_shop, fast_sweeper, worker
):
    """The worker took the fulfilment lease and died: no job is left, the
    order sits in ``fulfilling``. The real worker's scheduled sweeper finds
    the stale lease and delivers it, once."""
    import time

    from app.core.queues import get_queue

    with app.app_context(), tenant_context(card_shop.shop):
        order = _order(card_shop, 2)
        _confirm(order)
        get_queue("fulfilment").empty()  # whatever was queued died with the worker
        stale = datetime.now(UTC) - fulfilment.fulfil_lease() - timedelta(seconds=5)
        db.session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(status="fulfilling", fulfil_started_at=stale, fulfil_attempts=1)
        )
        db.session.commit()
        order_id = order.id
        db.session.remove()

    deadline = time.monotonic() + 30  # the sweeper runs every second
    status = None
    while time.monotonic() < deadline and status != "delivered":
        time.sleep(0.5)
        with app.app_context(), tenant_context(card_shop.shop):
            status = lookups.get_order_by_id(order_id).status
            db.session.remove()

    assert status == "delivered"
    with app.app_context(), tenant_context(card_shop.shop):
        delivered = [e for e in lookups.order_events(order_id) if e.to_status == "delivered"]
        assert len(delivered) == 1
        assert len(lookups.delivered_codes(lookups.get_order_by_id(order_id))) == 2
        db.session.remove()
    assert card_statuses(app, card_shop.shop, card_shop.product_id)["sold"] == 2


def test_a_delivery_mail_cut_off_mid_send_is_sent_by_the_next_run(app, shop_ctx, mail_server):
    """The worker dies while the mail server is being spoken to (a kill is
    not an exception the job can clean up after): no "sent" mark is left
    behind, so the job's next run sends the mail."""
    from app.core import mail

    order = _order(shop_ctx, 1, email="cut@example.com")
    _confirm(order)
    fulfilment.fulfil(order.id)
    tenant_id, order_id = str(order.tenant_id), str(order.id)
    real_send = mail.send_mail

    def killed(*args, **kwargs):
        raise SystemExit("worker killed")

    mail.send_mail = killed
    try:
        with pytest.raises(SystemExit):
            jobs.mail_delivery(tenant_id, order_id)
    finally:
        mail.send_mail = real_send

    assert mail_server.to("cut@example.com") == []
    assert jobs.mail_delivery(tenant_id, order_id) == "sent"
    assert len(mail_server.to("cut@example.com")) == 1
