"""The console's Staff page: the owner allows a staff member to see
delivered codes, or stops it; each change is on the audit record, only the
owner makes it, and only for the members of their own shop."""

from __future__ import annotations

import pytest

from tests.accounts.support import in_english, text_of
from tests.conftest import PASSWORD
from tests.factories import run_in_shop

pytestmark = pytest.mark.critical

STAFF = "staff@example.com"


def console(browser_for, host: str, email: str):
    browser = in_english(browser_for(host))
    response = browser.submit("/console/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, text_of(response)
    return browser


def set_grant(browser, member_id, allowed: bool):
    return browser.submit(
        "/console/staff",
        {"allow": "1" if allowed else "0"},
        action=f"/console/staff/{member_id}/codes",
    )


def grant_of(app, shop, member_id) -> bool:
    from app.accounts.members import get_member

    return run_in_shop(app, shop, lambda: get_member(member_id).can_view_codes)


def audit_trail(app, shop) -> list[tuple[str, str, str]]:
    from sqlalchemy import select

    from app.audit.models import AuditEvent
    from app.extensions import db

    return run_in_shop(
        app,
        shop,
        lambda: [
            (e.actor, e.action, e.subject)
            for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.created_at))
        ],
    )


def permissions_of(browser) -> list[str]:
    return browser.get("/api/v1/me").get_json()["permissions"]


def test_the_owner_allows_and_stops_a_staff_member_seeing_codes_on_the_record(
    app, make_shop, make_member, browser_for
):
    shop = make_shop("alpha")
    member = make_member(shop, STAFF, "staff")
    owner = console(browser_for, shop.host, shop.owner_email)
    staff = console(browser_for, shop.host, STAFF)

    before = text_of(owner.get("/console/staff"))
    granted = set_grant(owner, member.id, True)
    after_grant = text_of(owner.get("/console/staff"))
    staff_granted = permissions_of(staff)
    set_grant(owner, member.id, False)
    after_revoke = text_of(owner.get("/console/staff"))

    assert STAFF in before and shop.owner_email in before
    assert "Allow codes" in before and "hidden" in before
    assert granted.status_code == 302 and granted.location == "/console/staff"
    assert f"{STAFF} can now see delivered codes." in after_grant
    assert "Hide codes" in after_grant and "allowed" in after_grant
    assert "orders.codes" in staff_granted
    assert f"{STAFF} can no longer see delivered codes." in after_revoke
    assert "orders.codes" not in permissions_of(staff)
    assert grant_of(app, shop, member.id) is False
    actor = f"operator {shop.owner_email}"
    assert audit_trail(app, shop) == [
        (actor, "member.codes_granted", f"member:{member.id}"),
        (actor, "member.codes_revoked", f"member:{member.id}"),
    ]


def test_setting_the_grant_it_already_has_records_nothing(app, make_shop, make_member, browser_for):
    shop = make_shop("alpha")
    member = make_member(shop, STAFF, "staff")
    owner = console(browser_for, shop.host, shop.owner_email)

    set_grant(owner, member.id, False)
    set_grant(owner, member.id, True)
    set_grant(owner, member.id, True)

    assert [action for _, action, _ in audit_trail(app, shop)] == ["member.codes_granted"]


def test_staff_cannot_grant_codes_to_themselves_or_another(
    app, make_shop, make_member, browser_for
):
    shop = make_shop("alpha")
    me = make_member(shop, STAFF, "staff")
    colleague = make_member(shop, "colleague@example.com", "staff")
    staff = console(browser_for, shop.host, STAFF)

    page = text_of(staff.get("/console/staff"))
    refused = [set_grant(staff, who.id, True) for who in (me, colleague)]

    assert STAFF in page and "Allow codes" not in page
    assert [r.status_code for r in refused] == [403, 403]
    assert grant_of(app, shop, me.id) is False and grant_of(app, shop, colleague.id) is False
    assert audit_trail(app, shop) == []
    assert "orders.codes" not in permissions_of(staff)


def test_the_owners_own_membership_has_no_grant_to_change(app, make_shop, browser_for):
    from sqlalchemy import select

    from app.accounts.models import Membership
    from app.extensions import db

    shop = make_shop("alpha")
    owner = console(browser_for, shop.host, shop.owner_email)
    owner_member = run_in_shop(app, shop, lambda: db.session.scalar(select(Membership.id)))

    response = set_grant(owner, owner_member, False)

    assert response.status_code == 302
    assert "The owner always sees codes" in text_of(owner.get("/console/staff"))
    assert audit_trail(app, shop) == []
    assert "orders.codes" in permissions_of(owner)


def test_an_owner_cannot_change_a_membership_of_another_shop(
    app, make_shop, make_member, browser_for
):
    """The owner of alpha, who is also staff at bravo, can change no
    membership of bravo: not from alpha's console (404, as if it did not
    exist), not from bravo's (staff there: 403), not through the service
    in alpha's context."""
    from app.accounts.members import set_code_grant
    from app.core.errors import NotFound

    alpha = make_shop("alpha")
    bravo = make_shop("bravo")
    theirs = make_member(bravo, STAFF, "staff")
    make_member(bravo, alpha.owner_email, "staff")
    at_alpha = console(browser_for, alpha.host, alpha.owner_email)
    at_bravo = console(browser_for, bravo.host, alpha.owner_email)

    from_alpha = set_grant(at_alpha, theirs.id, True)
    from_bravo = set_grant(at_bravo, theirs.id, True)

    def in_alpha():
        with pytest.raises(NotFound):
            set_code_grant(theirs.id, True, "operator someone")

    run_in_shop(app, alpha, in_alpha)
    assert from_alpha.status_code == 404
    assert from_bravo.status_code == 403
    assert grant_of(app, bravo, theirs.id) is False
    assert audit_trail(app, alpha) == [] and audit_trail(app, bravo) == []


def test_the_members_page_speaks_chinese(app, make_shop, make_member, browser_for):
    shop = make_shop("alpha")
    member = make_member(shop, STAFF, "staff")
    owner = console(browser_for, shop.host, shop.owner_email)
    owner.client.set_cookie("lang", "zh_CN", domain=shop.host)

    page = text_of(owner.get("/console/staff"))
    set_grant(owner, member.id, True)
    after = text_of(owner.get("/console/staff"))

    assert "员工" in page and "允许查看卡密" in page
    assert "Allow codes" not in page and "Staff" not in page
    assert f"{STAFF} 现在可以查看已发货的卡密。" in after


def test_a_grant_adds_only_what_an_owner_may_grant_and_only_to_staff():
    from app.accounts.permissions import Principal, member_grants

    smuggled = Principal(
        "platform_user",
        roles=frozenset({"staff"}),
        grants=frozenset({"orders.codes", "cards.reveal", "members.manage"}),
    )

    assert smuggled.can("orders.codes")
    assert not smuggled.can("cards.reveal") and not smuggled.can("members.manage")
    assert member_grants("staff", can_view_codes=True) == {"orders.codes"}
    assert member_grants("staff", can_view_codes=False) == frozenset()
    assert member_grants("owner", can_view_codes=True) == frozenset()
    assert member_grants(None, can_view_codes=True) == frozenset()
