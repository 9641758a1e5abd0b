"""Stripe Connect events aimed across shops. The endpoint is not a shop
endpoint (it answers on every host and authenticates by signature); its
cross-tenant rule is that an ``account.updated`` reaches only the shop
whose connected account it names, whatever host it arrives on and
whatever its metadata claims. ``COVERED`` tells
``tests/api/test_cross_tenant.py`` which endpoints this module answers for."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from tests.billing.test_connect import ACCOUNT, _event, stripe_connect  # noqa: F401 - a fixture
from tests.payments.support import sign, stripe_event

pytestmark = pytest.mark.critical

COVERED = {("POST", "/api/v1/billing/stripe/connect-events")}


def _onboard(app, shop) -> None:
    from app.billing import connect

    with app.test_request_context():
        connect.start_onboarding(
            shop.id,
            return_url="https://example.com/return",
            refresh_url="https://example.com/refresh",
            actor="test",
        )
        db.session.remove()


def _accounts(app, shops) -> dict[str, str | None]:
    from tenants.models import Tenant

    with app.app_context():
        found = {
            slug: db.session.scalar(select(Tenant.stripe_account_id).where(Tenant.id == s.id))
            for slug, s in shops.items()
        }
        db.session.remove()
    return found


def test_an_event_on_another_shops_host_reaches_only_the_accounts_shop(
    app,
    shops,
    browser_for,
    stripe_connect,  # noqa: F811
):
    _onboard(app, shops["alpha"])
    bravo = browser_for(shops["bravo"].host)

    account = {**stripe_connect.account, "charges_enabled": True}
    body = stripe_event("account.updated", account, account=ACCOUNT)
    answer = bravo.post(
        "/api/v1/billing/stripe/connect-events",
        data=body,
        headers={"Stripe-Signature": sign(body, "whsec_kameng_connect_test")},
    )

    assert answer.status_code == 200 and answer.get_json()["outcome"] == "account_updated"
    assert _accounts(app, shops) == {"alpha": ACCOUNT, "bravo": None}


def test_metadata_naming_another_shop_changes_nothing_of_it(
    app,
    shops,
    stripe_connect,  # noqa: F811
):
    _onboard(app, shops["alpha"])
    account = {
        **stripe_connect.account,
        "charges_enabled": True,
        "metadata": {"kameng_tenant_id": str(shops["bravo"].id)},
    }

    assert _event(app.test_client(), account).get_json()["outcome"] == "account_updated"
    assert _accounts(app, shops) == {"alpha": ACCOUNT, "bravo": None}
