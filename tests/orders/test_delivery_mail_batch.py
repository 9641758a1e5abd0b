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


def _drain(app) -> int:
    from app.orders import jobs

    with app.app_context():
        return jobs.drain_delivery_mails()


def _pending(app) -> list[str]:
    from app.core.redisconn import get_redis
    from app.orders.fulfilment import MAIL_PENDING_KEY

    with app.app_context():
        return [e.decode().split(":", 1)[1] for e in get_redis().lrange(MAIL_PENDING_KEY, 0, -1)]


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


def test_pending_delivery_mails_go_out_in_one_drain_over_one_connection(app, smtp, stocked):
    from app.core.queues import get_queue
    from app.orders.fulfilment import DRAIN_JOB

    shop, product_id, buyer = stocked
    bought = _bought(app, shop, product_id, buyer, 4)
    with app.app_context():
        # One job for the burst: the first purchase found the list empty.
        assert [
            get_queue("mail").fetch_job(i).func_name for i in get_queue("mail").get_job_ids()
        ] == [DRAIN_JOB]
    assert _pending(app) == bought

    assert _drain(app) == 4

    assert len(smtp.to(buyer.email)) == 4
    assert smtp.sessions == 1
    assert _pending(app) == []
    assert _mailed(app, shop) == [True] * 4
    # A job that still runs for one of them sends nothing twice.
    assert _run_job(app, shop, bought[1]) == "already sent"
    assert _drain(app) == 0

    # The next mail, a drain later, reuses the connection.
    _bought(app, shop, product_id, buyer, 1)
    assert _drain(app) == 1
    assert len(smtp.to(buyer.email)) == 5 and smtp.sessions == 1


def test_mail_jobs_queued_behind_one_go_out_with_it(app, smtp, stocked):
    """Mails handed to jobs of their own (after a refusal) that queue up are
    sent by the first of them to run, which takes the others off the queue."""
    from app.core.queues import get_queue
    from app.core.redisconn import get_redis
    from app.orders.fulfilment import MAIL_JOB, MAIL_PENDING_KEY

    shop, product_id, buyer = stocked
    first, *rest = _bought(app, shop, product_id, buyer, 4)
    with app.app_context():
        get_redis().delete(MAIL_PENDING_KEY)
        queue = get_queue("mail")
        queue.empty()
        for order_id in (first, *rest):
            queue.enqueue(MAIL_JOB, str(shop.id), order_id, job_id=f"mail-{order_id}")

    assert _run_job(app, shop, first) == "sent"

    assert len(smtp.to(buyer.email)) == 4 and smtp.sessions == 1
    with app.app_context():
        # Run here, not by a worker, the job's own entry was still queued too.
        assert get_queue("mail").get_job_ids() == []
    assert _mailed(app, shop) == [True] * 4


def test_a_drain_cut_off_mid_batch_leaves_the_rest_to_the_next(app, smtp, stocked, monkeypatch):
    """The worker dies after two mails of four went out: those two are
    marked, the list still holds all four, and the next drain sends only
    the other two."""
    from app.core import mail

    shop, product_id, buyer = stocked
    _bought(app, shop, product_id, buyer, 4)
    real_send = mail.send_mail
    calls = []

    def killed_on_the_third(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 3:
            raise SystemExit("worker killed")
        return real_send(*args, **kwargs)

    monkeypatch.setattr(mail, "send_mail", killed_on_the_third)
    with pytest.raises(SystemExit):
        _drain(app)
    monkeypatch.setattr(mail, "send_mail", real_send)
    assert len(smtp.to(buyer.email)) == 2 and len(_pending(app)) == 4

    assert _drain(app) == 2

    assert len(smtp.to(buyer.email)) == 4
    assert _pending(app) == [] and _mailed(app, shop) == [True] * 4


def test_one_drain_at_a_time(app, smtp, stocked):
    from app.core.redisconn import get_redis
    from app.orders.jobs import DRAIN_LOCK_KEY

    shop, product_id, buyer = stocked
    bought = _bought(app, shop, product_id, buyer, 2)
    with app.app_context():
        get_redis().set(DRAIN_LOCK_KEY, "1", ex=60)  # another worker drains

    assert _drain(app) == 0
    assert smtp.to(buyer.email) == [] and _pending(app) == bought

    with app.app_context():
        get_redis().delete(DRAIN_LOCK_KEY)
    assert _drain(app) == 2


def test_a_connection_the_server_dropped_is_opened_again(app, smtp, stocked):
    shop, product_id, buyer = stocked
    _bought(app, shop, product_id, buyer, 1)
    assert _drain(app) == 1

    smtp.restart()  # every open connection is dropped
    _bought(app, shop, product_id, buyer, 1)

    assert _drain(app) == 1
    assert len(smtp.to(buyer.email)) == 2
    assert smtp.sessions == 2
    assert _mailed(app, shop) == [True, True]


def test_a_batch_over_two_shops_sends_each_in_its_own_language_and_stamps_each(
    app, smtp, stocked, make_shop, make_account
):
    from sqlalchemy import update

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

    assert _drain(app) == 5

    chinese = smtp.to(buyer.email)
    assert len(chinese) == 3 and all("订单" in m["Subject"] for m in chinese)
    sent_english = smtp.to(reader.email)
    assert len(sent_english) == 2 and all("Your order" in m["Subject"] for m in sent_english)
    assert smtp.sessions == 1
    assert _mailed(app, shop) == [True] * 3 and _mailed(app, other) == [True] * 2
    assert _pending(app) == []
    # A job for one of them that still runs sends nothing twice.
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


def test_a_refused_mail_gets_a_job_of_its_own_and_the_drain_goes_on(
    app, smtp, stocked, monkeypatch
):
    """The server refuses the third mail of four: the refusal is recorded
    on its order, which gets a job of its own (to try again, and fail where
    the operator sees failed jobs); the others are sent and stamped."""
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

    with app.app_context():
        get_queue("mail").empty()  # the drain job the purchases queued: run here
    assert _drain(app) == 3

    assert len(smtp.to(buyer.email)) == 3
    assert _pending(app) == []
    with app.app_context():
        assert get_queue("mail").get_job_ids() == [f"mail-{ids[2]}"]
    state = run_in_shop(
        app,
        shop,
        lambda: {
            str(o.id): (o.mailed_at is not None, o.mail_error)
            for o in db.session.scalars(select(Order))
        },
    )
    assert [state[i][0] for i in ids] == [True, True, False, True]
    assert "SMTPRecipientsRefused" in state[ids[2]][1] and state[ids[3]][1] is None

    # Its own job, once the server takes it, sends it and clears the error.
    monkeypatch.setattr(mail, "send_mail", real_send)
    assert _run_job(app, shop, ids[2]) == "sent"
    assert _mailed(app, shop) == [True] * 4
