"""Payment providers are adapters found in one registry by name: adding one
is a module and a registry line, and nothing outside the registry and the
adapters names a provider."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.payments import registry
from app.payments.adapters.base import SUCCEEDED, Charge, PaymentAdapter, PaymentStart
from tests.factories import add_product, codes
from tests.payments.support import (
    ledger_keys,
    order_status,
    pay,
    payment_of,
    place_order,
    sold_cards,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
#: Where a provider may be named: its own module and the registry.
PROVIDER_HOMES = ("app/payments/adapters/", "app/payments/registry.py")
#: "wallet" is also the ledger's word for a shop balance and a refund
#: target; those uses name the balance, not the payment provider.
WALLET_AS_BALANCE = ("app/ledger/", "app/orders/remedies.py", "app/accounts/permissions.py")


def test_the_registry_holds_the_three_providers_by_name():
    assert set(registry.ADAPTERS) == {"wallet", "sandbox", "stripe"}
    for name, adapter in registry.ADAPTERS.items():
        assert isinstance(adapter, PaymentAdapter) and adapter.name == name
    assert registry.RECHARGE_NAMES == ("sandbox", "stripe")


def test_nothing_outside_the_registry_names_a_provider():
    offenders = []
    for path in sorted((ROOT / "app").rglob("*.py")) + sorted((ROOT / "tenants").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(PROVIDER_HOMES):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in registry.ADAPTERS:
                if node.value == "wallet" and rel.startswith(WALLET_AS_BALANCE):
                    continue
                offenders.append(f"{rel}:{node.lineno} {node.value!r}")
    assert offenders == []


def test_an_unknown_or_disabled_provider_is_refused(app, monkeypatch):
    from app.payments.adapters.base import ProviderUnavailable

    with app.app_context():
        with pytest.raises(ProviderUnavailable):
            registry.usable("cash-in-an-envelope")
        monkeypatch.setitem(app.config, "PAYMENT_PROVIDERS", ["wallet"])
        with pytest.raises(ProviderUnavailable):
            registry.usable("sandbox")
        assert [a.name for a in registry.available()] == ["wallet"]


class VoucherAdapter(PaymentAdapter):
    """A provider added the documented way: one class, one registry entry.
    Every payment succeeds at once (a prepaid voucher checked elsewhere)."""

    name = "voucher"
    rank = 5

    def start(self, charge: Charge) -> PaymentStart:
        return PaymentStart(
            self.name, SUCCEEDED, f"vc_{charge.subject_id.hex}", self.ledger_source(None)
        )


def test_a_new_provider_pays_an_order_with_one_registry_line(app, monkeypatch, make_shop):
    monkeypatch.setitem(registry.ADAPTERS, "voucher", VoucherAdapter())
    monkeypatch.setitem(app.config, "PAYMENT_PROVIDERS", ["voucher", "sandbox"])
    shop = make_shop("voucher-shop")
    product = add_product(app, shop, price=900, stock=codes("VC", 3))
    order = place_order(app, shop, product, quantity=2)

    started = pay(app, shop, order.id, "voucher")

    assert started.status == SUCCEEDED
    ref = f"vc_{order.id.hex}"
    assert payment_of(app, shop, ref)["status"] == "succeeded"
    assert f"pay:{order.id}" in ledger_keys(app, shop)
    # The fulfilment worker is not running here: the order waits for it, paid.
    assert wait_for(lambda: order_status(app, shop, order.id) == "paid", timeout=5)
    assert sold_cards(app, shop, order.id) == 0


def test_a_webhook_for_a_provider_that_does_not_exist_is_a_404_problem(app):
    response = app.test_client().post(
        "/api/v1/webhooks/paypal", data=b"{}", headers={"Host": "localhost"}
    )

    assert response.status_code == 404
    assert response.get_json()["type"].endswith("/not-found")
