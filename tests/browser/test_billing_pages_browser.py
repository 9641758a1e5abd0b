"""The pages of paying for a plan in a real Chromium: the console's plan
page taking a card (with the payment-failed warning of a past-due shop),
the paused storefront of a shop past its grace, and the platform's list of
shops past due, at a phone's width and a desktop's, in both languages, fit
the screen, pass axe-core and are saved as screenshots
(``screenshots/billing/<page>.<language>.<width>.png``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from tests.billing.support import free_pro_business, put_on_plan
from tests.browser.support import (
    DESKTOP,
    PHONE,
    artefacts,
    axe_findings,
    sideways_overflow,
    sign_in_to_console,
    summary,
    watch_refusals,
)
from tests.conftest import PASSWORD
from tests.factories import end_outer_transaction

pytestmark = pytest.mark.browser


def past_due(app, shop, *, days_ago: int) -> None:
    """The shop's payment failed ``days_ago`` days ago (Stripe's event as
    the service takes it)."""
    from app.billing import subscriptions
    from app.billing.models import Subscription

    end_outer_transaction()
    with app.app_context():
        row = db.session.scalar(select(Subscription).where(Subscription.tenant_id == shop.id))
        subscriptions.mark_past_due(row, datetime.now(UTC) - timedelta(days=days_ago))
        db.session.commit()
        db.session.remove()


def dunning_now(app) -> None:
    from app.billing import dunning

    end_outer_transaction()
    with app.app_context():
        dunning.run_dunning(enqueue=False)
        db.session.remove()


def test_the_billing_pages_fit_a_phone_and_have_no_serious_findings(
    chromium, live_server, app, make_shop, monkeypatch
):
    from app.accounts import services

    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_pages")
    monkeypatch.setitem(app.config, "BILLING_CHECKOUT", False)
    owing = make_shop("owing-cards", "Owing Cards 欠费卡")
    paused = make_shop("paused-cards", "Paused Cards 暂停卡")
    free_pro_business(app)
    put_on_plan(app, owing, "pro")
    put_on_plan(app, paused, "pro")
    past_due(app, owing, days_ago=1)
    past_due(app, paused, days_ago=9)
    dunning_now(app)
    with app.app_context():
        services.set_platform_admin("root@example.com", PASSWORD)
    folder = artefacts("screenshots", "billing")
    findings: list[str] = []
    sideways: list[str] = []
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        phone = viewport is PHONE
        context = chromium.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
        page = context.new_page()
        refused = watch_refusals(page)
        try:
            sign_in_to_console(
                page, live_server.url("/console/login", slug=owing.slug), owing.owner_email
            )
            page.goto(live_server.url("/login", slug=None))
            page.locator("input[name=email]").fill("root@example.com")
            page.locator("input[name=password]").fill(PASSWORD)
            page.locator("form button[type=submit]").last.click()
            for language in ("zh_CN", "en"):
                for name, url, status in (
                    (
                        "console-plan-card",
                        live_server.url(f"/console/plan?lang={language}", slug=owing.slug),
                        200,
                    ),
                    ("paused-shop", live_server.url(f"/?lang={language}", slug=paused.slug), 402),
                    (
                        "admin-past-due",
                        live_server.url(f"/admin/billing/past-due?lang={language}"),
                        200,
                    ),
                ):
                    response = page.goto(url)
                    assert response is not None and response.status == status, (
                        name,
                        response and response.status,
                    )
                    shot = f"{name}.{language}.{width}"
                    page.screenshot(path=folder / f"{shot}.png", full_page=True)
                    findings.extend(axe_findings(page, shot))
                    if phone and sideways_overflow(page):
                        sideways.append(shot)
            page.goto(live_server.url("/console/plan?lang=en", slug=owing.slug))
            assert page.locator("input[name=number]").is_visible()
            assert page.get_by_text("The last payment for your plan failed.").is_visible()
            page.goto(live_server.url("/admin/billing/past-due?lang=en"))
            assert page.get_by_text("Owing Cards").first.is_visible()
            assert page.get_by_text("Paused Cards").first.is_visible()
            assert not refused, refused
        finally:
            context.close()

    assert not findings, summary(findings)
    assert not sideways, sideways
