"""Opening, suspending and resuming shops; custom domains."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.accounts import shops
from app.accounts.models import ROLE_OWNER, Membership, PlatformUser, ShopAccount
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from tenants import provisioning
from tenants.context import all_tenants, tenant_context
from tenants.models import CustomDomain, Tenant
from tests.tenants.conftest import EN

# --- slugs -----------------------------------------------------------------------


@pytest.mark.critical
@pytest.mark.parametrize(
    "given,slug",
    [
        ("abc", "abc"),
        ("a1b", "a1b"),
        ("123", "123"),
        ("shop-1", "shop-1"),
        ("a-b-c", "a-b-c"),
        ("Alpha", "alpha"),
        ("  demo  ", "demo"),
        ("a" * 32, "a" * 32),
        ("demo-admin-x", "demo-admin-x"),
        ("wwww", "wwww"),
    ],
)
def test_a_valid_slug_is_accepted_in_its_normal_form(given, slug):
    assert provisioning.validate_slug(given) == slug


@pytest.mark.critical
@pytest.mark.parametrize(
    "slug",
    [
        "",
        None,
        "ab",
        "a" * 33,
        "-abc",
        "abc-",
        "a--b",
        "xn--fsqu00a",
        "ab_c",
        "ab.c",
        "ab c",
        "ab/c",
        "äbc",
        "例子例子",
        "ab\nc",
    ],
)
def test_a_malformed_slug_is_refused_saying_why(slug):
    with pytest.raises(ValidationFailed) as caught:
        provisioning.validate_slug(slug)
    assert caught.value.errors["slug"]


@pytest.mark.critical
@pytest.mark.parametrize(
    "slug", ["www", "api", "admin", "static", "platform", "healthz", "kameng", "WWW", " Api "]
)
def test_a_reserved_slug_is_refused(slug):
    with pytest.raises(ValidationFailed) as caught:
        provisioning.validate_slug(slug)
    assert caught.value.errors == {"slug": ["This address is reserved."]}


# --- opening a shop --------------------------------------------------------------


@pytest.mark.critical
def test_a_new_shop_has_its_owner_as_owner_member(app_ctx, make_shop):
    shop = make_shop("alpha", "Alpha Cards")
    tenant = db.session.get(Tenant, shop.id)
    with tenant_context(tenant):
        memberships = db.session.scalars(select(Membership)).unique().all()
    assert [(m.user_id, m.role) for m in memberships] == [(shop.owner_id, ROLE_OWNER)]
    assert (tenant.slug, tenant.name, tenant.status) == ("alpha", "Alpha Cards", "active")


@pytest.mark.critical
@pytest.mark.parametrize("again", ["alpha", "ALPHA", " alpha "])
def test_a_taken_slug_is_a_conflict_and_opens_nothing(app_ctx, make_shop, again):
    owner = db.session.get(PlatformUser, make_shop("alpha").owner_id)
    with pytest.raises(Conflict) as caught:
        shops.open_shop(again, "Copycat", owner)
    assert caught.value.status == 409
    assert caught.value.errors == {"slug": ["Already taken."]}
    db.session.rollback()
    assert db.session.scalars(select(Tenant.name)).all() == ["Shop alpha"]


@pytest.mark.critical
def test_a_reserved_or_malformed_slug_opens_no_shop(app_ctx, make_shop):
    owner = db.session.get(PlatformUser, make_shop("alpha").owner_id)
    for slug in ("www", "a--b", "x"):
        with pytest.raises(ValidationFailed):
            shops.open_shop(slug, "Nope", owner)
    assert db.session.scalars(select(Tenant.slug)).all() == ["alpha"]


def test_a_slug_taken_between_the_check_and_the_insert_is_still_a_conflict(app, app_ctx, bare_shop):
    """Two sign-ups for one address at once: the loser gets Conflict, not a
    database error."""
    from sqlalchemy import event, insert

    from app.accounts.models import PlatformUser

    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers at BEGIN: the race cannot happen there")
    owner = PlatformUser(email="racer@example.com", password_hash="!")
    db.session.add(owner)
    db.session.commit()

    def open_it_elsewhere(session, flush_context, instances):
        if any(isinstance(o, Tenant) for o in session.new):
            with db.engine.begin() as other:  # another web process
                other.execute(insert(Tenant).values(slug="alpha", name="Winner"))

    event.listen(db.session.registry(), "before_flush", open_it_elsewhere)
    try:
        with pytest.raises(Conflict):
            shops.open_shop("alpha", "Loser", owner)
    finally:
        event.remove(db.session.registry(), "before_flush", open_it_elsewhere)
    assert db.session.scalars(select(Tenant.name)).all() == ["Winner"]


@pytest.mark.critical
def test_a_new_shop_answers_on_its_subdomain_at_once(make_shop, browser_for):
    shop = browser_for("gamma.localhost")
    assert shop.get("/api/v1/shop").status_code == 404

    make_shop("gamma", "Gamma Games")

    response = shop.get("/api/v1/shop")
    assert response.status_code == 200
    assert response.get_json()["name"] == "Gamma Games"
    assert "Gamma Games" in shop.get("/", headers=EN).get_data(as_text=True)


# --- suspending and resuming -----------------------------------------------------


@pytest.mark.critical
def test_a_suspended_shop_says_so_on_its_pages_and_its_api(app, bare_shop, browser_for):
    bare_shop("alpha", "Alpha Cards")
    with app.app_context():
        provisioning.suspend_shop("alpha", "unpaid invoice")
    shop = browser_for("alpha.localhost")

    page = shop.get("/", headers=EN)
    assert page.status_code == 403
    assert page.mimetype == "text/html"
    assert "This shop is suspended" in page.get_data(as_text=True)
    assert "Alpha Cards" in page.get_data(as_text=True)
    assert "unpaid invoice" not in page.get_data(as_text=True)  # the reason is internal

    for path in ("/api/v1/shop", "/api/v1/me", "/api/v1/accounts"):
        api = shop.get(path)
        assert api.status_code == 403, path
        assert api.mimetype == "application/problem+json"
        problem = api.get_json()
        assert problem["type"].endswith("/shop-suspended")
        assert problem["status"] == 403

    assert shop.get("/healthz").status_code == 200


@pytest.mark.critical
def test_resuming_a_shop_restores_it_with_its_data(app, bare_shop, bare_account, browser_for):
    tenant = bare_shop("alpha", "Alpha Cards")
    bare_account(tenant, "buyer@alpha.example.com")
    with app.app_context():
        suspended = provisioning.suspend_shop("alpha", "unpaid invoice")
        assert (suspended.status, suspended.suspended_reason) == ("suspended", "unpaid invoice")
        resumed = provisioning.resume_shop("alpha")
        assert (resumed.status, resumed.suspended_reason) == ("active", None)

    shop = browser_for("alpha.localhost")
    assert shop.get("/", headers=EN).status_code == 200
    assert shop.get("/api/v1/shop").get_json()["status"] == "active"
    with app.app_context(), tenant_context(tenant):
        assert db.session.scalars(select(ShopAccount.email)).all() == ["buyer@alpha.example.com"]


def test_suspending_twice_or_resuming_an_active_shop_changes_nothing(app_ctx, bare_shop):
    bare_shop("alpha")
    provisioning.suspend_shop("alpha", "first")
    assert provisioning.suspend_shop("alpha", "first").status == "suspended"
    provisioning.resume_shop("alpha")
    assert provisioning.resume_shop("alpha").status == "active"


def test_suspending_an_unknown_shop_is_not_found(app_ctx):
    with pytest.raises(NotFound):
        provisioning.suspend_shop("nosuch")


def test_an_over_long_suspension_reason_is_refused(app_ctx, bare_shop):
    bare_shop("alpha")
    with pytest.raises(ValidationFailed):
        provisioning.suspend_shop("alpha", "x" * 501)
    assert provisioning.get_shop("alpha").status == "active"


# --- custom domains --------------------------------------------------------------


@pytest.mark.critical
def test_a_custom_domain_serves_the_shop_only_once_verified(app, bare_shop, browser_for):
    alpha = bare_shop("alpha", "Alpha Cards")
    with app.app_context():
        domain = provisioning.add_custom_domain(alpha, "Cards.Alpha.Example:8443")
        assert domain.host == "cards.alpha.example"
        assert domain.verified_at is None
        assert len(domain.verification_token) >= 24
    site = browser_for("cards.alpha.example")
    assert site.get("/api/v1/shop").status_code == 404

    with app.app_context():
        provisioning.mark_domain_verified(alpha, "CARDS.alpha.example")

    assert site.get("/api/v1/shop").get_json()["slug"] == "alpha"
    assert "Alpha Cards" in site.get("/", headers=EN).get_data(as_text=True)


def test_an_idn_custom_domain_is_stored_and_served_in_punycode(app, bare_shop, browser_for):
    alpha = bare_shop("alpha")
    with app.app_context():
        domain = provisioning.add_custom_domain(alpha, "例子.example")
        assert domain.host == "xn--fsqu00a.example"
        provisioning.mark_domain_verified(alpha, "例子.example")
    assert browser_for("xn--fsqu00a.example").get("/api/v1/shop").status_code == 200


@pytest.mark.critical
def test_a_domain_connected_to_one_shop_cannot_be_connected_to_another(app_ctx, bare_shop):
    alpha, bravo = bare_shop("alpha"), bare_shop("bravo")
    provisioning.add_custom_domain(alpha, "cards.example")
    for host in ("cards.example", "CARDS.EXAMPLE", "cards.example."):
        with pytest.raises(Conflict):
            provisioning.add_custom_domain(bravo, host)
    with all_tenants():
        owners = db.session.execute(select(CustomDomain.host, CustomDomain.tenant_id)).all()
    assert owners == [("cards.example", alpha.id)]


@pytest.mark.critical
def test_a_shop_cannot_verify_another_shops_domain(app, bare_shop, browser_for):
    alpha, bravo = bare_shop("alpha"), bare_shop("bravo")
    with app.app_context():
        provisioning.add_custom_domain(alpha, "cards.example")
        with pytest.raises(NotFound):
            provisioning.mark_domain_verified(bravo, "cards.example")
        with all_tenants():
            assert db.session.scalar(select(CustomDomain.verified_at)) is None
    assert browser_for("cards.example").get("/api/v1/shop").status_code == 404


@pytest.mark.critical
@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "www.localhost",
        "bravo.localhost",
        "x.y.localhost",
        "127.0.0.1",
        "[::1]",
        "intranet",
        "bad_host",
        "a..b",
        "",
        "a" * 64 + ".example",
    ],
)
def test_a_custom_domain_must_be_a_real_domain_outside_the_platform(app_ctx, bare_shop, host):
    alpha = bare_shop("alpha")
    with pytest.raises(ValidationFailed) as caught:
        provisioning.add_custom_domain(alpha, host)
    assert caught.value.errors["host"]
    with all_tenants():
        assert db.session.scalars(select(CustomDomain)).all() == []


def test_verifying_an_unknown_or_malformed_domain_is_not_found(app_ctx, bare_shop):
    alpha = bare_shop("alpha")
    for host in ("nosuch.example", "a..b", ""):
        with pytest.raises(NotFound):
            provisioning.mark_domain_verified(alpha, host)


# --- isolation through HTTP ------------------------------------------------------


@pytest.mark.critical
def test_a_shop_api_key_never_reaches_another_shops_accounts(two_shops, browser_for):
    alpha_key = {"Authorization": f"Bearer {two_shops['alpha']['key']}"}
    bravo_buyer = two_shops["bravo"]["buyer"].id
    alpha = browser_for("alpha.localhost")

    listing = alpha.get("/api/v1/accounts", headers=alpha_key)
    assert listing.status_code == 200
    listed = {item["email"] for item in listing.get_json()["items"]}
    assert listed == {"buyer@alpha.example.com", "agent@alpha.example.com"}

    assert alpha.get(f"/api/v1/accounts/{bravo_buyer}", headers=alpha_key).status_code == 404
    other = browser_for("bravo.localhost").get("/api/v1/accounts", headers=alpha_key)
    assert other.status_code == 401
