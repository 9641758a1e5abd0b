"""How many shops one platform account may open, and how fast."""

from __future__ import annotations

import pytest

from app.accounts.models import PlatformUser
from app.extensions import db
from tenants.models import Tenant
from tests.accounts.support import count, in_english, text_of
from tests.conftest import PASSWORD


def owner_named(app, email: str, *, admin: bool = False):
    from tests.factories import end_outer_transaction, password_hash

    end_outer_transaction()
    with app.app_context():
        user = PlatformUser(email=email, password_hash=password_hash(), is_platform_admin=admin)
        db.session.add(user)
        db.session.commit()
        return user.id


def open_shops(app, user_id, *slugs):
    from app.accounts.shops import open_shop

    with app.app_context():
        user = db.session.get(PlatformUser, user_id)
        for slug in slugs:
            open_shop(slug, f"Shop {slug}", user)
        db.session.remove()


@pytest.mark.critical
def test_an_account_may_own_shops_per_account_shops_and_no_more(app, monkeypatch):
    from app.accounts.shops import ShopQuotaReached

    monkeypatch.setitem(app.config, "SHOPS_PER_ACCOUNT", 2)
    user = owner_named(app, "many@example.com")
    open_shops(app, user, "first", "second")

    with pytest.raises(ShopQuotaReached) as refused:
        open_shops(app, user, "third")

    assert refused.value.status == 403
    assert refused.value.to_problem()["limit"] == 2
    assert count(app, Tenant) == 2


def test_the_default_quota_is_three_shops(app):
    from app.accounts.shops import ShopQuotaReached

    assert app.config["SHOPS_PER_ACCOUNT"] == 3
    user = owner_named(app, "many@example.com")
    open_shops(app, user, "one-shop", "two-shop", "three-shop")
    with pytest.raises(ShopQuotaReached):
        open_shops(app, user, "four-shop")


def test_platform_admins_are_not_held_to_the_quota(app, monkeypatch):
    monkeypatch.setitem(app.config, "SHOPS_PER_ACCOUNT", 1)
    admin = owner_named(app, "root@example.com", admin=True)
    open_shops(app, admin, "first", "second")
    assert count(app, Tenant) == 2


def test_the_new_shop_form_says_the_quota_is_reached(app, platform, monkeypatch):
    monkeypatch.setitem(app.config, "SHOPS_PER_ACCOUNT", 1)
    user = owner_named(app, "one@example.com")
    open_shops(app, user, "first")
    in_english(platform)
    assert (
        platform.submit("/login", {"email": "one@example.com", "password": PASSWORD}).status_code
        == 302
    )

    response = platform.submit("/shops", {"slug": "second", "shop_name": "Second"})

    assert response.status_code == 200
    assert "You already own 1 shops, the most one account may open." in text_of(response)
    assert count(app, Tenant) == 1


def test_opening_shops_is_rate_limited_per_client_address(app, platform, monkeypatch):
    monkeypatch.setitem(app.config, "SHOP_CREATE_RATE_LIMIT", "2 per hour")
    monkeypatch.setitem(app.config, "SHOPS_PER_ACCOUNT", 10)
    user = owner_named(app, "fast@example.com")
    in_english(platform)
    assert (
        platform.submit("/login", {"email": "fast@example.com", "password": PASSWORD}).status_code
        == 302
    )

    # A form sent back with a mistake costs nothing; only opened shops count.
    assert platform.submit("/shops", {"slug": "-bad-", "shop_name": "Bad"}).status_code == 200
    for slug in ("first", "second"):
        assert platform.submit("/shops", {"slug": slug, "shop_name": slug}).status_code == 302
    limited = platform.submit("/shops", {"slug": "third", "shop_name": "third"})
    assert limited.status_code == 429
    # Sign-up spends the same budget: a new account is no way around it.
    signup = platform.submit(
        "/signup",
        {
            "shop_name": "Fourth",
            "slug": "fourth",
            "email": "other@example.com",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert signup.status_code == 429
    assert count(app, Tenant) == 2
    assert user
