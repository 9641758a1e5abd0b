"""Fixtures of the payment tests, on real services.

- ``localstripe``: the Stripe API double. ``scripts/test`` starts one and
  exports ``STRIPE_API_BASE``; a bare ``pytest`` starts its own here.
- ``live_server``: the session's app served over HTTP on a loopback port
  (the pattern of ``tests/browser/conftest.py``), so localstripe's signed
  webhooks reach the real endpoint.
- ``relay``: a loopback HTTP hop registered as localstripe's webhook
  endpoint. It keeps every delivery as sent (body and ``Stripe-Signature``)
  and, in ``forward`` mode, passes it straight on to the app; in ``hold``
  mode a test releases deliveries itself, in any order and as often as it
  likes (replays, out-of-order delivery) — byte for byte what Stripe's
  double signed.
- ``stripe_on``: turns Stripe on in the app's configuration for one test.

What localstripe (1.15) does not do, the tests do as Stripe would:
it sends no ``payment_intent.created`` or ``charge.refunded`` events, so
tests build those from localstripe's own objects and sign them with the
endpoint's secret (``support.stripe_event``, ``support.sign``); it refuses
Connect parameters, so ``test_stripe_connect.py`` records the requests.
- ``ledger_balanced`` (autouse): after every test, every shop's trial
  balance sums to zero and every cached wallet balance matches its entries.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest
from werkzeug.serving import make_server

from tests.payments.support import WEBHOOK_SECRET, post_webhook, wait_for

STRIPE_KEY = "sk_test_kameng_localstripe"
WEBHOOK_ID = "kameng-payments-tests"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(
            urllib.request.Request(
                url + "/v1/payment_intents?limit=1",
                headers={"Authorization": f"Bearer {STRIPE_KEY}"},
            ),
            timeout=2,
        ).read()
        return True
    except (urllib.error.URLError, OSError):
        return False


def _loopback(url: str | None) -> bool:
    host = urlparse(url or "").hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")


@pytest.fixture(scope="session")
def localstripe() -> str:
    """The base URL of a running localstripe."""
    url = os.environ.get("STRIPE_API_BASE")
    if _loopback(url):
        if not wait_for(lambda: _answers(url), timeout=30):
            pytest.fail(f"localstripe at {url} does not answer")
        yield url.rstrip("/")
        return
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for(lambda: _answers(url) or proc.poll() is not None, timeout=30):
            pytest.fail("localstripe did not start")
        if proc.poll() is not None:
            pytest.fail("localstripe exited at start (pip install -r requirements-dev.txt)")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def live_server(app):
    """The app on ``http://127.0.0.1:<port>``; reach a site with a Host header."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="payments-live", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@dataclass
class Delivery:
    """One webhook request as localstripe sent it."""

    body: bytes
    signature: str

    @property
    def event(self) -> dict:
        return json.loads(self.body)

    @property
    def type(self) -> str:
        return self.event["type"]

    @property
    def object(self) -> dict:
        return self.event["data"]["object"]

    def about(self, intent_id: str) -> bool:
        obj = self.object
        return intent_id in (obj.get("id"), obj.get("payment_intent"))


@dataclass
class Relay:
    live_server: str
    mode: str = "drop"  # forward | hold | drop
    deliveries: list[Delivery] = field(default_factory=list)
    answers: list[tuple[int, dict]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, delivery: Delivery) -> None:
        with self.lock:
            self.deliveries.append(delivery)
            mode = self.mode
        if mode == "forward":
            self.answers.append(self.forward(delivery))

    def forward(self, delivery: Delivery, host: str = "localhost") -> tuple[int, dict]:
        """Deliver ``delivery`` to the app as it was signed; (status, body)."""
        return post_webhook(self.live_server, delivery.body, delivery.signature, host=host)

    def wait(self, intent_id: str, event_type: str, timeout: float = 30) -> Delivery:
        """The delivery of ``event_type`` about the PaymentIntent, once it came."""

        def found():
            with self.lock:
                return next(
                    (d for d in self.deliveries if d.type == event_type and d.about(intent_id)),
                    None,
                )

        delivery = wait_for(found, timeout=timeout)
        assert delivery is not None, f"localstripe sent no {event_type} for {intent_id}"
        return delivery


@pytest.fixture(scope="session")
def _relay_server(localstripe, live_server):
    relay = Relay(live_server)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            relay.received(Delivery(body, self.headers.get("Stripe-Signature", "")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="stripe-relay", daemon=True)
    thread.start()
    data = f"url=http://127.0.0.1:{server.server_port}/hook&secret={WEBHOOK_SECRET}".encode()
    urllib.request.urlopen(
        urllib.request.Request(f"{localstripe}/_config/webhooks/{WEBHOOK_ID}", data=data),
        timeout=10,
    ).read()
    yield relay
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def relay(_relay_server):
    """The webhook relay, forwarding; ``relay.mode = "hold"`` to hold deliveries.
    After the test it drops whatever still arrives (late events of this test
    must not land in the next one's database)."""
    with _relay_server.lock:
        _relay_server.deliveries.clear()
        _relay_server.answers.clear()
        _relay_server.mode = "forward"
    yield _relay_server
    _relay_server.mode = "drop"


@pytest.fixture
def stripe_on(app, localstripe, monkeypatch):
    """Stripe configured in the app (the live server shares it) and a client
    playing Stripe.js and the Dashboard against localstripe."""
    import stripe

    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", STRIPE_KEY)
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", localstripe)
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setitem(app.config, "STRIPE_PAYMENT_METHODS", ["card"])
    return stripe.StripeClient(STRIPE_KEY, base_addresses={"api": localstripe})


@pytest.fixture(autouse=True)
def ledger_balanced(request):
    """Every shop's ledger is balanced after every test here."""
    yield
    if "app" not in request.fixturenames:
        return
    from tests.payments.support import assert_ledgers_balanced

    assert_ledgers_balanced(request.getfixturevalue("app"))
