"""The supply protocol's client (``app.supply.connectors.http``) against the
test upstream on a real loopback server: signed requests, the outcomes a
misbehaving upstream maps to, and idempotent purchases."""

from __future__ import annotations

import socket
import time

import pytest

from app.extensions import db
from app.supply.connectors.base import SupplyError
from tests.factories import end_outer_transaction, run_in_shop
from tests.supply.conftest import READ_TIMEOUT, add_supplier


@pytest.fixture
def connect(app, make_shop, upstreams, supply_timeouts):
    """connect(**upstream settings) -> (call, upstream): ``call(fn)`` runs
    ``fn(connector)`` in the shop's context."""
    from app.supply.connectors.registry import connector_for
    from app.supply.models import Supplier

    shop = make_shop("alpha")

    def build(base_url: str | None = None, **settings):
        [upstream] = upstreams(1, **settings)
        supplier_id = add_supplier(app, shop, f"Up {upstream.port}", base_url or upstream.base_url)

        def call(fn):
            end_outer_transaction()
            return run_in_shop(
                app, shop, lambda: fn(connector_for(db.session.get(Supplier, supplier_id)))
            )

        return call, upstream

    return build


def test_catalogue_offer_purchase_and_status_are_signed_and_read(connect):
    call, upstream = connect(kind="card", price=650)

    [offer] = call(lambda c: c.catalogue())
    one = call(lambda c: c.offer("SKU-9"))
    bought = call(lambda c: c.purchase("SKU-1", 2, {"account": "12345"}, "kameng:t:o1"))
    again = call(lambda c: c.purchase("SKU-1", 2, {"account": "12345"}, "kameng:t:o1"))
    status = call(lambda c: c.status("kameng:t:o1"))

    assert (offer.sku, offer.kind, offer.price, offer.currency, offer.stock) == (
        "SKU-1",
        "card",
        650,
        "CNY",
        100,
    )
    assert one.sku == "SKU-9"
    assert bought.status == "delivered" and len(bought.codes) == 2 and bought.price == 1300
    assert again.ref == bought.ref and again.codes == bought.codes
    assert status.ref == bought.ref
    assert upstream.bought["kameng:t:o1"] == 1 and upstream.asked["kameng:t:o1"] == 2
    assert upstream.bad_signatures == 0


def test_a_refusal_is_failed_with_the_problem_named(connect):
    call, _ = connect(fail=True)

    with pytest.raises(SupplyError) as refused:
        call(lambda c: c.purchase("SKU-1", 1, {}, "kameng:t:o2"))

    assert refused.value.outcome == "failed"
    assert "out-of-stock" in refused.value.detail and "Sold out upstream" in refused.value.detail


def test_an_unknown_key_is_failed(connect):
    call, _ = connect()

    with pytest.raises(SupplyError) as unknown:
        call(lambda c: c.status("kameng:t:never"))

    assert unknown.value.outcome == "failed" and "404" in unknown.value.detail


def test_a_hanging_upstream_is_a_timeout_within_the_read_timeout(connect):
    call, _ = connect(hang=True, hang_seconds=READ_TIMEOUT * 4)

    started = time.monotonic()
    with pytest.raises(SupplyError) as silent:
        call(lambda c: c.purchase("SKU-1", 1, {}, "kameng:t:o3"))

    assert silent.value.outcome == "timeout"
    assert time.monotonic() - started < READ_TIMEOUT * 3


def test_a_server_error_is_an_unknown_outcome(connect):
    call, _ = connect(error=True)

    with pytest.raises(SupplyError) as error:
        call(lambda c: c.purchase("SKU-1", 1, {}, "kameng:t:o4"))

    assert error.value.outcome == "timeout" and "500" in error.value.detail


def test_an_answer_that_is_not_json_is_garbage(connect):
    call, upstream = connect(garbage=1)

    with pytest.raises(SupplyError) as garbage:
        call(lambda c: c.purchase("SKU-1", 1, {}, "kameng:t:o5"))
    then = call(lambda c: c.status("kameng:t:o5"))

    assert garbage.value.outcome == "garbage"
    assert then.status == "delivered" and upstream.bought["kameng:t:o5"] == 1


def test_nobody_listening_is_a_timeout(connect):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    call, _ = connect(base_url=f"http://127.0.0.1:{closed}/supply/v1")

    with pytest.raises(SupplyError) as refused:
        call(lambda c: c.purchase("SKU-1", 1, {}, "kameng:t:o6"))

    assert refused.value.outcome == "timeout"


def test_a_wrong_secret_is_refused_by_the_upstream(app, connect):
    from app.core.crypto import get_cipher
    from app.supply.models import Supplier

    call, upstream = connect()

    def with_wrong_secret(connector):
        supplier = db.session.get(Supplier, connector.supplier_id)
        supplier.secret = get_cipher().encrypt(supplier.id, "not-the-secret")
        db.session.commit()

    call(with_wrong_secret)
    with pytest.raises(SupplyError) as refused:
        call(lambda c: c.purchase("SKU-1", 1, {}, "kameng:t:o7"))

    assert refused.value.outcome == "failed" and "401" in refused.value.detail
    assert upstream.bad_signatures == 1 and not upstream.bought


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        {"status": "shipped"},
        {"status": "delivered", "codes": "ABC"},
        {"status": "delivered", "codes": [""]},
        {"status": "delivered", "codes": [{"code": ""}]},
        {"status": "delivered", "codes": [{"code": "A", "password": 5}]},
        {"status": "delivered", "codes": [{"code": "A\tB"}]},
        {"status": "delivered", "price": -5},
        {"status": "delivered", "price": "12.50"},
    ],
)
def test_answers_of_the_wrong_shape_are_garbage(body):
    from app.supply.connectors.http import _purchase

    with pytest.raises(SupplyError) as wrong:
        _purchase(body)

    assert wrong.value.outcome == "garbage"


def test_private_addresses_are_refused_when_only_public_ones_are_allowed(app, connect, monkeypatch):
    """With private addresses off (production's default), an upstream on
    this machine is not asked at all: the source fails (the next one is
    tried) without a byte sent."""
    call, upstream = connect()
    monkeypatch.setitem(app.config, "OUTBOUND_PRIVATE_ALLOWED", False)

    with pytest.raises(SupplyError) as refused:
        call(lambda c: c.purchase("SKU-1", 1, {}, "kameng:t:o7"))

    assert refused.value.outcome == "failed" and "private address" in refused.value.detail
    assert not upstream.asked

    monkeypatch.setitem(app.config, "OUTBOUND_PRIVATE_ALLOWED", True)
    assert call(lambda c: c.purchase("SKU-1", 1, {}, "kameng:t:o7")).status == "delivered"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fd00::1",
        "fe80::1",
        "localhost",
        "shop.localhost",
    ],
)
def test_every_private_range_is_blocked_in_production(app, address, monkeypatch):
    from app.core import outbound

    monkeypatch.setitem(app.config, "OUTBOUND_PRIVATE_ALLOWED", None)
    monkeypatch.setitem(app.config, "ENV", "production")
    with app.app_context(), pytest.raises(outbound.BlockedAddress):
        outbound.checked_address(address, 443)


def test_a_public_address_is_allowed_in_production(app, monkeypatch):
    from app.core import outbound

    monkeypatch.setitem(app.config, "OUTBOUND_PRIVATE_ALLOWED", None)
    monkeypatch.setitem(app.config, "ENV", "production")
    with app.app_context():
        assert outbound.checked_address("93.184.215.14", 443) == "93.184.215.14"
        assert outbound.checked_address("2606:4700::1", 443) == "2606:4700::1"


def test_a_kameng_shops_code_objects_become_card_secrets():
    from app.supply.connectors.http import _purchase

    bought = _purchase(
        {
            "status": "delivered",
            "ref": "2611300001",
            "codes": [{"code": "NUM-1", "password": "PW-1"}, {"code": "NUM-2", "password": None}],
        }
    )

    assert bought.codes == ["NUM-1\tPW-1", "NUM-2"]
