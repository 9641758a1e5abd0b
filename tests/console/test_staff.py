"""The console's Staff page: the members and their grant, inviting by email
(an account becomes staff at once; anyone else gets a mailed, signed,
expiring link to sign up and join), removing a staff member (their API keys
die with the membership). Only the owner changes anything; each change is
on the audit record; a page claims only what happened."""

from __future__ import annotations

import re
import socket
import time

import pytest

from tests.conftest import PASSWORD
from tests.console.support import audit_trail, console, text_of
from tests.factories import bearer, run_in_shop

pytestmark = pytest.mark.critical


@pytest.fixture
def alpha(make_shop):
    return make_shop("alpha", "Alpha Cards")


@pytest.fixture
def owner(alpha, browser_for):
    return console(browser_for, alpha.host, alpha.owner_email)


def invite(owner, email: str):
    return owner.submit("/console/staff", {"email": email}, action="/console/staff/invite")


def members_of(app, shop) -> dict[str, str]:
    from app.accounts.members import list_members

    return run_in_shop(app, shop, lambda: {m.user.email: m.role for m in list_members()})


def link_in(message) -> str:
    body = message.get_body(("plain",)).get_content()
    return re.search(r"https?://\S+/console/join/\S+", body)[0]


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def test_the_owner_sees_the_members_and_how_to_invite(alpha, owner, make_member):
    make_member(alpha, "staff@example.com", "staff")

    page = text_of(owner.get("/console/staff"))

    assert alpha.owner_email in page and "staff@example.com" in page
    assert "Invite" in page and "Remove" in page and "Allow codes" in page
    assert 'href="/console/staff"' in text_of(owner.get("/console/"))


def test_the_old_members_page_leads_to_the_staff_page(owner):
    response = owner.get("/console/members")

    assert response.status_code == 302 and response.location == "/console/staff"


def test_a_stranger_is_sent_to_sign_in(alpha, browser_for):
    stranger = browser_for(alpha.host)

    for path in ("/console/staff", "/console/members"):
        response = stranger.get(path)
        assert response.status_code == 302 and "/console/login" in response.location


def test_staff_see_the_list_but_change_nothing(app, alpha, make_member, browser_for):
    colleague = make_member(alpha, "colleague@example.com", "staff")
    make_member(alpha, "staff@example.com", "staff")
    staff = console(browser_for, alpha.host, "staff@example.com")

    page = text_of(staff.get("/console/staff"))
    invited = staff.submit(
        "/console/staff", {"email": "new@example.com"}, action="/console/staff/invite"
    )
    removed = staff.submit("/console/staff", {}, action=f"/console/staff/{colleague.id}/remove")

    assert "colleague@example.com" in page
    assert "Invite" not in page and "Remove" not in page
    assert invited.status_code == 403 and removed.status_code == 403
    assert members_of(app, alpha)["colleague@example.com"] == "staff"
    assert audit_trail(app, alpha) == []


# --- inviting -------------------------------------------------------------------


def test_someone_with_an_account_becomes_staff_at_once(app, alpha, owner, make_shop, browser_for):
    other = make_shop("bravo", owner_email="kim@example.com")  # kim has a platform account

    done = invite(owner, "Kim@Example.com")
    page = text_of(owner.get(done.location))
    kim = console(browser_for, alpha.host, "kim@example.com")

    assert done.status_code == 302
    assert "kim@example.com is staff now" in page
    assert members_of(app, alpha)["kim@example.com"] == "staff"
    assert kim.get("/console/").status_code == 200
    assert members_of(app, other) == {"kim@example.com": "owner"}
    assert [(a, s) for _, a, s, _ in audit_trail(app, alpha)][0][0] == "member.added"


def test_an_unknown_email_is_mailed_a_link_to_sign_up_and_join(
    app, alpha, owner, browser_for, mail_server
):
    done = invite(owner, "newbie@example.com")
    page = text_of(owner.get(done.location))
    waiting = text_of(owner.get("/console/staff")).split("Invitations waiting")[1]
    mail = mail_server.wait_for("newbie@example.com")
    link = link_in(mail)
    joiner = browser_for(alpha.host)
    joiner.client.set_cookie("lang", "en", domain=alpha.host)
    form = text_of(joiner.get(path_of(link)))
    joined = joiner.submit(path_of(link), {"password": PASSWORD, "confirm": PASSWORD})

    assert "Invitation mailed to newbie@example.com. The link works for 7 days." in page
    assert "newbie@example.com" in waiting
    assert "Alpha Cards" in mail["Subject"]
    assert link.startswith("http://alpha.localhost/console/join/")
    assert f"{alpha.owner_email} invited newbie@example.com" in form
    assert joined.status_code == 302 and joined.location == "/console/"
    assert "Welcome to Alpha Cards" in text_of(joiner.get("/console/"))
    assert members_of(app, alpha)["newbie@example.com"] == "staff"
    assert "Invitations waiting" not in text_of(owner.get("/console/staff"))
    actions = [(actor, action) for actor, action, _, _ in audit_trail(app, alpha)]
    assert actions == [
        (f"operator {alpha.owner_email}", "member.invited"),
        ("operator newbie@example.com", "member.joined"),
    ]
    # The link is spent: it cannot make a second account or join again.
    again = browser_for(alpha.host)
    again.client.set_cookie("lang", "en", domain=alpha.host)
    reused = again.get(path_of(link))
    assert reused.status_code == 410 and "exists already" in text_of(reused)


def test_the_join_form_says_what_is_wrong_and_creates_nothing(
    app, alpha, owner, browser_for, mail_server
):
    invite(owner, "newbie@example.com")
    path = path_of(link_in(mail_server.wait_for("newbie@example.com")))
    joiner = browser_for(alpha.host)
    joiner.client.set_cookie("lang", "en", domain=alpha.host)

    differ = text_of(joiner.submit(path, {"password": PASSWORD, "confirm": "something else"}))
    short = text_of(joiner.submit(path, {"password": "short", "confirm": "short"}))

    assert "Passwords differ." in differ
    assert "At least" in short
    assert "newbie@example.com" not in members_of(app, alpha)


def test_an_invitation_works_only_at_its_own_shop(
    app, alpha, owner, make_shop, browser_for, mail_server
):
    bravo = make_shop("bravo")
    invite(owner, "newbie@example.com")
    path = path_of(link_in(mail_server.wait_for("newbie@example.com")))

    elsewhere = browser_for(bravo.host).get(path)
    forged = browser_for(alpha.host).get(path[:-3] + "xyz")

    assert elsewhere.status_code == 404 and forged.status_code == 404
    assert members_of(app, bravo) == {bravo.owner_email: "owner"}


def test_an_expired_invitation_says_so(app, alpha, browser_for):
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    from app.accounts import invitations
    from tests.conftest import SECRET

    class EightDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 8 * 86400

    token = URLSafeTimedSerializer(SECRET, salt=invitations._SALT, signer=EightDaysAgo).dumps(
        {"s": str(alpha.id), "e": "late@example.com", "by": alpha.owner_email}
    )
    late = browser_for(alpha.host)
    late.client.set_cookie("lang", "en", domain=alpha.host)

    response = late.get(f"/console/join/{token}")
    posted = late.post(f"/console/join/{token}", data={"password": PASSWORD, "confirm": PASSWORD})

    assert response.status_code == 410
    assert "This invitation has expired" in text_of(response)
    assert posted.status_code in (400, 410)
    assert "late@example.com" not in members_of(app, alpha)


def test_a_mail_server_that_does_not_answer_is_said_and_the_link_offered(
    app, alpha, owner, monkeypatch
):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)

    response = invite(owner, "newbie@example.com")
    page = text_of(response)

    assert response.status_code == 503
    assert "The invitation could not be mailed" in page and "mailed to" not in page
    assert re.search(r"<code>http://alpha\.localhost/console/join/[^<]+</code>", page)
    assert 'value="newbie@example.com"' in page
    assert audit_trail(app, alpha) == []


@pytest.mark.parametrize(
    "email, message",
    [
        ("not an email", "That email address is not valid."),
        ("", "Type the email to invite."),
    ],
)
def test_a_bad_email_is_explained_and_kept(app, alpha, owner, email, message):
    page = text_of(invite(owner, email))

    assert message in page
    assert f'value="{email}"' in page or not email
    assert audit_trail(app, alpha) == []


def test_a_shop_sends_only_so_many_invitations_an_hour(
    app, alpha, owner, make_shop, monkeypatch, rate_limits
):
    monkeypatch.setitem(app.config, "STAFF_INVITE_RATE_LIMIT", "2 per hour")
    for slug in ("one", "two", "three"):
        make_shop(slug, owner_email=f"{slug}@example.com")

    answers = [invite(owner, f"{slug}@example.com").status_code for slug in ("one", "two", "three")]

    assert answers == [302, 302, 429]
    assert set(members_of(app, alpha)) == {alpha.owner_email, "one@example.com", "two@example.com"}


def test_inviting_a_member_again_is_explained(app, alpha, owner, make_member):
    make_member(alpha, "staff@example.com", "staff")

    page = text_of(invite(owner, "staff@example.com"))

    assert "staff@example.com is already a member of this shop." in page
    assert audit_trail(app, alpha) == []


# --- removing -------------------------------------------------------------------


def test_the_owner_removes_a_staff_member_and_their_keys_die(
    app, alpha, owner, make_member, make_api_key, browser_for
):
    member = make_member(alpha, "staff@example.com", "staff")
    key = make_api_key(alpha, "staff", "staff's key", made_by=member.user_id)
    staff = console(browser_for, alpha.host, "staff@example.com")
    assert staff.get("/api/v1/me", headers=bearer(key)).status_code == 200

    page = text_of(owner.get("/console/staff"))
    done = owner.submit("/console/staff", {}, action=f"/console/staff/{member.id}/remove")
    after = text_of(owner.get("/console/staff"))

    assert "Remove staff@example.com from the staff?" in page  # the confirmation step
    assert done.status_code == 302
    assert "staff@example.com is no longer staff; their API keys are revoked." in after
    assert "staff@example.com" not in members_of(app, alpha)
    assert browser_for(alpha.host).get("/api/v1/me", headers=bearer(key)).status_code == 401
    assert staff.get("/console/").location.startswith("/console/login")
    _, action, subject, detail = audit_trail(app, alpha)[-1]
    assert (action, subject) == ("member.removed", f"member:{member.id}")
    assert detail["email"] == "staff@example.com" and detail["keys_revoked"] == 1


def test_a_removed_member_added_again_does_not_get_old_keys_back(
    app, alpha, owner, make_member, make_api_key
):
    member = make_member(alpha, "staff@example.com", "staff")
    key = make_api_key(alpha, "staff", "old key", made_by=member.user_id)
    owner.submit("/console/staff", {}, action=f"/console/staff/{member.id}/remove")

    invite(owner, "staff@example.com")

    assert members_of(app, alpha)["staff@example.com"] == "staff"
    assert owner.on(alpha.host).get("/api/v1/me", headers=bearer(key)).status_code == 401


def test_the_owner_cannot_be_removed(app, alpha, owner):
    from sqlalchemy import select

    from app.accounts.models import Membership
    from app.extensions import db

    mine = run_in_shop(app, alpha, lambda: db.session.scalar(select(Membership.id)))

    done = owner.submit("/console/staff", {}, action=f"/console/staff/{mine}/remove")

    assert "The shop's owner cannot be removed." in text_of(owner.get(done.location))
    assert members_of(app, alpha) == {alpha.owner_email: "owner"}


def test_another_shops_member_cannot_be_removed(app, alpha, make_shop, make_member, browser_for):
    bravo = make_shop("bravo")
    theirs = make_member(bravo, "theirs@example.com", "staff")
    owner = console(browser_for, alpha.host, alpha.owner_email)

    page = text_of(owner.get("/console/staff"))
    response = owner.submit("/console/staff", {}, action=f"/console/staff/{theirs.id}/remove")
    granted = owner.submit(
        "/console/staff", {"allow": "1"}, action=f"/console/staff/{theirs.id}/codes"
    )

    assert "theirs@example.com" not in page
    assert response.status_code == 404 and granted.status_code == 404
    assert members_of(app, bravo)["theirs@example.com"] == "staff"
    assert audit_trail(app, bravo) == []
