"""Times are shown in the shop's time zone: a Chinese shop opens on Beijing
time, pages format every instant through the time filters, and the
platform's own pages stay on UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import g, render_template_string

from app.extensions import db
from tenants.models import Tenant
from tests.factories import open_shop

NOON_UTC = datetime(2026, 11, 29, 12, 5, 9, tzinfo=UTC)


def _render(app, shop_timezone: str | None, source: str, **values) -> str:
    from tenants.resolve import ShopSnapshot

    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        if shop_timezone:
            g.shop = ShopSnapshot(
                None, "x", "X", "active", "default", "zh_CN", "CNY", shop_timezone
            )
        return render_template_string(source, **values)


def test_a_chinese_shop_opens_on_beijing_time_and_an_english_one_on_utc(app):
    zh = open_shop(app, "tz-zh")
    with app.app_context():
        assert db.session.get(Tenant, zh.tenant_id).timezone == "Asia/Shanghai"
        from tenants.provisioning import add_tenant

        en = add_tenant("tz-en", "English shop", locale="en")
        db.session.commit()
        assert en.timezone == "UTC"


def test_the_filters_show_an_instant_in_the_shops_time_zone(app):
    source = "{{ t|when }}|{{ t|when_exact }}|{{ t|day }}|{{ t|clock }}|{{ none|when }}"
    shown = _render(app, "Asia/Shanghai", source, t=NOON_UTC, none=None)
    assert shown == "2026-11-29 20:05|2026-11-29 20:05:09|2026-11-29|20:05|"
    assert _render(app, "America/New_York", "{{ t|when }}", t=NOON_UTC) == "2026-11-29 07:05"
    assert _render(app, None, "{{ t|when }}", t=NOON_UTC) == "2026-11-29 12:05"  # platform: UTC


def test_a_time_beside_its_zone_names_the_zone(app):
    assert "China" in _render(app, "Asia/Shanghai", "{{ zone_label() }}")
