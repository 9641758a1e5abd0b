"""Operator API keys: shown once, stored only as a digest, revocable, and
limited by their role."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import select

from app.accounts.models import ApiKey
from app.extensions import db
from tenants.context import all_tenants
from tests.accounts.support import in_english, text_of
from tests.conftest import PASSWORD

KEY_SHAPE = re.compile(r"^km_([0-9a-f]{8})_[A-Za-z0-9_-]{40,}$")


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def stored_keys(app) -> list[dict]:
    """Every column of every stored key, as text."""
    with app.app_context(), all_tenants():
        rows = db.session.execute(select(ApiKey.__table__).order_by(ApiKey.id)).mappings().all()
        return [{k: str(v) for k, v in row.items()} for row in rows]


def assert_not_stored(app, plaintext: str) -> None:
    secret = plaintext.split("_", 2)[2]
    for row in stored_keys(app):
        for column, value in row.items():
            assert plaintext not in value and secret not in value, column


@pytest.fixture
def alpha(make_shop, make_api_key):
    shop = make_shop("alpha")
    return {"tenant": shop, "key": make_api_key(shop)}


@pytest.fixture
def api(browser_for):
    return browser_for("alpha.localhost")


@pytest.fixture
def console(browser_for, alpha):
    browser = in_english(browser_for("alpha.localhost"))
    response = browser.submit(
        "/console/login", {"email": "owner@alpha.example.com", "password": PASSWORD}
    )
    assert response.location == "/console/"
    return browser


def test_a_key_created_through_the_api_is_shown_once_and_stored_as_a_digest(app, api, alpha):
    created = api.post(
        "/api/v1/api-keys",
        json={"name": "stock sync", "role": "staff"},
        headers=bearer(alpha["key"]),
    )

    assert created.status_code == 201
    body = created.get_json()
    plaintext = body["key"]
    prefix = KEY_SHAPE.match(plaintext).group(1)
    assert body["prefix"] == prefix
    assert body["name"] == "stock sync" and body["role"] == "staff"
    assert body["revoked_at"] is None and body["created_at"]

    listing = api.get("/api/v1/api-keys", headers=bearer(alpha["key"]))
    assert plaintext not in listing.get_data(as_text=True)
    [listed] = [k for k in listing.get_json()["items"] if k["id"] == body["id"]]
    assert listed["prefix"] == prefix and "key" not in listed

    assert_not_stored(app, plaintext)
    [row] = [r for r in stored_keys(app) if r["prefix"] == prefix]
    assert row["key_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()

    me = api.get("/api/v1/me", headers=bearer(plaintext))
    assert me.status_code == 200
    who = me.get_json()
    assert (who["kind"], who["id"], who["email"], who["roles"]) == (
        "api_key",
        body["id"],
        None,
        ["staff"],
    )
    assert "accounts.view" in who["permissions"]
    assert "apikeys.manage" not in who["permissions"]


def test_a_key_created_in_the_console_is_shown_once(app, console, api):
    page = console.submit("/console/api-keys", {"name": "my integration"})

    assert page.status_code == 200
    text = text_of(page)
    assert "Copy the key now" in text
    plaintext = re.search(r'<code id="new-key">([^<]+)</code>', text).group(1)
    prefix = KEY_SHAPE.match(plaintext).group(1)

    again = text_of(console.get("/console/api-keys"))
    assert plaintext not in again
    assert f"km_{prefix}_…" in again
    assert "my integration" in again
    assert_not_stored(app, plaintext)
    assert api.get("/api/v1/me", headers=bearer(plaintext)).status_code == 200


def test_a_key_without_a_name_is_not_created_in_the_console(app, console, alpha):
    before = len(stored_keys(app))
    page = console.submit("/console/api-keys", {"name": ""})
    assert page.status_code == 200
    assert 'id="new-key"' not in page.get_data(as_text=True)
    assert len(stored_keys(app)) == before


def test_a_revoked_key_stops_working_at_once(api, alpha):
    created = api.post("/api/v1/api-keys", json={"name": "temp"}, headers=bearer(alpha["key"]))
    temp, temp_id = created.get_json()["key"], created.get_json()["id"]
    assert api.get("/api/v1/me", headers=bearer(temp)).status_code == 200

    revoked = api.delete(f"/api/v1/api-keys/{temp_id}", headers=bearer(alpha["key"]))

    assert revoked.status_code == 200
    assert revoked.get_json()["revoked_at"]
    refused = api.get("/api/v1/me", headers=bearer(temp))
    assert refused.status_code == 401
    assert "revoked" in refused.get_json()["detail"]
    # Revoking again changes nothing and says so the same way.
    again = api.delete(f"/api/v1/api-keys/{temp_id}", headers=bearer(alpha["key"]))
    assert again.status_code == 200
    assert again.get_json()["revoked_at"] == revoked.get_json()["revoked_at"]


def test_a_key_revoked_in_the_console_stops_working(console, api, alpha):
    listing = console.get("/console/api-keys").get_data(as_text=True)
    action = re.search(r'action="(/console/api-keys/[^"]+/revoke)"', listing).group(1)

    response = console.post(action, data={"csrf_token": console.csrf_token("/console/api-keys")})

    assert response.status_code == 302
    assert "is revoked" in text_of(console.get("/console/api-keys"))
    assert api.get("/api/v1/me", headers=bearer(alpha["key"])).status_code == 401


def test_a_key_can_revoke_itself(api, alpha):
    me = api.get("/api/v1/me", headers=bearer(alpha["key"])).get_json()
    assert (
        api.delete(f"/api/v1/api-keys/{me['id']}", headers=bearer(alpha["key"])).status_code == 200
    )
    assert api.get("/api/v1/me", headers=bearer(alpha["key"])).status_code == 401


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "/api/v1/api-keys", None),
        ("POST", "/api/v1/api-keys", {"name": "promote me", "role": "owner"}),
        ("POST", "/api/v1/api-keys", {"name": "another staff", "role": "staff"}),
        ("DELETE", "/api/v1/api-keys/{owner_key_id}", None),
    ],
)
def test_a_staff_key_cannot_manage_keys(app, api, alpha, make_api_key, method, path, body):
    staff = make_api_key(alpha["tenant"], "staff")
    owner_key_id = api.get("/api/v1/me", headers=bearer(alpha["key"])).get_json()["id"]
    before = stored_keys(app)

    response = api.open(
        method, path.format(owner_key_id=owner_key_id), json=body, headers=bearer(staff)
    )

    assert response.status_code == 403
    assert response.get_json()["type"].endswith("/forbidden")
    after = stored_keys(app)
    assert [(r["id"], r["revoked_at"]) for r in after] == [
        (r["id"], r["revoked_at"]) for r in before
    ]
    assert api.get("/api/v1/me", headers=bearer(alpha["key"])).status_code == 200


def test_using_a_key_records_when_it_was_last_used(api, alpha):
    def last_used():
        keys = api.get("/api/v1/api-keys", headers=bearer(alpha["key"])).get_json()["items"]
        return keys[0]["last_used_at"]

    assert last_used() is not None  # this very listing used it


@pytest.mark.critical
def test_an_api_key_does_not_open_the_console_pages(api, alpha):
    for path in ("/console/", "/console/api-keys", "/console/accounts"):
        response = api.get(path, headers=bearer(alpha["key"]))
        assert response.status_code == 302, path
        assert response.location.startswith("/console/login")


def test_pages_ignore_a_proxys_basic_credentials(browser_for, platform, alpha):
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    assert browser_for("alpha.localhost").get("/", headers=basic).status_code == 200
    assert platform.get("/", headers=basic).status_code == 200
    assert platform.get("/login", headers=basic).status_code == 200


@pytest.mark.critical
def test_the_console_cannot_revoke_another_shops_key(
    app, console, make_shop, make_api_key, browser_for
):
    bravo = make_shop("bravo")
    bravo_key = make_api_key(bravo)
    at_bravo = browser_for("bravo.localhost")
    bravo_key_id = at_bravo.get("/api/v1/me", headers=bearer(bravo_key)).get_json()["id"]

    response = console.post(
        f"/console/api-keys/{bravo_key_id}/revoke",
        data={"csrf_token": console.csrf_token("/console/api-keys")},
    )

    assert response.status_code == 404
    assert at_bravo.get("/api/v1/me", headers=bearer(bravo_key)).status_code == 200
    assert bravo_key_id not in console.get("/console/api-keys").get_data(as_text=True)


def test_a_key_dies_with_its_makers_membership(app, console, api, alpha):
    """The owner who made a key is demoted: their owner key stops at once;
    they leave the shop: it stays dead. A key made from the command line
    (no maker) is not affected."""
    from sqlalchemy import delete, update

    from app.accounts.models import Membership, PlatformUser

    page = console.submit("/console/api-keys", {"name": "made by the owner"})
    made = re.search(r'<code id="new-key">([^<]+)</code>', text_of(page)).group(1)
    assert api.get("/api/v1/me", headers=bearer(made)).status_code == 200

    with app.app_context(), all_tenants():
        owner = db.session.scalar(
            select(PlatformUser.id).where(PlatformUser.email == "owner@alpha.example.com")
        )
        db.session.execute(
            update(Membership).where(Membership.user_id == owner).values(role="staff")
        )
        db.session.commit()
    demoted = api.get("/api/v1/me", headers=bearer(made))

    with app.app_context(), all_tenants():
        db.session.execute(delete(Membership).where(Membership.user_id == owner))
        db.session.commit()
    gone = api.get("/api/v1/me", headers=bearer(made))

    assert demoted.status_code == 401 and gone.status_code == 401
    assert api.get("/api/v1/me", headers=bearer(alpha["key"])).status_code == 200
