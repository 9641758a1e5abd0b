"""Protocol version 1 stays served: a docking client written against the
first published protocol keeps working as the server grows.

The client here is frozen on purpose. It signs by hand from the protocol's
written rule (HMAC-SHA256 of ``version \\n METHOD \\n path?query \\n
timestamp \\n nonce \\n sha256(body)``), not through ``app.supply.signing``,
sends only the fields version 1 defined, and reads the fields version 1
promised. A change to the server that breaks such a client fails here:
new fields may be added to answers, none of these may go or change
meaning, and a new required request field needs a new protocol version."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time

import pytest

from tests.live import send
from tests.supply.support import balance

pytestmark = pytest.mark.critical

#: what version 1 promised in its answers
V1_PRODUCT = {
    "sku",
    "name",
    "kind",
    "price",
    "currency",
    "stock",
    "min_quantity",
    "max_quantity",
    "input_fields",
}
V1_PURCHASE = {"ref", "key", "status", "codes", "sku", "quantity", "price", "currency"}
V1_PROBLEM = {"type", "title", "status", "detail"}


class FrozenV1Client:
    """A version 1 client, as an outside reseller would have written it."""

    def __init__(self, port: int, host: str, key_id: str, secret: str) -> None:
        self.port, self.host, self.key_id, self.secret = port, host, key_id, secret

    def call(self, method: str, path: str, payload: dict | None = None):
        body = b"" if payload is None else json.dumps(payload).encode()
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        text = "\n".join(
            ["1", method, path, timestamp, nonce, hashlib.sha256(body).hexdigest()]
        ).encode()
        headers = {
            "X-Kameng-Protocol": "1",
            "X-Kameng-Key": self.key_id,
            "X-Kameng-Timestamp": timestamp,
            "X-Kameng-Nonce": nonce,
            "X-Kameng-Signature": hmac.new(self.secret.encode(), text, hashlib.sha256).hexdigest(),
        }
        if payload is not None:
            headers["Content-Type"] = "application/json"
        answer = send(self.port, method, path, host=self.host, body=body or None, headers=headers)
        return answer.status, json.loads(answer.body) if answer.body else None


@pytest.fixture
def v1(docking):
    partner = docking["partner"]
    return FrozenV1Client(partner.port, partner.shop.host, partner.key_id, partner.secret)


def test_a_version_1_client_reads_the_catalogue_and_one_product(docking, v1):
    status, page = v1.call("GET", "/supply/v1/catalogue")
    assert status == 200
    assert {"items", "total", "page", "per_page"} <= set(page)
    for item in page["items"]:
        assert V1_PRODUCT <= set(item)
    status, one = v1.call("GET", f"/supply/v1/products/{docking['card']}")
    assert status == 200 and V1_PRODUCT <= set(one) and one["kind"] == "card"


def test_a_version_1_client_buys_replays_and_reads_its_purchase(app, docking, v1):
    before = balance(app, docking["shop"], docking["agent"].id)
    minimal = {"sku": str(docking["card"]), "quantity": 1, "key": "v1-client-0001"}

    status, bought = v1.call("POST", "/supply/v1/purchases", minimal)
    assert status == 201, bought
    assert V1_PURCHASE <= set(bought) and bought["status"] == "delivered"
    assert len(bought["codes"]) == 1 and bought["codes"][0]["code"]

    status, again = v1.call("POST", "/supply/v1/purchases", minimal)
    assert status == 200 and again["ref"] == bought["ref"] and again["codes"] == bought["codes"]
    assert balance(app, docking["shop"], docking["agent"].id) == before - bought["price"]

    status, by_ref = v1.call("GET", f"/supply/v1/purchases/{bought['ref']}")
    assert status == 200 and V1_PURCHASE <= set(by_ref) and by_ref["status"] == "delivered"
    status, by_key = v1.call("GET", "/supply/v1/purchases?key=v1-client-0001")
    assert status == 200 and by_key["ref"] == bought["ref"]


def test_a_version_1_client_gets_problem_documents_it_can_read(docking, v1):
    status, problem = v1.call(
        "POST", "/supply/v1/purchases", {"sku": "nope", "quantity": 1, "key": "v1-client-0002"}
    )
    assert status == 404 and V1_PROBLEM <= set(problem)
    status, problem = v1.call("GET", "/supply/v1/purchases?key=v1-never-bought-0003")
    assert status == 404 and V1_PROBLEM <= set(problem)
