"""``confirm_recharge``: the one path that credits a wallet, whichever
provider confirms, once."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.factories import add_account
from tests.payments.support import ledger_keys, payment_of, wallet

pytestmark = pytest.mark.critical


@pytest.fixture
def shop(make_shop):
    """A shop that sells in US dollars."""
    return make_shop("recharges", currency="USD")


@pytest.fixture
def buyer(app, shop):
    return add_account(app, shop, "buyer@recharges.example.com").id


@pytest.fixture
def pending(app, shop, buyer):
    """A pending recharge of 2500 as a provider that confirms later leaves it."""
    from app.payments.models import Payment
    from tenants.context import tenant_context

    with app.app_context(), tenant_context(shop.id):
        payment = Payment(
            purpose="recharge",
            account_id=buyer,
            provider="stripe",
            provider_ref="pi_pending_recharge",
            amount=2500,
            currency="USD",
        )
        db.session.add(payment)
        db.session.commit()
        payment_id = payment.id
        db.session.remove()
    return payment_id


def confirm(app, shop, payment_id, **kw):
    from app.payments import recharges
    from tenants.context import tenant_context

    args = {"provider": "stripe", "provider_ref": "pi_pending_recharge", "amount": 2500}
    args.update(kw)
    with app.app_context(), tenant_context(shop.id):
        try:
            return recharges.confirm_recharge(payment_id, actor="test", **args)
        finally:
            db.session.remove()


def test_a_confirmed_recharge_is_credited_once(app, shop, buyer, pending):
    assert confirm(app, shop, pending) is True
    assert confirm(app, shop, pending) is False
    assert confirm(app, shop, pending) is False

    assert wallet(app, shop, buyer) == 2500
    assert ledger_keys(app, shop) == [f"recharge:{pending}"]
    assert payment_of(app, shop, "pi_pending_recharge")["status"] == "succeeded"


@pytest.mark.parametrize(
    "wrong", [{"amount": 2499}, {"amount": 25000}, {"provider": "sandbox"}], ids=str
)
def test_a_confirmation_that_does_not_match_credits_nothing(app, shop, buyer, pending, wrong):
    from app.payments.recharges import PaymentMismatch

    with pytest.raises(PaymentMismatch):
        confirm(app, shop, pending, **wrong)

    assert wallet(app, shop, buyer) == 0
    assert ledger_keys(app, shop) == []
    assert payment_of(app, shop, "pi_pending_recharge")["status"] == "pending"


def test_a_recharge_refunded_before_its_confirmation_is_not_credited(app, shop, buyer, pending):
    from app.payments import services as payments
    from tenants.context import tenant_context

    with app.app_context(), tenant_context(shop.id):
        assert payments.record_refunded(pending, 2500) is True
        db.session.commit()
        db.session.remove()

    assert confirm(app, shop, pending) is False
    assert wallet(app, shop, buyer) == 0
    assert payment_of(app, shop, "pi_pending_recharge")["status"] == "refunded"


def test_a_sandbox_recharge_goes_through_the_same_confirmation(app, shop, buyer):
    from app.payments import recharges
    from tenants.context import tenant_context

    with app.app_context(), tenant_context(shop.id):
        payment, started = recharges.start_recharge(buyer, 1234, "sandbox", actor="test")
        assert (started.status, payment.status, payment.currency) == (
            "succeeded",
            "succeeded",
            "USD",
        )
        # The sandbox's confirmation repeated (a double click): nothing more.
        assert (
            recharges.confirm_recharge(
                payment.id,
                provider="sandbox",
                provider_ref=payment.provider_ref,
                amount=1234,
                actor="sandbox",
            )
            is False
        )
        db.session.remove()

    assert wallet(app, shop, buyer) == 1234


def test_an_inactive_account_cannot_recharge(app, shop, buyer):
    from app.accounts.models import ShopAccount
    from app.core.errors import NotFound
    from app.payments import recharges
    from tenants.context import tenant_context

    with app.app_context(), tenant_context(shop.id):
        db.session.get(ShopAccount, buyer).is_active = False
        db.session.commit()
        with pytest.raises(NotFound):
            recharges.start_recharge(buyer, 100, "sandbox", actor="test")
        db.session.remove()
