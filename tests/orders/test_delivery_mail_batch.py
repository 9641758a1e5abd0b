"""Delivery mail costs the worker little: one SMTP connection kept and
reused from job to job (opened again when the server dropped it), and the
mails queued behind a job sent by it over that connection, each job taken
off the queue only once its mail went out. A real SMTP server counts the
sessions."""

from __future__ import annotations

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
