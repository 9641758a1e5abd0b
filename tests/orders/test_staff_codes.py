"""Delivered codes are the owner's: a staff member sees them only while the
owner allows it, on every way an order reaches them (the console's order
page, the audited reveal, the API with their session or their API key),
and never gets the lookup token that would open the buyer's page instead."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.factories import bearer, run_in_shop
from tests.orders.support import order_id, pay, placed, view

pytestmark = pytest.mark.critical

STAFF = "staff@example.com"


def _text(response) -> str:
    return response.get_data(as_text=True)


def _signed_in(browser_for, host: str, email: str):
    browser = browser_for(host)
    browser.client.set_cookie("lang", "en", domain=host)
    response = browser.submit("/console/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, _text(response)
    return browser


@pytest.fixture
def delivered(app, card_shop, browser_for) -> dict:
    """A guest's delivered order of ``card_shop`` and the codes it got."""
    from app.orders import fulfilment

    guest = browser_for(card_shop.host)
    order = placed(guest, card_shop.product_id)
    assert pay(guest, order).status_code == 200
    ident = order_id(app, card_shop.shop, order["number"])
    assert run_in_shop(app, card_shop.shop, fulfilment.fulfil, ident) == "delivered"
    got = [c["code"] for c in view(guest, order).get_json()["codes"]]
    assert got
    return {"number": order["number"], "token": order["lookup_token"], "codes": got}


@pytest.fixture
def staff(card_shop, make_member, make_api_key, browser_for):
    """A staff member of ``card_shop``: the membership, a console session and
    an API key the member made."""
    member = make_member(card_shop.shop, STAFF, "staff")
    key = make_api_key(card_shop.shop, "staff", "staff's key", made_by=member.user_id)
    browser = _signed_in(browser_for, card_shop.host, STAFF)
    return {"member": member, "browser": browser, "key": key}


@pytest.fixture
def owner(card_shop, browser_for):
    return _signed_in(browser_for, card_shop.host, card_shop.shop.owner_email)


def _set_grant(owner, member, allowed: bool) -> None:
    """The owner allows (or stops) a member seeing codes, on the Staff page."""
    response = owner.submit(
        "/console/staff",
        {"allow": "1" if allowed else "0"},
        action=f"/console/staff/{member.id}/codes",
    )
    assert response.status_code == 302 and response.location == "/console/staff"


def _api(browser, number: str, key: str | None = None):
    headers = bearer(key) if key else {}
    response = browser.get(f"/api/v1/orders/{number}", headers=headers)
    assert response.status_code == 200, _text(response)
    return response.get_json()


def _codes_viewed(app, shop) -> int:
    from sqlalchemy import func, select

    from app.audit.models import AuditEvent
    from app.extensions import db

    return run_in_shop(
        app,
        shop,
        lambda: db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "order.codes_viewed")
        ),
    )


def _assert_hidden(body: dict, order: dict) -> None:
    assert "codes" not in body and "lookup_token" not in body
    assert body["codes_withheld"] is True
    assert order["token"] not in str(body)
    assert "t=" not in body["links"]["page"]


def _assert_shown(body: dict, order: dict) -> None:
    assert [c["code"] for c in body["codes"]] == order["codes"]
    assert body["lookup_token"] == order["token"]
    assert body["codes_withheld"] is False


def test_staff_without_the_grant_see_no_codes_anywhere(app, card_shop, delivered, staff):
    browser, number = staff["browser"], delivered["number"]
    page = f"/console/orders/{number}"

    shown = _text(browser.get(page))
    reveal = browser.submit(page, {}, action=f"{page}/codes")
    by_session = _api(browser, number)
    by_key = _api(browser, number, staff["key"])

    assert "The codes of orders are hidden from you" in shown
    assert "Only the shop's owner can grant you access" in shown
    assert "Show codes (recorded)" not in shown
    assert reveal.status_code == 403
    for text in (shown, _text(reveal)):
        assert not any(code in text for code in delivered["codes"])
        assert delivered["token"] not in text
    _assert_hidden(by_session, delivered)
    _assert_hidden(by_key, delivered)
    assert _codes_viewed(app, card_shop.shop) == 0
    me = browser.get("/api/v1/me").get_json()
    assert "orders.view" in me["permissions"] and "orders.codes" not in me["permissions"]


def test_staff_the_owner_allows_see_codes_on_the_record(app, card_shop, delivered, staff, owner):
    browser, number = staff["browser"], delivered["number"]
    page = f"/console/orders/{number}"
    _set_grant(owner, staff["member"], True)

    shown = _text(browser.get(page))
    revealed = _text(browser.submit(page, {}, action=f"{page}/codes"))

    assert "Show codes (recorded)" in shown and "hidden from you" not in shown
    assert all(code in revealed for code in delivered["codes"])
    _assert_shown(_api(browser, number), delivered)
    _assert_shown(_api(browser, number, staff["key"]), delivered)
    assert _codes_viewed(app, card_shop.shop) == 3


def test_revoking_the_grant_hides_the_codes_at_the_next_request(
    app, card_shop, delivered, staff, owner
):
    browser, number = staff["browser"], delivered["number"]
    page = f"/console/orders/{number}"
    _set_grant(owner, staff["member"], True)
    _assert_shown(_api(browser, number, staff["key"]), delivered)

    _set_grant(owner, staff["member"], False)

    assert browser.submit(page, {}, action=f"{page}/codes").status_code == 403
    assert "hidden from you" in _text(browser.get(page))
    _assert_hidden(_api(browser, number), delivered)
    _assert_hidden(_api(browser, number, staff["key"]), delivered)


def test_the_owner_always_sees_codes(app, card_shop, delivered, owner, make_api_key):
    number = delivered["number"]
    page = f"/console/orders/{number}"
    owner_key = make_api_key(card_shop.shop, "owner", made_by=card_shop.shop.owner_id)

    revealed = _text(owner.submit(page, {}, action=f"{page}/codes"))

    assert all(code in revealed for code in delivered["codes"])
    _assert_shown(_api(owner, number), delivered)
    _assert_shown(_api(owner, number, owner_key), delivered)


def test_a_staff_key_sees_codes_only_through_a_granted_staff_maker(
    app, card_shop, delivered, staff, owner, make_api_key, browser_for
):
    """A staff key made by the owner, or from the command line, belongs to no
    staff member the owner granted: it never sees codes, even while some
    staff member has the grant."""
    by_owner = make_api_key(card_shop.shop, "staff", made_by=card_shop.shop.owner_id)
    by_cli = make_api_key(card_shop.shop, "staff")
    _set_grant(owner, staff["member"], True)
    client = browser_for(card_shop.host)

    for key in (by_owner, by_cli):
        _assert_hidden(_api(client, delivered["number"], key), delivered)
    _assert_shown(_api(client, delivered["number"], staff["key"]), delivered)


def test_actions_answer_without_codes_or_token_for_staff_without_the_grant(
    app, card_shop, delivered, staff
):
    """The operator's actions answer with the order too: a refund by staff
    without the grant carries neither the codes nor the lookup token."""
    client = staff["browser"]
    response = client.post(
        f"/api/v1/orders/{delivered['number']}/refund",
        json={"to": "original"},
        headers=bearer(staff["key"]),
    )

    assert response.status_code == 200, _text(response)
    body = response.get_json()
    assert body["status"] == "refunded"
    _assert_hidden(body, delivered)
