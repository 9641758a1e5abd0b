"""Fixtures of the API tests: two shops with every kind of id to aim at, and
browsers signed in to a shop as its owner or its buyer."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.conftest import PASSWORD


@pytest.fixture
def shops(app, two_shops):
    """``two_shops`` plus, per shop, the ids of its key and a spare key, its
    slug and every string that would give its data away in another's answer."""
    from app.accounts import services
    from tenants.context import tenant_context

    for slug, shop in two_shops.items():
        tenant = shop["tenant"]
        with app.app_context(), tenant_context(tenant):
            spare, _ = services.create_api_key("spare", None)
            shop["spare_key_id"] = str(spare.id)
            shop["key_id"] = next(
                str(k.id) for k in services.list_api_keys() if k.name == "test key"
            )
            shop["key_prefix"] = shop["key"].split("_")[1]
            db.session.remove()
        shop["slug"] = slug
        shop["host"] = f"{slug}.localhost"
        shop["buyer_id"] = str(shop["buyer"].id)
        shop["agent_id"] = str(shop["agent"].id)
        shop["markers"] = [
            slug,
            str(tenant.id),
            shop["buyer_id"],
            shop["agent_id"],
            shop["key_id"],
            shop["spare_key_id"],
            shop["key_prefix"],
            shop["buyer"].email,
            shop["agent"].email,
        ]
    return two_shops


@pytest.fixture
def console_session(browser_for):
    """console_session(shop) -> a browser signed in to the shop's console as its owner."""

    def sign_in(shop):
        browser = browser_for(shop["host"])
        response = browser.submit(
            "/console/login", {"email": shop["owner_email"], "password": PASSWORD}
        )
        assert response.status_code == 302 and response.location.endswith("/console/")
        return browser

    return sign_in


@pytest.fixture
def buyer_session(browser_for):
    """buyer_session(shop) -> a browser signed in to the shop as its buyer."""

    def sign_in(shop):
        browser = browser_for(shop["host"])
        response = browser.submit(
            "/account/login", {"email": shop["buyer"].email, "password": PASSWORD}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return browser

    return sign_in
