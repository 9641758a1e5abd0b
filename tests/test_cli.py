"""``flask --app wsgi …``: the real commands through Flask's CLI runner.

Bad input prints one line on stderr and exits non-zero, and writes nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.models import Membership, PlatformUser, ShopAccount
from app.extensions import db
from tenants.context import all_tenants
from tenants.models import CustomDomain, Tenant
from tests.conftest import PASSWORD


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args: str, input: str | None = None):
        result = runner.invoke(args=list(args), input=input)
        with app.app_context():
            db.session.remove()
        return result

    return run


def counts(app) -> dict[str, int]:
    with app.app_context(), all_tenants():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Tenant, PlatformUser, Membership, ShopAccount, CustomDomain)
        }


def assert_one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


def create(cli, slug="alpha", name="Alpha Cards", email="owner@example.com", password=PASSWORD):
    args = ["tenants", "create", slug, "--name", name, "--owner-email", email]
    if password is not None:
        args += ["--owner-password", password]
    return cli(*args)


# --- tenants create ------------------------------------------------------


def test_tenants_create_opens_a_shop_that_answers_at_once(app, cli, browser_for):
    result = create(cli)

    assert result.exit_code == 0, result.output
    assert (
        result.stdout.strip() == "created alpha  http://alpha.localhost/  owner owner@example.com"
    )
    home = browser_for("alpha.localhost").get("/")
    assert home.status_code == 200
    assert "Alpha Cards" in home.get_data(as_text=True)
    login = browser_for("alpha.localhost").submit(
        "/console/login", {"email": "owner@example.com", "password": PASSWORD}
    )
    assert login.location == "/console/"


def test_tenants_create_gives_an_existing_operator_another_shop(app, cli, browser_for):
    create(cli)
    result = create(cli, slug="bravo", name="Bravo", password=None)

    assert result.exit_code == 0, result.output
    assert counts(app)["PlatformUser"] == 1
    assert counts(app)["Membership"] == 2
    assert browser_for("bravo.localhost").get("/").status_code == 200


@pytest.mark.parametrize(
    "changes,needles",
    [
        ({"slug": "bad_slug!"}, ["single hyphens"]),
        ({"slug": "x"}, ["3 to 32 characters"]),
        ({"slug": "admin"}, ["'admin' is reserved"]),
        ({"slug": "taken"}, ["'taken' is taken"]),
        ({"email": "not-an-email"}, ["email address is not valid"]),
        ({"email": "new@example.com", "password": None}, ["--owner-password"]),
        ({"email": "new@example.com", "password": "short"}, ["at least 8 characters"]),
        ({"email": "new@example.com", "name": "  "}, ["1 to 120 characters"]),
        ({"name": "  "}, ["1 to 120 characters"]),
    ],
    ids=[
        "bad-slug",
        "short-slug",
        "reserved-slug",
        "duplicate-slug",
        "bad-email",
        "new-owner-without-password",
        "new-owner-short-password",
        "new-owner-blank-name",
        "existing-owner-blank-name",
    ],
)
def test_tenants_create_refuses_bad_input_in_one_line_and_creates_nothing(
    app, cli, changes, needles
):
    create(cli, slug="taken", name="Taken", email="owner@example.com")
    before = counts(app)

    result = create(cli, **changes)

    assert_one_line_error(result, *needles)
    assert counts(app) == before


# --- tenants list, suspend, resume ----------------------------------------


def test_tenants_list_shows_every_shop_with_status_and_members(app, cli):
    assert cli("tenants", "list").stdout.strip() == "no shops yet"
    create(cli, slug="alpha", name="Alpha Cards")
    create(cli, slug="bravo", name="Bravo Keys", email="b@example.com")
    cli("tenants", "suspend", "bravo")

    result = cli("tenants", "list")

    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["SLUG", "STATUS", "MEMBERS", "NAME"]
    assert lines[1].split() == ["alpha", "active", "1", "Alpha", "Cards"]
    assert lines[2].split() == ["bravo", "suspended", "1", "Bravo", "Keys"]


@pytest.mark.critical
def test_tenants_suspend_and_resume_close_and_reopen_the_shop(app, cli, browser_for):
    create(cli)
    shop = browser_for("alpha.localhost")

    result = cli("tenants", "suspend", "alpha", "--reason", "chargebacks")
    assert result.exit_code == 0 and result.stdout.strip() == "suspended alpha"
    assert shop.get("/").status_code == 403
    with app.app_context(), all_tenants():
        assert db.session.scalar(select(Tenant.suspended_reason)) == "chargebacks"

    result = cli("tenants", "resume", "alpha")
    assert result.exit_code == 0 and result.stdout.strip() == "resumed alpha"
    assert shop.get("/").status_code == 200


@pytest.mark.parametrize("command", ["suspend", "resume", "api-key"])
def test_commands_on_an_unknown_shop_fail_in_one_line(cli, command):
    assert_one_line_error(cli("tenants", command, "nosuch"), "No shop 'nosuch'")


# --- tenants api-key -------------------------------------------------------


@pytest.mark.critical
def test_tenants_api_key_prints_a_key_that_works_for_that_shop_only(app, cli, browser_for):
    create(cli)
    create(cli, slug="bravo", name="Bravo", email="b@example.com")

    result = cli("tenants", "api-key", "alpha", "--name", "ops")

    assert result.exit_code == 0
    key = result.stdout.strip()
    assert key.startswith("km_") and len(result.stdout.strip().splitlines()) == 1
    headers = {"Authorization": f"Bearer {key}"}
    me = browser_for("alpha.localhost").get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.get_json()["roles"] == ["owner"]
    keys = browser_for("alpha.localhost").get("/api/v1/api-keys", headers=headers).get_json()
    assert [k["name"] for k in keys["items"]] == ["ops"]
    assert browser_for("bravo.localhost").get("/api/v1/me", headers=headers).status_code == 401


def test_tenants_api_key_with_the_staff_role_cannot_manage_keys(cli, browser_for):
    create(cli)
    key = cli("tenants", "api-key", "alpha", "--role", "staff").stdout.strip()
    headers = {"Authorization": f"Bearer {key}"}
    shop = browser_for("alpha.localhost")
    assert shop.get("/api/v1/me", headers=headers).get_json()["roles"] == ["staff"]
    assert shop.get("/api/v1/api-keys", headers=headers).status_code == 403


def test_tenants_api_key_refuses_an_unknown_role(cli):
    create(cli)
    result = cli("tenants", "api-key", "alpha", "--role", "god")
    assert result.exit_code == 2
    assert "'god' is not one of 'owner', 'staff'" in result.stderr


# --- custom domains ----------------------------------------------------------


@pytest.mark.critical
def test_a_custom_domain_serves_the_shop_once_verified(app, cli, browser_for):
    create(cli)

    added = cli("tenants", "add-domain", "alpha", "Cards.Example.NET")

    assert added.exit_code == 0, added.output
    first, second = added.stdout.strip().splitlines()
    assert first.startswith("add a DNS TXT record  _kameng.cards.example.net  ")
    assert second == "then: flask --app wsgi tenants verify-domain alpha cards.example.net"
    assert browser_for("cards.example.net").get("/").status_code == 404

    verified = cli("tenants", "verify-domain", "alpha", "cards.example.net", "--skip-dns")

    assert verified.exit_code == 0, verified.output
    assert verified.stdout.strip() == "verified cards.example.net: alpha answers there now"
    home = browser_for("cards.example.net").get("/")
    assert home.status_code == 200
    assert "Alpha Cards" in home.get_data(as_text=True)


def test_add_domain_refuses_a_bad_or_taken_host(app, cli):
    create(cli)
    create(cli, slug="bravo", name="Bravo", email="b@example.com")
    cli("tenants", "add-domain", "alpha", "cards.example.net")
    before = counts(app)

    assert_one_line_error(cli("tenants", "add-domain", "bravo", "cards.example.net"), "already")
    assert_one_line_error(cli("tenants", "add-domain", "alpha", "bad host!"), "valid host")
    assert counts(app) == before


def test_verify_domain_refuses_a_domain_of_another_shop(app, cli, browser_for):
    create(cli)
    create(cli, slug="bravo", name="Bravo", email="b@example.com")
    cli("tenants", "add-domain", "alpha", "cards.example.net")

    result = cli("tenants", "verify-domain", "bravo", "cards.example.net", "--skip-dns")

    assert_one_line_error(result, "No domain 'cards.example.net'")
    assert browser_for("cards.example.net").get("/").status_code == 404


# --- admin create -------------------------------------------------------------


def test_admin_create_with_a_password_makes_a_platform_owner(app, cli, platform):
    result = cli("admin", "create", "Root@Example.com", "--password", PASSWORD)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "platform owner root@example.com"
    platform.submit("/login", {"email": "root@example.com", "password": PASSWORD})
    assert platform.get("/admin").status_code == 200


def test_admin_create_asks_for_the_password_twice(app, cli, platform):
    result = cli("admin", "create", "root@example.com", input=f"{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert "Password" in result.output and "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output  # typed blind
    platform.submit("/login", {"email": "root@example.com", "password": PASSWORD})
    assert platform.get("/admin").status_code == 200


def test_admin_create_promotes_an_existing_operator(app, cli, platform):
    create(cli)
    result = cli("admin", "create", "owner@example.com", "--password", "a-new-password")

    assert result.exit_code == 0
    assert counts(app)["PlatformUser"] == 1
    platform.submit("/login", {"email": "owner@example.com", "password": "a-new-password"})
    assert platform.get("/admin").status_code == 200


@pytest.mark.parametrize(
    "args,needle",
    [
        (["not-an-email", "--password", PASSWORD], "email address is not valid"),
        (["root@example.com", "--password", "short"], "at least 8 characters"),
    ],
    ids=["bad-email", "short-password"],
)
def test_admin_create_refuses_bad_input_and_creates_nothing(app, cli, args, needle):
    assert_one_line_error(cli("admin", "create", *args), needle)
    assert counts(app)["PlatformUser"] == 0


def test_admin_create_gives_up_when_the_passwords_typed_differ(app, cli):
    result = cli("admin", "create", "root@example.com", input=f"{PASSWORD}\nsomething-else\n")
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert counts(app)["PlatformUser"] == 0


# --- demo seed ------------------------------------------------------------------


def test_demo_seed_builds_the_demo_shop_and_is_idempotent(app, cli, browser_for, platform):
    first = cli("demo", "seed")
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "demo shop ready"
    after_first = counts(app)
    # the demo shop and ``supply``; the admin and each shop's owner
    assert after_first["Tenant"] == 2 and after_first["PlatformUser"] == 3
    assert after_first["ShopAccount"] == 3  # the buyer, the agent, the demo's account at supply

    second = cli("demo", "seed")

    assert second.exit_code == 0, second.output
    assert counts(app) == after_first
    shop = browser_for("demo.localhost")
    assert shop.get("/").status_code == 200
    buyer = shop.submit(
        "/account/login", {"email": "buyer@example.com", "password": "buyer-password"}
    )
    assert buyer.location == "/account/"
    owner = browser_for("demo.localhost").submit(
        "/console/login", {"email": "owner@example.com", "password": "demo-password"}
    )
    assert owner.location == "/console/"
    platform.submit("/login", {"email": "admin@example.com", "password": "admin-password"})
    assert platform.get("/admin").status_code == 200


# --- worker ----------------------------------------------------------------------


def test_worker_refuses_an_unknown_queue(cli):
    result = cli("worker", "--queues", "default,nosuch")
    assert_one_line_error(result, "unknown queue(s): nosuch", "known: ")
