"""Dunning, end to end on real parts: a failed invoice (Stripe's event,
through the endpoint) makes the shop past due; the owners get reminder
mails on day 0, 3 and 7 (once each, from the mail queue, through a real
SMTP server); after the grace days its storefront is paused — every page
says so, the API answers a problem, the console stays open — and a paid
invoice opens it again at once. The platform owner can give more time
(the command line and the platform console, audited). Time moves by the
instant each dunning run is given, never by sleeping."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import stripe

from app.extensions import db
from tests.accounts.support import in_english
from tests.billing.stripe_support import as_dict, event, post_event, stored, subscribed
from tests.conftest import PASSWORD
from tests.console.support import audit_trail, console, text_of
from tests.factories import end_outer_transaction

pytestmark = pytest.mark.critical


def fail_invoice(app, shop, platform, stripe_client, sub: dict, *, created: int | None = None):
    invoices = stripe_client.v1.invoices.list(params={"customer": sub["customer"]})
    invoice = as_dict(invoices.data[0])
    body = event("invoice.payment_failed", invoice, created=created)
    assert post_event(platform, body)[1]["outcome"] == "past_due"
    return invoice


def run_dunning(app, now: datetime, *, enqueue: bool = True):
    from app.billing import dunning

    end_outer_transaction()
    with app.app_context():
        done = dunning.run_dunning(now, enqueue=enqueue)
        db.session.remove()
    return done


def shop_zone(app, shop) -> str:
    from tenants.models import Tenant

    end_outer_transaction()
    with app.app_context():
        zone = db.session.get(Tenant, shop.id).timezone
        db.session.remove()
    return zone


def test_the_reminder_gives_the_pause_day_in_the_shops_time_zone(app, shop):
    """Rendered by a job (no request), the mail's day is still the shop's:
    an instant late on a UTC day is the next day in Shanghai."""
    from flask import render_template
    from flask_babel import force_locale

    from app.core.dates import in_zone

    instant = datetime(2026, 12, 7, 20, 30, tzinfo=UTC)
    context = {
        "shop_name": "S",
        "plan": "Pro",
        "number": 1,
        "suspends_at": instant,
        "suspended": False,
        "link": "https://s.example/console/plan",
    }
    with app.app_context(), force_locale("en"):
        with in_zone("Asia/Shanghai"):
            shanghai = render_template("mail/billing_reminder.txt", **context)
        with in_zone("America/New_York"):
            new_york = render_template("mail/billing_reminder.txt", **context)
    assert "2026-12-08" in shanghai and "2026-12-07" in new_york


def set_locale(app, shop, locale: str) -> None:
    from tenants.models import Tenant

    end_outer_transaction()
    with app.app_context():
        db.session.get(Tenant, shop.id).locale = locale
        db.session.commit()
        db.session.remove()


def test_a_failed_invoice_reminds_then_pauses_the_shop_and_a_paid_one_restores_it(
    app, shop, platform, browser_for, stripe_on, mail_server, worker
):
    set_locale(app, shop, "en")
    sub = subscribed(app, shop)
    invoice = fail_invoice(app, shop, platform, stripe_on, sub)
    start = stored(app, shop)["past_due_since"]
    assert stored(app, shop)["status"] == "past_due"

    # Day 0: the first reminder, once however many runs there are.
    assert run_dunning(app, start).reminders == [(shop.id, 1)]
    assert run_dunning(app, start + timedelta(hours=5)).reminders == []
    mail = mail_server.wait_for(shop.owner_email)
    assert "The payment for your plan failed" in mail["Subject"]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Pro" in body and "/console/plan" in body
    # The day the storefront pauses, as a day of the shop's time zone.
    local = (start + timedelta(days=7)).astimezone(ZoneInfo(shop_zone(app, shop)))
    assert local.strftime("%Y-%m-%d") in body

    # Day 3: the second; the storefront still sells.
    assert run_dunning(app, start + timedelta(days=3)).reminders == [(shop.id, 2)]
    assert browser_for(shop.host).get("/").status_code == 200
    owner = console(browser_for, shop.host, shop.owner_email)
    assert "The last payment for your plan failed" in text_of(owner.get("/console/plan"))

    # Day 7: the third, and the grace (Pro's 7 days) is over.
    done = run_dunning(app, start + timedelta(days=7))
    assert done.reminders == [(shop.id, 3)] and done.suspended == [shop.id]
    assert run_dunning(app, start + timedelta(days=9)).suspended == []
    assert stored(app, shop)["status"] == "suspended"
    deadline = time.monotonic() + 30
    while len(mail_server.to(shop.owner_email)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(mail_server.to(shop.owner_email)) == 3

    buyer = browser_for(shop.host)
    page = buyer.get("/")
    assert page.status_code == 402
    assert "is paused" in text_of(page) and shop.slug in text_of(page).lower()
    assert buyer.get("/account/login").status_code == 402
    api = buyer.get("/api/v1/products", headers={"Accept": "application/json"})
    assert api.status_code == 402 and api.get_json()["type"].endswith("/shop-paused")
    plan_page = owner.get("/console/plan")
    assert plan_page.status_code == 200
    assert "Your storefront is paused" in text_of(plan_page)
    assert ("platform", "billing.suspended") in [(w, a) for w, a, _, _ in audit_trail(app, shop)]

    # Paid: open again at once, data kept.
    paid = post_event(platform, event("invoice.paid", invoice, created=int(time.time()) + 5))
    assert paid[1]["outcome"] == "restored"
    assert buyer.get("/").status_code == 200
    found = stored(app, shop)
    assert found["status"] == "active" and found["past_due_since"] is None
    assert found["plan"] == "pro"


def test_the_paused_page_reads_in_both_languages(app, shop, platform, browser_for, stripe_on):
    sub = subscribed(app, shop)
    fail_invoice(app, shop, platform, stripe_on, sub)
    start = stored(app, shop)["past_due_since"]
    run_dunning(app, start + timedelta(days=8), enqueue=False)

    for lang, marker in (("en", 'lang="en'), ("zh_CN", 'lang="zh')):
        buyer = browser_for(shop.host)
        buyer.client.set_cookie("lang", lang, domain=shop.host)
        page = buyer.get("/")
        assert page.status_code == 402
        html = page.get_data(as_text=True)
        assert marker in html
        assert "Shop " + shop.slug in text_of(page)
    english = browser_for(shop.host)
    english.client.set_cookie("lang", "en", domain=shop.host)
    text = text_of(english.get("/products"))
    assert "This shop is paused" in text and "Orders already paid are safe" in text


def test_a_shops_own_grace_days_win_over_its_plans(app, shop, platform, stripe_on):
    sub = subscribed(app, shop)
    fail_invoice(app, shop, platform, stripe_on, sub)
    start = stored(app, shop)["past_due_since"]
    runner = app.test_cli_runner()

    result = runner.invoke(args=["billing", "extend", shop.slug, "--days", "5"])

    assert result.exit_code == 0, result.output
    assert f"{shop.slug}: 12 days of grace (past_due)" in result.output
    assert run_dunning(app, start + timedelta(days=8), enqueue=False).suspended == []
    assert run_dunning(app, start + timedelta(days=12), enqueue=False).suspended == [shop.id]
    assert ("platform command line", "billing.grace_extended") in [
        (w, a) for w, a, _, _ in audit_trail(app, shop)
    ]


def test_more_grace_opens_a_paused_shop_at_once(app, shop, platform, browser_for, stripe_on):
    sub = subscribed(app, shop)
    fail_invoice(app, shop, platform, stripe_on, sub)
    start = stored(app, shop)["past_due_since"]
    run_dunning(app, datetime.now(UTC) + timedelta(days=8), enqueue=False)
    assert stored(app, shop)["status"] == "suspended"
    assert start is not None

    result = app.test_cli_runner().invoke(args=["billing", "extend", shop.slug, "--days", "30"])

    assert result.exit_code == 0, result.output
    assert stored(app, shop)["status"] == "past_due"
    assert browser_for(shop.host).get("/").status_code == 200


@pytest.mark.parametrize(
    "args, said",
    [
        (["nowhere", "--days", "3"], "No shop has the address"),
        (["{shop}", "--days", "0"], "from 1 to 365"),
        (["{shop}", "--days", "400"], "from 1 to 365"),
    ],
)
def test_the_command_refuses_what_it_cannot_do(app, shop, args, said):
    args = [a.replace("{shop}", shop.slug) for a in args]
    result = app.test_cli_runner().invoke(args=["billing", "extend", *args])
    assert result.exit_code == 2 and said in result.output


def test_a_shop_without_a_subscription_has_no_grace_to_extend(app, shop):
    result = app.test_cli_runner().invoke(args=["billing", "extend", shop.slug, "--days", "3"])
    assert result.exit_code == 2 and "has no subscription" in result.output


@pytest.fixture
def admin(app, platform):
    from app.accounts import services

    with app.app_context():
        services.set_platform_admin("root@example.com", PASSWORD)
    in_english(platform)
    response = platform.submit("/login", {"email": "root@example.com", "password": PASSWORD})
    assert response.status_code == 302
    return platform


def test_the_platform_owner_sees_shops_past_due_and_gives_one_more_time(
    app, shop, admin, stripe_on
):
    sub = subscribed(app, shop)
    fail_invoice(app, shop, admin, stripe_on, sub)

    page = admin.get("/admin/billing/past-due")
    assert page.status_code == 200
    text = text_of(page)
    assert f"Shop {shop.slug}" in text and "payment due" in text and "Pro" in text

    answer = admin.submit(
        "/admin/billing/past-due",
        {"shop": shop.slug, "days": "3"},
        action="/admin/billing/past-due/extend",
    )

    assert answer.status_code == 302
    assert f"{shop.slug} has 10 days of grace now." in text_of(admin.get("/admin/billing/past-due"))
    assert stored(app, shop)["grace_days"] == 10
    extended = [d for _, a, _, d in audit_trail(app, shop) if a == "billing.grace_extended"]
    assert extended == [{"days": 3, "before": 7, "grace_days": 10, "reopened": False}]


def test_a_bad_extension_is_said_beside_its_field_and_kept(app, shop, admin, stripe_on):
    subscribed(app, shop)

    answer = admin.submit(
        "/admin/billing/past-due",
        {"shop": shop.slug, "days": "many"},
        action="/admin/billing/past-due/extend",
    )
    assert answer.status_code == 422
    text = text_of(answer)
    assert "from 1 to 365" in text and 'value="many"' in text and f'value="{shop.slug}"' in text

    answer = admin.submit(
        "/admin/billing/past-due",
        {"shop": "nowhere", "days": "3"},
        action="/admin/billing/past-due/extend",
    )
    assert answer.status_code == 404
    assert "No such shop." in text_of(answer) and 'value="nowhere"' in text_of(answer)
    assert stored(app, shop)["grace_days"] is None


def test_only_platform_admins_reach_the_past_due_page(app, shop, platform, browser_for):
    assert platform.get("/admin/billing/past-due").status_code in (302, 401, 403)
    owner = console(browser_for, shop.host, shop.owner_email)
    assert owner.get("/admin/billing/past-due").status_code == 404  # not on a shop's host
    assert browser_for(shop.host).post("/admin/billing/past-due/extend").status_code in (400, 404)


def test_a_copy_of_the_storefront_kept_before_the_pause_is_not_served_after(
    app, shop, platform, browser_for, stripe_on
):
    sub = subscribed(app, shop)
    invoice = fail_invoice(app, shop, platform, stripe_on, sub)
    buyer = browser_for(shop.host)
    assert buyer.get("/").status_code == 200
    assert buyer.get("/").status_code == 200  # now a kept copy

    run_dunning(app, datetime.now(UTC) + timedelta(days=8), enqueue=False)
    assert browser_for(shop.host).get("/").status_code == 402

    post_event(platform, event("invoice.paid", invoice, created=int(time.time()) + 5))
    assert browser_for(shop.host).get("/").status_code == 200


def test_a_paused_shop_put_on_a_plan_by_hand_opens_at_once(
    app, shop, platform, browser_for, stripe_on
):
    from tests.billing.support import put_on_plan

    sub = subscribed(app, shop)
    fail_invoice(app, shop, platform, stripe_on, sub)
    run_dunning(app, datetime.now(UTC) + timedelta(days=8), enqueue=False)
    assert browser_for(shop.host).get("/").status_code == 402

    put_on_plan(app, shop, "business")

    assert browser_for(shop.host).get("/").status_code == 200


def unpaid_renewal(app, stripe_client, sub: dict) -> dict:
    """A renewal invoice of the subscription that the card on file failed to
    pay, as localstripe makes it (the card now fails to charge)."""
    stripe_client.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", params={"customer": sub["customer"]}
    )
    stripe_client.v1.customers.update(
        sub["customer"],
        params={"invoice_settings": {"default_payment_method": "pm_card_chargeCustomerFail"}},
    )
    stripe_client.v1.invoice_items.create(
        params={"customer": sub["customer"], "amount": 9_900, "currency": "cny"}
    )
    invoice = stripe_client.v1.invoices.create(
        params={"customer": sub["customer"], "subscription": sub["subscription"]}
    )
    with contextlib.suppress(stripe.StripeError):  # Stripe's answer to a failed charge
        stripe_client.v1.invoices.pay(invoice.id)
    invoice = stripe_client.v1.invoices.retrieve(invoice.id)
    assert invoice.status == "open"
    return as_dict(invoice)


def test_the_owner_of_a_paused_shop_pays_on_the_plan_page_and_it_opens_at_once(
    app, shop, platform, browser_for, stripe_on, monkeypatch
):
    monkeypatch.setitem(app.config, "BILLING_CHECKOUT", False)
    sub = subscribed(app, shop)
    invoice = unpaid_renewal(app, stripe_on, sub)
    assert (
        post_event(platform, event("invoice.payment_failed", invoice))[1]["outcome"] == "past_due"
    )
    run_dunning(app, datetime.now(UTC) + timedelta(days=8), enqueue=False)
    assert browser_for(shop.host).get("/").status_code == 402
    owner = console(browser_for, shop.host, shop.owner_email)
    assert "Pay what is due" in text_of(owner.get("/console/plan"))

    declined = owner.submit(
        "/console/plan",
        {"number": "4000 0000 0000 0341", "expiry": "12/34", "cvc": "123"},
        action="/console/plan/pay",
    )
    assert declined.status_code in (402, 422)
    assert "declined" in text_of(declined) or "did not accept" in text_of(declined)
    assert 'value="4000 0000 0000 0341"' in text_of(declined)
    assert stored(app, shop)["status"] == "suspended"

    answer = owner.submit(
        "/console/plan",
        {"number": "4242 4242 4242 4242", "expiry": "12/34", "cvc": "123"},
        action="/console/plan/pay",
    )

    assert answer.status_code == 302, text_of(answer)
    assert "your storefront is open" in text_of(owner.get("/console/plan"))
    assert stored(app, shop)["status"] == "active"
    assert browser_for(shop.host).get("/").status_code == 200
    assert stripe_on.v1.invoices.retrieve(invoice["id"]).status == "paid"
    assert ("billing.paid") in [a for _, a, _, _ in audit_trail(app, shop)]
    # Stripe's news of the same payment, later, changes nothing.
    paid = as_dict(stripe_on.v1.invoices.retrieve(invoice["id"]))
    post_event(platform, event("invoice.paid", paid, created=int(time.time()) - 1))
    assert stored(app, shop)["status"] == "active"


def test_a_shop_that_owes_nothing_is_told_so(app, shop, browser_for, stripe_on, monkeypatch):
    monkeypatch.setitem(app.config, "BILLING_CHECKOUT", False)
    subscribed(app, shop)
    owner = console(browser_for, shop.host, shop.owner_email)
    assert "Pay what is due" not in text_of(owner.get("/console/plan"))

    answer = owner.submit(
        "/console/plan",
        {"number": "4242 4242 4242 4242", "expiry": "12/34", "cvc": "123"},
        action="/console/plan/pay",
    )

    assert answer.status_code == 409 and "Nothing is due" in text_of(answer)
