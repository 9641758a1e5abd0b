"""Supply credentials: the service, its operator API and the console page
(``/console/supply/credentials``)."""

from __future__ import annotations

import pytest

from app.supply import credentials
from tests.console.support import audit_trail, console, text_of
from tests.factories import assert_problem, run_in_shop
from tests.supply.support import issue


@pytest.fixture
def alpha(make_shop, make_account):
    shop = make_shop("alpha", key_role="owner", staff_key=True)
    make_account(shop, "agent@alpha.example.com", "agent")
    return shop


# --- the service ----------------------------------------------------------


def test_an_issued_secret_is_sealed_and_unsealed_for_the_key(app, alpha):
    made = issue(app, alpha, "agent@alpha.example.com")
    assert made["key_id"].startswith("ks_") and len(made["secret"]) >= 40

    def stored():
        row = credentials.credential_for_key(made["key_id"])
        return made["secret"].encode() not in bytes(row.secret), credentials.secret_of(row)

    sealed, unsealed = run_in_shop(app, alpha, stored)
    assert sealed and unsealed == made["secret"]
    actions = [a for _, a, _, _ in audit_trail(app, alpha)]
    assert "supply_credential.issued" in actions


@pytest.mark.parametrize(
    "url",
    [
        "http://partner.example.com/cb",
        "ftp://partner.example.com/cb",
        "https://",
        "https://user:pw@partner.example.com/cb",
        "https://partner.example.com/" + "a" * 300,
        "javascript:alert(1)",
    ],
)
def test_bad_callback_urls_are_refused(app, alpha, url):
    from app.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        issue(app, alpha, "agent@alpha.example.com", callback_url=url)
    assert "callback_url" in refused.value.errors


def test_good_callback_urls_are_kept(app, alpha):
    for url in ("https://partner.example.com/kameng", "http://localhost:8080/cb"):
        made = issue(app, alpha, "agent@alpha.example.com", callback_url=url)
        row = run_in_shop(
            app, alpha, lambda m=made: credentials.get_credential(m["id"]).credential.callback_url
        )
        assert row == url


def test_an_unknown_account_is_refused(app, alpha):
    from app.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        issue(app, alpha, "nobody@alpha.example.com")
    assert "email" in refused.value.errors


def test_a_shop_holds_at_most_max_credentials(app, alpha):
    from app.supply.models import MAX_CREDENTIALS

    def fill() -> list:
        return [
            credentials.issue_credential(
                email="agent@alpha.example.com", name=f"p{n}", actor="test"
            ).credential.id
            for n in range(MAX_CREDENTIALS)
        ]

    made = run_in_shop(app, alpha, fill)
    with pytest.raises(credentials.TooManyCredentials):
        issue(app, alpha, "agent@alpha.example.com")
    run_in_shop(app, alpha, lambda: credentials.revoke_credential(made[0], actor="test"))
    issue(app, alpha, "agent@alpha.example.com")


# --- the operator API -----------------------------------------------------


def test_the_owner_issues_lists_and_revokes_through_the_api(browser_for, app, alpha):
    api = browser_for(alpha.host)
    made = api.post(
        "/api/v1/supply/credentials",
        json={"email": "agent@alpha.example.com", "name": "partner"},
        headers=alpha.headers(),
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    body = made.get_json()
    assert body["key_id"].startswith("ks_") and body["secret"]
    assert body["email"] == "agent@alpha.example.com"

    listed = api.get("/api/v1/supply/credentials", headers=alpha.headers()).get_json()
    assert listed["total"] == 1 and "secret" not in listed["items"][0]

    patched = api.patch(
        f"/api/v1/supply/credentials/{body['id']}",
        json={"callback_url": "http://partner.example.com/x"},
        headers=alpha.headers(),
    )
    assert_problem(patched, 422, "validation-failed")
    patched = api.patch(
        f"/api/v1/supply/credentials/{body['id']}",
        json={"callback_url": "https://partner.example.com/x"},
        headers=alpha.headers(),
    )
    assert patched.status_code == 200
    assert patched.get_json()["callback_url"] == "https://partner.example.com/x"

    gone = api.delete(f"/api/v1/supply/credentials/{body['id']}", headers=alpha.headers())
    assert gone.status_code == 204
    listed = api.get("/api/v1/supply/credentials", headers=alpha.headers()).get_json()
    assert listed["items"][0]["revoked_at"]


def test_the_owner_opens_and_closes_the_supply_api(browser_for, app, alpha):
    api = browser_for(alpha.host)
    assert api.get("/api/v1/shop/supply", headers=alpha.headers()).get_json() == {"open": False}
    opened = api.patch("/api/v1/shop/supply", json={"open": True}, headers=alpha.headers())
    assert opened.status_code == 200 and opened.get_json() == {"open": True}
    assert run_in_shop(app, alpha, credentials.supply_open) is True
    actions = [a for _, a, _, _ in audit_trail(app, alpha)]
    assert actions.count("supply.opened") == 1


def test_staff_keys_read_but_do_not_change(browser_for, app, alpha):
    api = browser_for(alpha.host)
    staff = {"Authorization": f"Bearer {alpha.staff_key}"}
    assert api.get("/api/v1/supply/credentials", headers=staff).status_code == 200
    refused = api.post(
        "/api/v1/supply/credentials",
        json={"email": "agent@alpha.example.com", "name": "partner"},
        headers=staff,
    )
    assert_problem(refused, 403)
    assert_problem(api.patch("/api/v1/shop/supply", json={"open": True}, headers=staff), 403)


def test_another_shops_credentials_are_not_found(browser_for, app, alpha, make_shop):
    bravo = make_shop("bravo", key_role="owner")
    made = issue(app, alpha, "agent@alpha.example.com")
    api = browser_for(bravo.host)
    assert_problem(
        api.delete(f"/api/v1/supply/credentials/{made['id']}", headers=bravo.headers()), 404
    )
    listed = api.get("/api/v1/supply/credentials", headers=bravo.headers()).get_json()
    assert listed["total"] == 0
    assert_problem(api.delete("/api/v1/supply/credentials/nope", headers=bravo.headers()), 404)


# --- the console page -----------------------------------------------------

PAGE = "/console/supply/credentials"


def test_the_owner_issues_a_credential_and_sees_its_secret_once(browser_for, app, alpha):
    owner = console(browser_for, alpha.host, alpha.owner_email)
    page = owner.get(PAGE)
    assert page.status_code == 200
    assert "Closed" in text_of(page)

    issued = owner.submit(
        PAGE, {"email": "agent@alpha.example.com", "name": "partner shop", "callback_url": ""}
    )
    assert issued.status_code == 200
    shown = text_of(issued)
    assert "Copy the secret now" in shown
    row = run_in_shop(app, alpha, lambda: credentials.list_credentials()[0][0].credential)
    assert row.key_id in shown
    secret = run_in_shop(
        app, alpha, lambda: credentials.secret_of(credentials.credential_for_key(row.key_id))
    )
    assert secret in shown
    again = text_of(owner.get(PAGE))
    assert row.key_id in again and secret not in again


def test_a_bad_form_keeps_what_was_typed_and_says_why(browser_for, app, alpha):
    owner = console(browser_for, alpha.host, alpha.owner_email)
    refused = owner.submit(
        PAGE,
        {
            "email": "nobody@alpha.example.com",
            "name": "my partner",
            "callback_url": "https://partner.example.com/cb",
        },
    )
    assert refused.status_code == 422
    shown = text_of(refused)
    assert "No active account of this shop has that email." in shown
    assert 'value="my partner"' in shown and "https://partner.example.com/cb" in shown
    bad_url = owner.submit(
        PAGE,
        {
            "email": "agent@alpha.example.com",
            "name": "my partner",
            "callback_url": "http://partner.example.com/cb",
        },
    )
    assert bad_url.status_code == 422
    assert "must start with https://" in text_of(bad_url)
    assert run_in_shop(app, alpha, lambda: credentials.list_credentials()[1]) == 0


def test_the_owner_opens_closes_and_revokes(browser_for, app, alpha):
    owner = console(browser_for, alpha.host, alpha.owner_email)
    token = owner.csrf_token(PAGE)
    opened = owner.post("/console/supply/open", data={"csrf_token": token, "open": "1"})
    assert opened.status_code == 302
    assert run_in_shop(app, alpha, credentials.supply_open) is True
    assert "Open" in text_of(owner.get(PAGE))
    owner.post("/console/supply/open", data={"csrf_token": token, "open": "0"})
    assert run_in_shop(app, alpha, credentials.supply_open) is False

    made = issue(app, alpha, "agent@alpha.example.com")
    page = text_of(owner.get(PAGE))
    assert "Revoke it?" in page
    revoked = owner.post(
        f"/console/supply/credentials/{made['id']}/revoke", data={"csrf_token": token}
    )
    assert revoked.status_code == 302
    assert run_in_shop(app, alpha, lambda: credentials.credential_for_key(made["key_id"])) is None
    assert "Revoked" in text_of(owner.get(PAGE))


def test_a_stranger_is_sent_to_sign_in(browser_for, alpha):
    answer = browser_for(alpha.host).get(PAGE)
    assert answer.status_code == 302 and "/console/login" in answer.headers["Location"]


def test_another_shops_owner_cannot_open_the_page_or_revoke(browser_for, app, alpha, make_shop):
    bravo = make_shop("bravo")
    made = issue(app, alpha, "agent@alpha.example.com")
    intruder = console(browser_for, bravo.host, bravo.owner_email)
    there = intruder.on(alpha.host)
    assert there.get(PAGE).status_code in (302, 403, 404)
    own = intruder.get(PAGE)
    assert own.status_code == 200 and made["key_id"] not in text_of(own)
    token = intruder.csrf_token(PAGE)
    revoked = intruder.post(
        f"/console/supply/credentials/{made['id']}/revoke", data={"csrf_token": token}
    )
    assert revoked.status_code == 404
    callback = intruder.post(
        f"/console/supply/credentials/{made['id']}/callback",
        data={"csrf_token": token, "callback_url": "https://evil.example.com/"},
    )
    assert callback.status_code == 404
    kept = run_in_shop(app, alpha, lambda: credentials.credential_for_key(made["key_id"]))
    assert kept is not None and kept.callback_url is None


def test_staff_see_the_page_but_change_nothing(browser_for, app, alpha, make_member):
    member = make_member(alpha, "staff@alpha.example.com")
    made = issue(app, alpha, "agent@alpha.example.com")
    staff = console(browser_for, alpha.host, member.email)
    page = staff.get(PAGE)
    assert page.status_code == 200
    shown = text_of(page)
    assert (
        made["key_id"] in shown and "Issue a credential" not in shown and "Revoke it?" not in shown
    )
    token = staff.csrf_token("/console/")
    refused = staff.post(
        PAGE, data={"csrf_token": token, "email": "agent@alpha.example.com", "name": "x"}
    )
    assert refused.status_code == 403
    assert (
        staff.post("/console/supply/open", data={"csrf_token": token, "open": "1"}).status_code
        == 403
    )
    revoke = staff.post(
        f"/console/supply/credentials/{made['id']}/revoke", data={"csrf_token": token}
    )
    assert revoke.status_code == 403
    assert run_in_shop(app, alpha, credentials.supply_open) is False


def test_the_owner_sets_a_callback_url_and_a_bad_one_is_kept_as_typed(browser_for, app, alpha):
    made = issue(app, alpha, "agent@alpha.example.com")
    owner = console(browser_for, alpha.host, alpha.owner_email)
    token = owner.csrf_token(PAGE)
    action = f"/console/supply/credentials/{made['id']}/callback"
    refused = owner.post(
        action, data={"csrf_token": token, "callback_url": "http://partner.example.com/cb"}
    )
    assert refused.status_code == 422
    shown = text_of(refused)
    assert "must start with https://" in shown and 'value="http://partner.example.com/cb"' in shown

    saved = owner.post(
        action, data={"csrf_token": token, "callback_url": "https://partner.example.com/cb"}
    )
    assert saved.status_code == 302

    def stored():
        return credentials.get_credential(made["id"]).credential.callback_url

    assert run_in_shop(app, alpha, stored) == "https://partner.example.com/cb"
    owner.post(action, data={"csrf_token": token, "callback_url": ""})
    assert run_in_shop(app, alpha, stored) is None
    actions = [a for _, a, _, _ in audit_trail(app, alpha)]
    assert actions.count("supply_credential.callback") == 2
