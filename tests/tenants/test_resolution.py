"""Host → shop: which site answers for every kind of Host header, and how
fast a change to a shop or a domain reaches every process."""

from __future__ import annotations

import pytest

from app.core.errors import BadHost
from app.extensions import db
from tenants import provisioning
from tenants.resolve import GENERATION_KEY, normalize_host, resolve_host
from tests.conftest import HostClient
from tests.tenants.conftest import EN

IDN = "例子.localhost"
IDN_ASCII = "xn--fsqu00a.localhost"


def as_a_server_passes_it(host: str) -> str:
    """A WSGI server hands the app header bytes decoded as latin-1."""
    return host.encode("utf-8").decode("latin-1")


# --- normalize_host ---------------------------------------------------------


@pytest.mark.critical
@pytest.mark.parametrize(
    "raw,expected",
    [
        ("alpha.localhost", "alpha.localhost"),
        ("ALPHA.LocalHost", "alpha.localhost"),
        ("alpha.localhost:5000", "alpha.localhost"),
        ("alpha.localhost:65535", "alpha.localhost"),
        ("alpha.localhost.", "alpha.localhost"),
        ("alpha.localhost.:80", "alpha.localhost"),
        ("  alpha.localhost  ", "alpha.localhost"),
        ("localhost", "localhost"),
        ("shop.example.com", "shop.example.com"),
        ("a-b.example.com", "a-b.example.com"),
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]", "[::1]"),
        ("[::1]:80", "[::1]"),
        ("[FE80::1]", "[fe80::1]"),
        (IDN, IDN_ASCII),
        ("例子.LOCALHOST:8080", IDN_ASCII),
        (IDN_ASCII, IDN_ASCII),
        ("a" * 63 + ".localhost", "a" * 63 + ".localhost"),
        (".".join(["a" * 49] * 5) + ".com", ".".join(["a" * 49] * 5) + ".com"),  # 253
    ],
)
def test_normalize_host_gives_the_lowercase_ascii_name_without_port(raw, expected):
    assert normalize_host(raw) == expected


@pytest.mark.critical
@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        ":80",
        ".",
        "bad_host",
        "a..b",
        ".alpha.localhost",
        "-x.localhost",
        "x-.localhost",
        "alpha.localhost:",
        "alpha.localhost:abc",
        "alpha.localhost:99999",
        "alpha.localhost:-1",
        "alpha.localhost:80:80",
        "alpha.localhost/evil",
        "user@alpha.localhost",
        "alpha.localhost\x00",
        "alpha localhost",
        "a" * 64 + ".localhost",
        ".".join(["a" * 50] * 5) + ".com",  # 259 characters
        "a" * 301,
        "[::1",
        "[::1]x",
        "[::1]:http",
        as_a_server_passes_it(IDN),
    ],
)
def test_normalize_host_refuses_malformed_headers(raw):
    with pytest.raises(BadHost):
        normalize_host(raw)


# --- resolution through HTTP ------------------------------------------------

SHOP = "shop"
PLATFORM = "platform"
UNKNOWN = "unknown"
BAD = "bad"
SUSPENDED = "suspended"


@pytest.fixture
def sites(app, bare_shop):
    """alpha (with a verified and an unverified custom domain), bravo
    (suspended)."""
    alpha = bare_shop("alpha", "Alpha Cards")
    bare_shop("bravo", "Bravo Keys")
    with app.app_context():
        provisioning.add_custom_domain(alpha, "cards.alpha.example")
        provisioning.mark_domain_verified(alpha, "cards.alpha.example")
        provisioning.add_custom_domain(alpha, "pending.alpha.example")
        provisioning.suspend_shop("bravo")
    return alpha


RESOLUTION_TABLE = [
    ("alpha.localhost", SHOP),
    ("ALPHA.LOCALHOST", SHOP),
    ("Alpha.LocalHost:8080", SHOP),
    ("alpha.localhost:5000", SHOP),
    ("alpha.localhost.", SHOP),
    ("cards.alpha.example", SHOP),
    ("CARDS.ALPHA.EXAMPLE:443", SHOP),
    ("pending.alpha.example", UNKNOWN),
    ("localhost", PLATFORM),
    ("localhost:5000", PLATFORM),
    ("LOCALHOST", PLATFORM),
    ("www.localhost", PLATFORM),
    ("WWW.localhost:5000", PLATFORM),
    ("bravo.localhost", SUSPENDED),
    ("BRAVO.localhost:5000", SUSPENDED),
    ("nosuch.localhost", UNKNOWN),
    ("a.b.localhost", UNKNOWN),
    ("www.alpha.localhost", UNKNOWN),
    ("alpha.localhost.evil.example", UNKNOWN),
    ("alpha", UNKNOWN),
    ("example.com", UNKNOWN),
    ("127.0.0.1", UNKNOWN),
    ("[::1]:80", UNKNOWN),
    (IDN_ASCII, UNKNOWN),
    ("xn--fsqu00a.example", UNKNOWN),
    (as_a_server_passes_it(IDN), BAD),
    ("", BAD),
    ("bad_host", BAD),
    ("a..b", BAD),
    ("-x.localhost", BAD),
    ("alpha.localhost:99999", BAD),
    ("alpha.localhost:abc", BAD),
    ("[::1", BAD),
    ("alpha.localhost\x00", BAD),
    ("a" * 64 + ".localhost", BAD),
    (".".join(["a" * 50] * 5) + ".localhost", BAD),  # 264 characters
    ("a" * 301, BAD),
]


PROBLEM_TYPES = {
    PLATFORM: "/unknown-shop",
    UNKNOWN: "/unknown-shop",
    SUSPENDED: "/shop-suspended",
    BAD: "/bad-host",
}


@pytest.mark.critical
@pytest.mark.parametrize("host,site", RESOLUTION_TABLE)
def test_each_host_header_reaches_the_right_site_as_page_and_api(sites, platform, host, site):
    page = platform.get("/", headers={"Host": host, **EN})
    api = platform.get("/api/v1/shop", headers={"Host": host})

    body = page.get_data(as_text=True)
    if site == SHOP:
        assert page.status_code == 200
        assert "Alpha Cards" in body
        assert api.status_code == 200
        assert api.get_json()["slug"] == "alpha"
        return
    if site == PLATFORM:
        assert page.status_code == 200
    elif site == SUSPENDED:
        assert page.status_code == 403
        assert "This shop is suspended" in body
        assert "Bravo Keys" in body
    elif site == UNKNOWN:
        assert page.status_code == 404
    else:
        assert page.status_code == 400
        assert page.get_json()["type"].endswith("/bad-host")
    assert "Alpha Cards" not in body
    assert api.mimetype == "application/problem+json"
    assert api.get_json()["type"].endswith(PROBLEM_TYPES[site])
    assert api.status_code == {BAD: 400, SUSPENDED: 403}.get(site, 404)


@pytest.mark.parametrize("host", ["a..b", "a" * 64 + ".localhost", "", "nosuch.localhost"])
def test_healthz_answers_whatever_the_host(app, platform, host):
    response = platform.get("/healthz", headers={"Host": host})
    assert response.status_code in (200, 400)
    assert response.is_json


def test_resolve_host_gives_a_snapshot_of_the_shop(app_ctx, bare_shop):
    tenant = bare_shop("alpha", "Alpha Cards")

    resolution = resolve_host("Alpha.localhost:5000")

    assert resolution.kind == "shop"
    assert resolution.host == "alpha.localhost"
    assert resolution.shop.id == tenant.id
    assert resolution.shop.slug == "alpha"
    assert resolution.shop.name == "Alpha Cards"
    assert not resolution.shop.is_suspended


# --- cache invalidation -----------------------------------------------------


def shop_status_at(client, host: str) -> int:
    return client.get("/api/v1/shop", headers={"Host": host}).status_code


@pytest.mark.critical
def test_the_host_cache_answers_until_an_invalidation_says_otherwise(app, bare_shop, platform):
    """A change written behind the cache's back (no ``invalidate_resolution``)
    is not seen: the cache really answers, and invalidation is what makes
    the changes in the tests below visible."""
    from sqlalchemy import update

    from tenants.context import all_tenants
    from tenants.models import Tenant
    from tenants.resolve import invalidate_resolution

    bare_shop("alpha")
    assert shop_status_at(platform, "alpha.localhost") == 200
    with app.app_context(), all_tenants():
        db.session.execute(update(Tenant).values(status="suspended"))
        db.session.commit()

    assert shop_status_at(platform, "alpha.localhost") == 200  # from the cache

    with app.app_context():
        invalidate_resolution()
    assert shop_status_at(platform, "alpha.localhost") == 403


@pytest.mark.critical
def test_a_suspended_shop_is_suspended_on_the_very_next_request(app, bare_shop, platform):
    bare_shop("alpha")
    assert shop_status_at(platform, "alpha.localhost") == 200  # now cached

    with app.app_context():
        provisioning.suspend_shop("alpha")
    assert shop_status_at(platform, "alpha.localhost") == 403

    with app.app_context():
        provisioning.resume_shop("alpha")
    assert shop_status_at(platform, "alpha.localhost") == 200


@pytest.mark.critical
def test_a_verified_domain_serves_the_shop_on_the_very_next_request(app, bare_shop, platform):
    alpha = bare_shop("alpha")
    with app.app_context():
        provisioning.add_custom_domain(alpha, "cards.alpha.example")
    assert shop_status_at(platform, "cards.alpha.example") == 404  # cached as unknown

    with app.app_context():
        provisioning.mark_domain_verified(alpha, "cards.alpha.example")

    response = platform.get("/api/v1/shop", headers={"Host": "cards.alpha.example"})
    assert response.status_code == 200
    assert response.get_json()["slug"] == "alpha"


@pytest.mark.critical
def test_a_new_shop_answers_at_once_where_an_unknown_host_was_cached(bare_shop, platform):
    assert shop_status_at(platform, "gamma.localhost") == 404  # cached as unknown

    bare_shop("gamma")

    assert shop_status_at(platform, "gamma.localhost") == 200


@pytest.mark.critical
def test_another_web_process_sees_a_suspension_made_in_this_one(
    app, second_app, bare_shop, platform
):
    bare_shop("alpha")
    other = HostClient(second_app, "alpha.localhost")
    assert other.get("/api/v1/shop").status_code == 200  # cached in the other app

    with app.app_context():
        provisioning.suspend_shop("alpha")

    assert other.get("/api/v1/shop").status_code == 403


@pytest.mark.critical
def test_a_suspension_from_the_cli_in_another_process_reaches_this_one(
    bare_shop, platform, tenants_cli
):
    bare_shop("alpha")
    assert shop_status_at(platform, "alpha.localhost") == 200  # cached here

    assert "suspended alpha" in tenants_cli("suspend", "alpha", "--reason", "unpaid")
    assert shop_status_at(platform, "alpha.localhost") == 403

    assert "resumed alpha" in tenants_cli("resume", "alpha")
    assert shop_status_at(platform, "alpha.localhost") == 200


@pytest.mark.critical
def test_a_domain_verified_in_another_process_serves_here_at_once(
    app, bare_shop, platform, tenants_cli
):
    alpha = bare_shop("alpha")
    with app.app_context():
        provisioning.add_custom_domain(alpha, "cards.alpha.example")
    assert shop_status_at(platform, "cards.alpha.example") == 404  # cached as unknown

    tenants_cli("verify-domain", "alpha", "cards.alpha.example", "--skip-dns")

    assert shop_status_at(platform, "cards.alpha.example") == 200


@pytest.mark.critical
def test_a_cache_filled_before_redis_lost_its_data_is_not_trusted_after(
    app, bare_shop, platform, tenants_cli
):
    """A restarted (or flushed) Redis must not bring back an old generation:
    a counter starting again from zero would, and this process would keep
    serving the shop as active."""
    from app.core.redisconn import get_redis

    bare_shop("alpha")
    assert shop_status_at(platform, "alpha.localhost") == 200  # cached here
    with app.app_context():
        get_redis().delete(GENERATION_KEY)  # Redis restarted without its data

    tenants_cli("suspend", "alpha")

    assert shop_status_at(platform, "alpha.localhost") == 403


@pytest.mark.critical
def test_without_redis_every_request_resolves_from_the_database(app, app_config, bare_shop):
    from app import create_app

    bare_shop("alpha")
    no_redis = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    client = HostClient(no_redis, "alpha.localhost")
    assert client.get("/api/v1/shop").status_code == 200

    with app.app_context():
        provisioning.suspend_shop("alpha")  # its invalidation cannot reach no_redis

    assert client.get("/api/v1/shop").status_code == 403
    with no_redis.app_context():
        db.session.remove()
