"""Fixtures of the order tests: a shop with a card product in stock
(``card_shop``, built on the shared factories), a real
SMTP server (aiosmtpd) that the app and the worker send mail to, and empty
RQ queues before and after each test (jobs of one test must not run in
another's worker)."""

from __future__ import annotations

import email
import email.policy
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest

from tests.factories import Shop, add_product, codes


class Inbox:
    """What the SMTP server received, as parsed messages."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address.lower() in m["To"].lower()]

    def wait_for(self, address: str, timeout: float = 30.0) -> email.message.EmailMessage:
        """The first message to ``address``; fails after ``timeout`` seconds (a bound)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no mail to {address}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mail_server(app, monkeypatch):
    """A real SMTP server on a free loopback port. The app (in this process)
    and a ``worker`` started after it send their mail there."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    monkeypatch.setenv("MAIL_SERVER", "127.0.0.1")
    monkeypatch.setenv("MAIL_PORT", str(port))
    yield inbox
    controller.stop()


@pytest.fixture
def worker(mail_server, worker):  # the shared worker, with mail settings
    """The shared ``worker`` fixture, started after ``mail_server`` so its
    environment carries the SMTP server's address."""
    assert os.environ["MAIL_PORT"]
    return worker


@pytest.fixture(autouse=True)
def _empty_queues(app):
    """No job of another test runs in this one's worker, and this test leaves
    none behind for the next test's worker (their orders are gone by then)."""
    from app.core.queues import QUEUE_NAMES, get_queue

    def empty():
        with app.app_context():
            for name in QUEUE_NAMES:
                get_queue(name).empty()

    empty()
    yield
    empty()


@dataclass(frozen=True)
class StockedProduct:
    """A card product of ``shop`` and the codes loaded into it."""

    shop: Shop
    product_id: uuid.UUID
    stock: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return self.shop.host


@pytest.fixture
def card_shop(app, make_shop) -> StockedProduct:
    """The shop ``alpha`` selling a card product with five codes in stock."""
    shop = make_shop("alpha", "Alpha 游戏卡")
    stock = codes("STEAM", 5)
    return StockedProduct(shop, add_product(app, shop, stock=stock), stock)


@pytest.fixture
def rate_limits(app):
    """The shared Flask-Limiter bound to the session app's settings again.

    There is one ``limiter`` per process and every ``create_app`` re-reads
    its settings into it: a test elsewhere that builds an app with
    ``RATELIMIT_ENABLED=False`` (tests/core) switches limits off for every
    test after it. ``init_app`` on an app it already serves re-reads that
    app's settings and registers nothing twice."""
    from app.extensions import limiter

    limiter.init_app(app)
    return limiter
