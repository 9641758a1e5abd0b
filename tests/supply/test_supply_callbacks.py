"""Status callbacks: a purchase delivered or refunded is told to the
partner's callback URL (a real HTTP server on a loopback port), signed with
the credential's secret, once per status."""

from __future__ import annotations

import json
import threading

import pytest

from app.core.queues import get_queue
from app.supply import callbacks, signing
from tests.factories import run_in_shop
from tests.live import serving
from tests.supply.support import partner_of


class Receiver:
    """A partner's callback endpoint: records what it is sent; answers
    ``status`` (200 unless told otherwise)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes, str]] = []
        self.status = "200 OK"
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size)
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        with self.lock:
            self.received.append((headers, body, environ["PATH_INFO"]))
        start_response(self.status, [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.fixture
def receiver():
    found = Receiver()
    with serving(found) as port:
        found.url = f"http://localhost:{port}/kameng/callback"
        yield found


def jobs_for(app, order_number_or_id) -> list:
    with app.app_context():
        queue = get_queue("sync")
        return [
            job
            for job in queue.jobs
            if job.func_name == callbacks.JOB and str(order_number_or_id) in job.args
        ]


def run_jobs(app, jobs) -> list[str]:
    with app.app_context():
        return [callbacks.send_callback(*job.args) for job in jobs]


def order_id_of(app, shop, number):
    from app.orders import lookups

    return run_in_shop(app, shop, lambda: lookups.get_order(number).id)


def test_a_delivered_then_refunded_purchase_is_told_signed_once_each(app, live, docking, receiver):
    shop = docking["shop"]
    partner = partner_of(app, live, shop, docking["agent"].email, callback_url=receiver.url)
    bought = partner.post(
        "/supply/v1/purchases", {"sku": str(docking["card"]), "quantity": 1, "key": "cb-000001"}
    )
    assert bought.status == 201 and bought.json["status"] == "delivered"
    order_id = order_id_of(app, shop, bought.json["ref"])
    queued = jobs_for(app, order_id)
    assert len(queued) == 1
    assert run_jobs(app, queued) == ["told delivered"]

    headers, body, path = receiver.received[0]
    assert path == "/kameng/callback"
    told = json.loads(body)
    assert told["ref"] == bought.json["ref"] and told["key"] == "cb-000001"
    assert told["status"] == "delivered" and told["codes"] == bought.json["codes"]
    signed = signing.read_headers(headers)
    assert signed.key_id == partner.key_id
    signing.verify(signed, partner.secret, "POST", path, body)  # raises when wrong

    assert run_jobs(app, queued) == ["already told"]
    assert len(receiver.received) == 1

    from app.orders import remedies

    run_in_shop(app, shop, lambda: remedies.refund(order_id, to="wallet", actor="test"))
    again = [j for j in jobs_for(app, order_id) if j.id != queued[0].id]
    assert run_jobs(app, again[:1]) == ["told refunded"]
    assert json.loads(receiver.received[-1][1])["status"] == "refunded"


def test_a_refusing_partner_is_retried(app, live, docking, receiver):
    shop = docking["shop"]
    partner = partner_of(app, live, shop, docking["agent"].email, callback_url=receiver.url)
    receiver.status = "503 Service Unavailable"
    bought = partner.post(
        "/supply/v1/purchases", {"sku": str(docking["card"]), "quantity": 1, "key": "cb-000002"}
    )
    queued = jobs_for(app, order_id_of(app, shop, bought.json["ref"]))
    assert queued and queued[0].retries_left == len(callbacks.RETRY_INTERVALS)
    with pytest.raises(callbacks.CallbackRefused):
        run_jobs(app, queued)
    receiver.status = "200 OK"
    assert run_jobs(app, queued) == ["told delivered"]


def test_no_callback_url_queues_nothing(app, docking):
    bought = docking["partner"].post(
        "/supply/v1/purchases", {"sku": str(docking["card"]), "quantity": 1, "key": "cb-000003"}
    )
    assert bought.status == 201
    order_id = order_id_of(app, docking["shop"], bought.json["ref"])
    assert jobs_for(app, order_id) == []
