"""Delivery mail costs the worker little: one SMTP connection kept and
reused from job to job (opened again when the server dropped it), and the
mails queued behind a job sent by it over that connection, each job taken
off the queue only once its mail went out. A real SMTP server counts the
sessions."""

from __future__ import annotations

import smtplib

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app.extensions import db
from tests.factories import add_product, codes, end_outer_transaction, run_in_shop
from tests.orders.conftest import Inbox, _free_port
from tests.orders.support import fund_wallet


class CountingInbox(Inbox):
    """The inbox, also counting SMTP sessions (one greeting each)."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 - aiosmtpd's hook name
        self.sessions += 1
        session.host_name = hostname
        return responses


@pytest.fixture
def smtp(app, monkeypatch):
    """A real SMTP server the app (this process) sends to; ``restart()``
    stops it and starts it again on the same port, dropping connections."""
    from app.core.mail import close_connection

    inbox = CountingInbox()
    port = _free_port()
    servers = [Controller(inbox, hostname="127.0.0.1", port=port)]
    servers[0].start()

    def restart():
        servers[0].stop()
        servers[0] = Controller(inbox, hostname="127.0.0.1", port=port)
        servers[0].start()

    inbox.restart = restart
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    yield inbox
    with app.app_context():
        close_connection()
    servers[0].stop()


def _bought(app, shop, product_id, buyer, n: int) -> list[str]:
    """``n`` wallet purchases (each queues its delivery mail); their ids."""
    from app.orders.checkout import Caller
    from app.orders.wallet_purchase import buy_with_wallet
    from tenants.context import tenant_context

    ids = []
    end_outer_transaction()
    for _ in range(n):
        with app.app_context(), tenant_context(shop):
            bought = buy_with_wallet(
                product_id=product_id,
                quantity=1,
                email=buyer.email,
                buyer_id=buyer.id,
                caller=Caller("shop_account", buyer.id),
            )
            ids.append(str(bought.order.id))
            db.session.remove()
    return ids


def _run_job(app, shop, order_id: str) -> str:
    from app.orders import jobs

    with app.app_context():
        return jobs.mail_delivery(str(shop.id), order_id)


def _mailed(app, shop) -> list:
    from app.orders.models import Order

    return run_in_shop(
        app, shop, lambda: [o.mailed_at is not None for o in db.session.scalars(select(Order))]
    )


@pytest.fixture
def stocked(app, make_shop, make_account):
    shop = make_shop("mailer", "Mailer")
    product_id = add_product(app, shop, stock=codes("MAIL", 6))
    buyer = make_account(shop, "reader@example.com")
    fund_wallet(app, shop, buyer.id, 6 * 10_000)
    return shop, product_id, buyer


def test_queued_delivery_mails_go_out_in_one_job_over_one_connection(app, smtp, stocked):
    from app.core.queues import get_queue

    shop, product_id, buyer = stocked
    first, *rest = _bought(app, shop, product_id, buyer, 4)
    with app.app_context():
        assert len(get_queue("mail").get_job_ids()) == 4

    assert _run_job(app, shop, first) == "sent"

    assert len(smtp.to(buyer.email)) == 4
    assert smtp.sessions == 1
    with app.app_context():
        # Run here, not by a worker, the job's own entry was still queued too.
        assert get_queue("mail").get_job_ids() == []
    assert _mailed(app, shop) == [True] * 4
    # A job that still ran for one of them sends nothing twice.
    assert _run_job(app, shop, rest[0]) == "already sent"

    # The next mail, a job later, reuses the connection.
    (later,) = _bought(app, shop, product_id, buyer, 1)
    assert _run_job(app, shop, later) == "sent"
    assert len(smtp.to(buyer.email)) == 5 and smtp.sessions == 1


def test_a_connection_the_server_dropped_is_opened_again(app, smtp, stocked):
    shop, product_id, buyer = stocked
    (one,) = _bought(app, shop, product_id, buyer, 1)
    assert _run_job(app, shop, one) == "sent"

    smtp.restart()  # every open connection is dropped
    (two,) = _bought(app, shop, product_id, buyer, 1)

    assert _run_job(app, shop, two) == "sent"
    assert len(smtp.to(buyer.email)) == 2
    assert smtp.sessions == 2
    assert _mailed(app, shop) == [True, True]


def test_a_batch_over_two_shops_sends_each_in_its_own_language_and_stamps_each(
    app, smtp, stocked, make_shop, make_account
):
    from sqlalchemy import update

    from app.core.queues import get_queue
    from tenants.models import Tenant

    shop, product_id, buyer = stocked
    other = make_shop("english", "English Cards")
    with app.app_context():
        db.session.execute(update(Tenant).where(Tenant.id == other.id).values(locale="en"))
        db.session.commit()
    other_product = add_product(app, other, stock=codes("ENG", 3))
    reader = make_account(other, "smith@example.com")
    fund_wallet(app, other, reader.id, 3 * 10_000)
    first, second = _bought(app, shop, product_id, buyer, 2)
    english = _bought(app, other, other_product, reader, 2)
    _bought(app, shop, product_id, buyer, 1)

    assert _run_job(app, shop, first) == "sent"

    chinese = smtp.to(buyer.email)
    assert len(chinese) == 3 and all("订单" in m["Subject"] for m in chinese)
    sent_english = smtp.to(reader.email)
    assert len(sent_english) == 2 and all("Your order" in m["Subject"] for m in sent_english)
    assert smtp.sessions == 1
    assert _mailed(app, shop) == [True] * 3 and _mailed(app, other) == [True] * 2
    with app.app_context():
        assert get_queue("mail").get_job_ids() == []
    # A job of the batch that still ran sends nothing twice.
    assert _run_job(app, shop, second) == "already sent"
    assert _run_job(app, other, english[0]) == "already sent"
    assert len(smtp.to(buyer.email)) == 3 and len(smtp.to(reader.email)) == 2


def test_a_mail_marked_sent_but_never_stamped_is_stamped_by_the_next_job(app, smtp, stocked):
    """A worker killed between the mail server taking a mail (marked in
    Redis) and stamping ``mailed_at``: the next job that meets the order
    sends nothing and stamps it, so the order page can say it was mailed."""
    from app.core.redisconn import get_redis

    shop, product_id, buyer = stocked
    (one,) = _bought(app, shop, product_id, buyer, 1)
    with app.app_context():
        get_redis().set(f"kameng:mailed:{one}", "1", ex=60)

    assert _run_job(app, shop, one) == "already sent"

    assert smtp.to(buyer.email) == []
    assert _mailed(app, shop) == [True]


def test_a_refused_mail_ends_the_batch_and_leaves_the_rest_to_their_jobs(
    app, smtp, stocked, monkeypatch
):
    """The server refuses the third mail of a batch: the first two are sent
    and stamped, the refusal is recorded on its order, and its job and the
    ones behind it stay queued to run (and report) on their own."""
    from app.core import mail
    from app.core.queues import get_queue
    from app.orders.models import Order

    shop, product_id, buyer = stocked
    ids = _bought(app, shop, product_id, buyer, 4)
    real_send = mail.send_mail
    calls = []

    def third_refused(to, subject, text, html=None):
        calls.append(to)
        if len(calls) == 3:
            raise smtplib.SMTPRecipientsRefused({to: (550, b"mailbox full")})
        return real_send(to, subject, text, html)

    monkeypatch.setattr(mail, "send_mail", third_refused)

    assert _run_job(app, shop, ids[0]) == "sent"

    assert len(smtp.to(buyer.email)) == 2
    with app.app_context():
        assert get_queue("mail").get_job_ids() == [f"mail-{i}" for i in ids[2:]]
    state = run_in_shop(
        app,
        shop,
        lambda: {
            str(o.id): (o.mailed_at is not None, o.mail_error)
            for o in db.session.scalars(select(Order))
        },
    )
    assert [state[i][0] for i in ids] == [True, True, False, False]
    assert "SMTPRecipientsRefused" in state[ids[2]][1] and state[ids[3]][1] is None
