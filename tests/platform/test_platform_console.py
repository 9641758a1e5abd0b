"""The platform owner's console (``/admin``): shops with owner and sales,
search and paging whose count agrees with the list, suspend and resume
with a required reason on the audit record, platform users, queues and
workers, and every shop's audit log. Only platform admins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from app.extensions import db
from tests.accounts.support import in_english, text_of
from tests.conftest import PASSWORD
from tests.factories import add_product, codes, run_in_shop

PAGES = ("/admin", "/admin/users", "/admin/queues", "/admin/audit")


@pytest.fixture
def admin(app, platform):
    """The platform signed in as a platform admin, in English."""
    from app.accounts import services

    with app.app_context():
        services.set_platform_admin("root@example.com", PASSWORD)
    in_english(platform)
    response = platform.submit("/login", {"email": "root@example.com", "password": PASSWORD})
    assert response.status_code == 302
    return platform


def paid_orders(app, shop, totals: list[int], *, days_ago: int = 0, unpaid: int = 0) -> None:
    """Orders of ``shop`` paid with the sandbox, one per total (quantity 1 of
    a product priced at it), placed ``days_ago`` days ago; and ``unpaid``
    more that nobody paid."""
    from app.orders import checkout, payment
    from app.orders.models import Order

    wanted = [(total, True) for total in totals] + [(1000, False)] * unpaid
    for total, paid in wanted:
        product = add_product(app, shop, name=f"P{total}", price=total, stock=codes("X", 1))

        def place(product=product, paid=paid):
            order, _ = checkout.create_order(
                product_id=product, quantity=1, email="b@example.com", idempotency_key=None
            )
            if paid:
                payment.confirm_payment(
                    order.id,
                    provider="sandbox",
                    provider_ref=f"pi_{order.id}",
                    amount=order.total,
                    actor="webhook",
                )
            placed = datetime.now(UTC) - timedelta(days=days_ago)
            db.session.execute(update(Order).where(Order.id == order.id).values(created_at=placed))
            db.session.commit()

        run_in_shop(app, shop, place)


# --- who may open it ------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_for_the_platform_admin(admin, make_shop, page):
    make_shop("alpha")
    response = admin.get(page)
    assert response.status_code == 200
    assert "Platform console" in text_of(response)


@pytest.mark.parametrize("page", PAGES)
def test_a_stranger_is_sent_to_sign_in(platform, page):
    response = platform.get(page)
    assert response.status_code == 302
    assert response.location == f"/login?next={page}"


@pytest.mark.critical
@pytest.mark.parametrize("page", PAGES)
def test_an_operator_who_is_not_an_admin_is_refused(platform, make_shop, page):
    make_shop("alpha")
    platform.submit("/login", {"email": "owner@alpha.example.com", "password": PASSWORD})
    assert platform.get(page).status_code == 403


@pytest.mark.critical
@pytest.mark.parametrize("action", ["suspend", "resume"])
def test_an_operator_cannot_suspend_or_resume_a_shop(app, platform, make_shop, action):
    make_shop("alpha")
    make_shop("bravo")
    platform.submit("/login", {"email": "owner@alpha.example.com", "password": PASSWORD})
    token = platform.csrf_token("/shops")
    response = platform.post(
        f"/admin/shops/bravo/{action}", data={"csrf_token": token, "reason": "mine now"}
    )
    assert response.status_code == 403
    from app.platform.admin import list_shops

    with app.app_context():
        assert {r.slug: r.status for r in list_shops()[0]}["bravo"] == "active"


@pytest.mark.parametrize("page", PAGES)
def test_the_pages_do_not_exist_on_a_shop_host(make_shop, browser_for, page):
    make_shop("alpha")
    assert browser_for("alpha.localhost").get(page).status_code == 404


# --- shops --------------------------------------------------------------------


def test_shops_show_owner_and_orders_and_sales_of_the_last_30_days(app, admin, make_shop):
    alpha = make_shop("alpha", "Alpha Cards")
    make_shop("bravo", "Bravo Keys", owner_email="boss@bravo.example.com")
    paid_orders(app, alpha, [10_000, 2_550], unpaid=1)
    paid_orders(app, alpha, [99_900], days_ago=40)  # outside the window

    page = text_of(admin.get("/admin"))

    assert "owner@alpha.example.com" in page and "boss@bravo.example.com" in page
    alpha_row = page[page.index("Alpha Cards") : page.index("</tr>", page.index("Alpha Cards"))]
    assert '<td class="num-cell">2</td>' in alpha_row
    assert "¥125.50" in alpha_row
    bravo_row = page[page.index("Bravo Keys") : page.index("</tr>", page.index("Bravo Keys"))]
    assert '<td class="num-cell">0</td>' in bravo_row and "¥0.00" in bravo_row


def test_a_page_of_shops_costs_the_same_queries_however_many_shops_it_shows(app, admin, make_shop):
    """No query per shop: owners and sales come in one aggregate each."""
    from sqlalchemy import event

    def statements_for_the_page() -> int:
        seen = []

        def count(*args):
            seen.append(args[2])

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert admin.get("/admin").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    make_shop("alpha")
    one = statements_for_the_page()
    for slug in ("bravo", "charlie", "delta"):
        make_shop(slug)
    assert statements_for_the_page() == one


@pytest.mark.parametrize(
    "query, found",
    [
        ("alpha", {"Alpha Cards"}),  # the address
        ("keys", {"Bravo Keys"}),  # the name, any case
        ("boss@", {"Bravo Keys"}),  # the owner's email
        ("nothing-like-it", set()),
    ],
)
def test_search_finds_by_name_address_or_owner_and_counts_what_it_lists(
    admin, make_shop, query, found
):
    make_shop("alpha", "Alpha Cards")
    make_shop("bravo", "Bravo Keys", owner_email="boss@bravo.example.com")
    make_shop("charlie", "Charlie Games")

    page = text_of(admin.get(f"/admin?q={query}"))

    listed = {n for n in ("Alpha Cards", "Bravo Keys", "Charlie Games") if n in page}
    assert listed == found
    assert f"Shops matching: {len(found)}" in page


def test_the_status_filter_and_its_count_agree(app, admin, make_shop):
    from tenants import provisioning

    make_shop("alpha", "Alpha Cards")
    make_shop("bravo", "Bravo Keys")
    with app.app_context():
        provisioning.suspend_shop("bravo", "test")

    page = text_of(admin.get("/admin?status=suspended"))

    assert "Bravo Keys" in page and "Alpha Cards" not in page
    assert "Shops matching: 1" in page


def test_shops_are_paged_in_the_database_and_the_pager_keeps_the_search(
    admin, make_shop, monkeypatch
):
    from app.platform import admin_views

    monkeypatch.setattr(admin_views, "PER_PAGE", 2)
    for slug in ("alpha", "bravo", "charlie"):
        make_shop(slug, f"Shop {slug} cards")

    first = text_of(admin.get("/admin?q=cards"))
    second = text_of(admin.get("/admin?q=cards&page=2"))

    # Newest first: charlie and bravo, then alpha.
    assert "Shop charlie cards" in first and "Shop bravo cards" in first
    assert "Shop alpha cards" not in first
    assert "Page 1 of 2" in first and "/admin?q=cards&page=2" in first
    assert "Shop alpha cards" in second and "Shop charlie cards" not in second
    assert "Shops matching: 3" in first and "Shops matching: 3" in second


# --- suspend and resume -----------------------------------------------------------


def test_suspend_and_resume_ask_first_without_script(admin, make_shop):
    make_shop("alpha")
    page = admin.get("/admin").get_data(as_text=True)
    assert '<details class="confirm">' in page
    box = page[page.index('<details class="confirm">') :]
    box = box[: box.index("</details>")]
    assert 'action="/admin/shops/alpha/suspend"' in box
    assert 'name="reason"' in box and "required" in box
    assert "Suspend alpha? Its pages and API close at once; its data is kept." in text_of(
        admin.get("/admin")
    )


def test_the_reason_field_is_a_field_not_text(admin, make_shop):
    """The reason box is real markup, not an escaped string on the page."""
    make_shop("alpha")
    page = admin.get("/admin").get_data(as_text=True)
    assert "&lt;input" not in page
    assert '<input type="text" name="reason"' in page


def test_suspending_without_a_reason_is_refused_and_changes_nothing(app, admin, make_shop):
    make_shop("alpha")
    token = admin.csrf_token("/admin")

    response = admin.post("/admin/shops/alpha/suspend", data={"csrf_token": token, "reason": " "})

    assert response.status_code == 422
    assert "Give a reason: it is kept with the shop and in the audit log." in text_of(response)
    assert '<details class="confirm" open>' in response.get_data(as_text=True)
    with app.app_context():
        from app.platform.admin import audit_log, list_shops

        assert list_shops()[0][0].status == "active"
        assert audit_log()[1] == 0


def test_a_reason_too_long_is_refused_and_kept_as_typed(admin, make_shop):
    make_shop("alpha")
    token = admin.csrf_token("/admin")
    typed = "unpaid invoice " * 40  # 600 characters

    response = admin.post(
        "/admin/shops/alpha/suspend",
        data={"csrf_token": token, "reason": typed, "back": "/admin?q=alp"},
    )

    assert response.status_code == 422
    text = text_of(response)
    assert "The reason may be at most 500 characters long." in text
    assert f'value="{typed}"' in text
    assert 'name="q" value="alp"' in text  # the list it came from


@pytest.mark.critical
def test_suspend_and_resume_are_in_the_audit_log_with_their_reasons(
    app, admin, make_shop, browser_for
):
    make_shop("alpha")
    make_shop("bravo")
    token = admin.csrf_token("/admin")

    suspended = admin.post(
        "/admin/shops/alpha/suspend",
        data={"csrf_token": token, "reason": "unpaid invoice", "back": "/admin?q=alp"},
    )
    assert suspended.status_code == 302 and suspended.location == "/admin?q=alp"
    assert browser_for("alpha.localhost").get("/").status_code == 403
    resumed = admin.post(
        "/admin/shops/alpha/resume", data={"csrf_token": token, "reason": "invoice paid"}
    )
    assert resumed.status_code == 302
    assert browser_for("alpha.localhost").get("/").status_code == 200

    log = text_of(admin.get("/admin/audit"))
    assert "shop.suspended" in log and "reason: unpaid invoice" in log
    assert "shop.resumed" in log and "reason: invoice paid" in log
    assert "operator root@example.com" in log
    assert "Records matching: 2" in log
    only_suspensions = text_of(admin.get("/admin/audit?action=shop.suspended"))
    assert "Records matching: 1" in only_suspensions
    assert "Records matching: 0" in text_of(admin.get("/admin/audit?shop=bravo"))
    # The shop's own audit log holds them (its owner's console reads it).
    from sqlalchemy import select

    from app.audit.models import AuditEvent

    with app.app_context():
        from tenants.context import all_tenants

        with all_tenants():
            actions = db.session.scalars(select(AuditEvent.action)).all()
    assert sorted(actions) == ["shop.resumed", "shop.suspended"]


# --- users ----------------------------------------------------------------------


def test_users_are_listed_searched_filtered_and_paged(app, admin, make_shop, monkeypatch):
    from app.accounts.models import PlatformUser
    from app.platform import admin_views

    make_shop("alpha")
    make_shop("bravo", owner_email="gone@bravo.example.com")
    with app.app_context():
        db.session.execute(
            update(PlatformUser)
            .where(PlatformUser.email == "gone@bravo.example.com")
            .values(is_active=False)
        )
        db.session.commit()

    everyone = text_of(admin.get("/admin/users"))
    assert "Users matching: 3" in everyone
    assert "root@example.com" in everyone and "platform owner" in everyone
    deactivated = text_of(admin.get("/admin/users?active=no"))
    assert "gone@bravo.example.com" in deactivated and "owner@alpha" not in deactivated
    assert "Users matching: 1" in deactivated
    found = text_of(admin.get("/admin/users?q=ALPHA"))
    assert "owner@alpha.example.com" in found and "Users matching: 1" in found

    monkeypatch.setattr(admin_views, "PER_PAGE", 2)
    second = text_of(admin.get("/admin/users?page=2"))
    assert "Page 2 of 2" in second and "Users matching: 3" in second


# --- queues and workers -----------------------------------------------------------


def test_queues_show_waiting_jobs_and_say_when_no_worker_runs(app, admin):
    from rq import Worker

    from app.core.queues import get_queue
    from app.core.redisconn import get_redis

    with app.app_context():
        # Workers that earlier tests killed stay registered until their
        # key expires; none runs during this test.
        for stale in Worker.all(connection=get_redis()):
            stale.register_death()
        for name in ("mail", "default"):
            get_queue(name).empty()
        get_queue("mail").enqueue("app.core.queues.ping", "x")
    try:
        page = admin.get("/admin/queues").get_data(as_text=True)
    finally:
        with app.app_context():
            get_queue("mail").empty()

    mail_row = page[page.index('data-queue="mail"') :]
    mail_row = mail_row[: mail_row.index("</tr>")]
    assert '<td class="num-cell">1</td>' in mail_row
    assert "No worker is running" in text_of_html(page)


@pytest.fixture
def fast_heartbeat(monkeypatch):
    """Workers started after this record the scheduler's heartbeat every second."""
    monkeypatch.setenv("HEARTBEAT_INTERVAL_SECONDS", "1")


def test_queues_show_a_running_worker_and_the_scheduler(admin, fast_heartbeat, worker):
    import time

    deadline = time.monotonic() + 30  # the scheduler records itself on start
    while True:
        page = text_of(admin.get("/admin/queues"))
        if "Last seen" in page or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "No worker is running" not in page
    assert "fulfilment, default, imports, sync, mail" in page
    assert "Last seen" in page


def text_of_html(html: str) -> str:
    import html as entities

    return entities.unescape(html)
