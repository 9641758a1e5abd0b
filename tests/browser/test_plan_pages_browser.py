"""The plan pages in a real Chromium: the console's plan page of a shop on a
limited plan (progress bars, the plans on offer) and the platform's plan
list and form, at a phone's width and a desktop's, in both languages, fit
the screen, pass axe-core and are saved as screenshots
(``screenshots/billing/<page>.<language>.<width>.png``)."""

from __future__ import annotations

import pytest

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
from tests.factories import add_product

pytestmark = pytest.mark.browser


def test_the_plan_pages_fit_a_phone_and_have_no_serious_findings(
    chromium, live_server, app, make_shop
):
    from app.accounts import services

    slug = "plan-cards"
    shop = make_shop(slug, "Plan Cards 套餐卡")
    free_pro_business(app)
    put_on_plan(app, shop, "free")
    add_product(app, shop, name="Steam 100")
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
            sign_in_to_console(page, live_server.url("/console/login", slug=slug), shop.owner_email)
            page.goto(live_server.url("/login", slug=None))
            page.locator("input[name=email]").fill("root@example.com")
            page.locator("input[name=password]").fill(PASSWORD)
            page.locator("form button[type=submit]").last.click()
            for language in ("zh_CN", "en"):
                for name, url in (
                    ("console-plan", live_server.url(f"/console/plan?lang={language}", slug=slug)),
                    ("admin-plans", live_server.url(f"/admin/plans?lang={language}")),
                    ("admin-plan-form", live_server.url(f"/admin/plans/pro?lang={language}")),
                ):
                    response = page.goto(url)
                    assert response is not None and response.ok, (
                        name,
                        response and response.status,
                    )
                    shot = f"{name}.{language}.{width}"
                    page.screenshot(path=folder / f"{shot}.png", full_page=True)
                    findings.extend(axe_findings(page, shot))
                    if phone and sideways_overflow(page):
                        sideways.append(shot)
            assert not refused, refused
        finally:
            context.close()

    assert not findings, summary(findings)
    assert not sideways, sideways
