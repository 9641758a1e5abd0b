"""The console's settings page (店铺设置): each section saves, is on the
audit record and shows on the storefront at once; a bad input is refused
with a readable message at its field and everything typed is shown again;
only the owner may open it, and nothing reaches another shop."""

from __future__ import annotations

import html
import io
import json
import re
import socket
import struct
import threading
import zlib
from pathlib import Path

import dns.message
import dns.rcode
import dns.rrset
import pytest
from sqlalchemy import select

from app.extensions import db
from tests.conftest import PASSWORD
from tests.factories import add_product, codes, end_outer_transaction
from tests.orders.support import pay, placed

PAGE = "/console/settings"


# --- helpers --------------------------------------------------------------------


def text_of(response) -> str:
    """The page as a reader sees its text (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def signed_in(browser_for, host: str, email: str):
    """A console session of ``email`` at ``host``, reading English."""
    browser = browser_for(host)
    browser.client.set_cookie("lang", "en", domain=host)
    response = browser.submit("/console/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, text_of(response)
    return browser


def shop_row(app, shop):
    from tenants.context import all_tenants
    from tenants.models import Tenant

    end_outer_transaction()
    with app.app_context(), all_tenants():
        row = db.session.get(Tenant, shop.id)
        db.session.expunge(row)
        return row


def audit_actions(app, shop) -> list[str]:
    from app.audit.models import AuditEvent
    from tenants.context import tenant_context

    end_outer_transaction()
    with app.app_context(), tenant_context(shop):
        rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.created_at)).all()
        return [row.action for row in rows]


def png(rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real one-pixel PNG of the colour ``rgb``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + bytes(rgb))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def profile(**changes) -> dict:
    """The shop section's fields as the form sends them."""
    values = {
        "name": "Alpha Cards",
        "locale": "zh_CN",
        "timezone": "Asia/Shanghai",
        "brand_color": "#e4572e",
        "announcement": "",
    }
    values.update(changes)
    return values


def upload(owner, kind: str, data: bytes, filename: str = "picture.png"):
    return owner.submit(
        PAGE,
        {f"{kind}-file": (io.BytesIO(data), filename)},
        action=f"{PAGE}/pictures/{kind}",
        content_type="multipart/form-data",
    )


# --- fixtures -------------------------------------------------------------------


@pytest.fixture
def alpha(make_shop):
    return make_shop("alpha", "Alpha")


@pytest.fixture
def owner(alpha, browser_for):
    """Alpha's owner signed in to its console."""
    return signed_in(browser_for, alpha.host, alpha.owner_email)


class DnsStub:
    """A real DNS server on a loopback UDP port that answers TXT questions
    from ``records`` (name → values) and NXDOMAIN for anything else."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:  # closed
                return
            query = dns.message.from_wire(wire)
            answer = dns.message.make_response(query)
            question = query.question[0]
            values = self.records.get(question.name.to_text().rstrip(".").lower())
            if values:
                answer.answer.append(
                    dns.rrset.from_text(
                        question.name, 60, "IN", "TXT", *(json.dumps(v) for v in values)
                    )
                )
            else:
                answer.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(answer.to_wire(), peer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def dns_stub(app, monkeypatch):
    """Domain verification asks this local DNS server, never the internet."""
    stub = DnsStub()
    monkeypatch.setitem(app.config, "DNS_NAMESERVERS", f"127.0.0.1:{stub.port}")
    yield stub
    stub.close()


LAB_MANIFEST = {
    "name": "lab",
    "title": {"en": "Lab", "zh_CN": "实验室"},
    "settings": [
        {
            "name": "layout",
            "type": "choice",
            "choices": ["list", "grid"],
            "default": "list",
            "label": {"en": "Product layout", "zh_CN": "商品布局"},
        },
        {
            "name": "show_stock",
            "type": "bool",
            "default": True,
            "label": {"en": "Show stock", "zh_CN": "显示库存"},
        },
        {
            "name": "columns",
            "type": "int",
            "min": 2,
            "max": 6,
            "default": 4,
            "label": {"en": "Columns", "zh_CN": "列数"},
        },
        {
            "name": "ribbon",
            "type": "color",
            "default": "#123456",
            "label": {"en": "Ribbon colour", "zh_CN": "丝带颜色"},
        },
        {
            "name": "tagline",
            "type": "text",
            "max_length": 20,
            "default": "",
            "label": {"en": "Tagline", "zh_CN": "标语"},
        },
    ],
}
LAB_HOME = """{% extends "base.html" %}
{% block content %}<p id="lab">layout={{ theme_setting('layout') }} stock={{ theme_setting('show_stock') }}
columns={{ theme_setting('columns') }} ribbon={{ theme_setting('ribbon') }} tagline={{ theme_setting('tagline') }}</p>{% endblock %}
"""


@pytest.fixture
def lab_theme(monkeypatch, tmp_path):
    """The platform's themes plus ``lab``, a theme with one setting of each
    kind whose home page prints them (the themes folder is this test's)."""
    from app.core import themes

    real = themes.themes_root()
    root = tmp_path / "themes"
    root.mkdir()
    for child in real.iterdir():
        (root / child.name).symlink_to(child)
    lab = root / "lab"
    (lab / "templates").mkdir(parents=True)
    (lab / "manifest.json").write_text(json.dumps(LAB_MANIFEST), encoding="utf-8")
    (lab / "templates" / "home.html").write_text(LAB_HOME, encoding="utf-8")
    themes.theme_manifest.cache_clear()
    monkeypatch.setattr(themes, "themes_root", lambda: root)
    yield "lab"
    themes.theme_manifest.cache_clear()


# --- who may open it ---------------------------------------------------------------


@pytest.mark.critical
def test_the_owner_opens_settings_from_the_navigation(owner):
    dashboard = text_of(owner.get("/console/"))
    page = owner.get(PAGE)

    assert f'href="{PAGE}"' in dashboard
    assert page.status_code == 200
    for section in ("Shop", "Logo and banner", "Theme", "Payments", "Domains"):
        assert f">{section}</h2>" in text_of(page)


@pytest.mark.critical
def test_a_stranger_is_sent_to_sign_in(alpha, browser_for):
    stranger = browser_for(alpha.host)

    for response in (
        stranger.get(PAGE),
        stranger.post(f"{PAGE}/shop", data=profile(name="Taken over")),
    ):
        if response.status_code == 400:  # a POST without a form token stops earlier
            continue
        assert response.status_code == 302
        assert response.location.startswith("/console/login")
    assert stranger.get(PAGE).location.startswith("/console/login")
    assert shop_row(stranger.app, alpha).name == "Alpha"


@pytest.mark.critical
def test_staff_may_not_open_or_change_the_settings(app, alpha, owner, make_member, browser_for):
    make_member(alpha, "staff@example.com", "staff")
    staff = signed_in(browser_for, alpha.host, "staff@example.com")
    token = staff.csrf_token("/console/")

    assert staff.get(PAGE).status_code == 403
    assert f'href="{PAGE}"' not in text_of(staff.get("/console/"))
    for action, data in (
        ("shop", profile(name="Staff shop")),
        ("theme", {"theme": "default"}),
        ("payments", {"providers": ["wallet"]}),
        ("domains", {"host": "staff.example.net"}),
    ):
        response = staff.post(f"{PAGE}/{action}", data={"csrf_token": token, **data})
        assert response.status_code == 403, action
    after = shop_row(app, alpha)
    assert after.name == "Alpha" and after.disabled_payment_providers == []
    assert audit_actions(app, alpha) == []


@pytest.mark.critical
def test_another_shops_owner_reaches_nothing_here(app, alpha, owner, make_shop, browser_for):
    bravo = make_shop("bravo", "Bravo")
    intruder = signed_in(browser_for, bravo.host, bravo.owner_email)
    assert intruder.get(PAGE).status_code == 200  # at their own shop

    # Their session is worth nothing at alpha's host, and they cannot sign in there.
    at_alpha = intruder.on(alpha.host)
    at_alpha.client.set_cookie("lang", "en", domain=alpha.host)
    assert at_alpha.get(PAGE).location.startswith("/console/login")
    refused = at_alpha.submit("/console/login", {"email": bravo.owner_email, "password": PASSWORD})
    assert refused.status_code == 200 and "not a member of this shop" in text_of(refused)
    assert at_alpha.get(PAGE).status_code == 302

    # Alpha's owner cannot verify or remove bravo's domain, nor see its pictures.
    intruder.submit(PAGE, {"host": "cards.bravo.example"}, action=f"{PAGE}/domains")
    upload(intruder, "logo", png())
    bravo_logo = shop_row(app, bravo).logo_file
    for action in ("verify", "remove"):
        response = owner.submit(PAGE, {}, action=f"{PAGE}/domains/cards.bravo.example/{action}")
        assert response.status_code == 404, action
    assert "cards.bravo.example" in text_of(intruder.get(PAGE))
    assert "cards.bravo.example" not in text_of(owner.get(PAGE))
    assert intruder.get(f"/brand/{bravo_logo}").status_code == 200
    assert owner.get(f"/brand/{bravo_logo}").status_code == 404
    assert browser_for(alpha.host).get(f"/brand/{bravo_logo}").status_code == 404
    assert "shop.logo" not in audit_actions(app, alpha)


# --- the shop's profile -------------------------------------------------------------


def test_the_profile_saves_and_the_storefront_shows_it(app, alpha, owner, browser_for):
    english = {"Accept-Language": "en"}
    visitor = browser_for(alpha.host)
    for _ in range(3):  # the first visit learns the host, the next keeps a copy
        kept = visitor.get("/", headers=english)
        if kept.headers.get("X-Cache") == "hit":
            break
    assert kept.headers.get("X-Cache") == "hit" and ">Alpha</a>" in text_of(kept)

    done = owner.submit(
        PAGE,
        profile(
            name="Alpha Game Cards",
            locale="en",
            timezone="Asia/Tokyo",
            brand_color="#1A7F5A",
            announcement="Closed on Sunday.\r\n<script>alert(1)</script>",
        ),
        action=f"{PAGE}/shop",
    )

    assert done.status_code == 302 and done.location.endswith(f"{PAGE}#shop")
    page = owner.get(PAGE)
    assert "Saved." in text_of(page)
    assert 'value="Alpha Game Cards"' in page.get_data(as_text=True)
    assert re.search(
        r'<option selected value="Asia/Tokyo">|<option value="Asia/Tokyo" selected',
        page.get_data(as_text=True),
    )
    row = shop_row(app, alpha)
    assert (row.name, row.locale, row.timezone, row.brand_color) == (
        "Alpha Game Cards",
        "en",
        "Asia/Tokyo",
        "#1a7f5a",
    )
    assert row.announcement == "Closed on Sunday.\n<script>alert(1)</script>"

    # No copy kept from before the change is served.
    home = visitor.get("/", headers=english)
    source = home.get_data(as_text=True)
    assert home.headers.get("X-Cache") != "hit"
    assert ">Alpha Game Cards</a>" in source
    assert re.search(r'<style nonce="[^"]+">:root \{ --accent: #1a7f5a;', source)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in source and "<script>alert" not in source
    assert '<div class="announcement" role="note">Closed on Sunday.' in source

    # A visitor who names no language gets the shop's, English now.
    assert "This shop has no products on sale yet." in text_of(browser_for(alpha.host).get("/"))
    assert audit_actions(app, alpha) == ["shop.profile"]


def test_bad_profile_inputs_are_refused_readably_and_nothing_typed_is_lost(app, alpha, owner):
    long_text = "公告" * 251  # 502 characters
    refused = owner.submit(
        PAGE,
        profile(
            name="  ",
            timezone="Mars/Olympus_Mons",
            brand_color="red",
            announcement=long_text,
            locale="fr",
        ),
        action=f"{PAGE}/shop",
    )

    page = text_of(refused)
    assert refused.status_code == 422
    assert "Not saved: see the marked fields." in page
    assert "Give the shop a name of 1 to 120 characters." in page
    assert "Choose a time zone from the list." in page
    assert "Write the colour as # and six hex digits, like #e4572e." in page
    assert "At most 500 characters." in page
    assert "Choose one of the languages." in page
    assert 'value="red"' in page and long_text in page
    row = shop_row(app, alpha)
    assert (row.name, row.timezone, row.brand_color, row.announcement) == (
        "Alpha",
        "Asia/Shanghai",
        "#e4572e",
        "",
    )
    assert audit_actions(app, alpha) == []


def test_saving_the_same_profile_again_writes_nothing(app, alpha, owner):
    same = profile(name="Alpha")
    owner.submit(PAGE, same, action=f"{PAGE}/shop")

    assert "Nothing was changed." in text_of(owner.get(PAGE))
    assert audit_actions(app, alpha) == []


# --- logo and banner ------------------------------------------------------------------


def test_a_logo_and_a_banner_show_on_the_storefront_until_removed(app, alpha, owner, browser_for):
    logo, banner = png((10, 20, 30)), png((250, 250, 0))

    assert upload(owner, "logo", logo).status_code == 302
    assert upload(owner, "banner", banner, "banner.gif").status_code == 302

    row = shop_row(app, alpha)
    assert re.fullmatch(r"[0-9a-f]{64}\.png", row.logo_file)
    assert row.banner_file != row.logo_file
    visitor = browser_for(alpha.host)
    home = visitor.get("/").get_data(as_text=True)
    assert f'<img class="brand-logo" src="/brand/{row.logo_file}" alt="Alpha">' in home
    assert f'<img class="shop-banner" src="/brand/{row.banner_file}"' in home
    served = visitor.get(f"/brand/{row.logo_file}")
    assert served.status_code == 200 and served.data == logo
    assert served.mimetype == "image/png"
    assert "max-age=31536000" in served.headers["Cache-Control"]
    assert "immutable" in served.headers["Cache-Control"]
    stored = Path(app.instance_path) / "uploads" / str(alpha.id) / "brand" / row.logo_file
    assert stored.read_bytes() == logo

    removed = owner.submit(PAGE, {}, action=f"{PAGE}/pictures/logo/remove")
    assert removed.status_code == 302
    assert "The logo is removed." in text_of(owner.get(PAGE))
    home = visitor.get("/").get_data(as_text=True)
    assert "brand-logo" not in home and '<a class="brand" href="/">Alpha</a>' in home
    assert visitor.get(f"/brand/{row.logo_file}").status_code == 404
    assert not stored.exists()
    assert shop_row(app, alpha).banner_file == row.banner_file
    assert audit_actions(app, alpha) == ["shop.logo", "shop.banner", "shop.logo_removed"]


def test_a_file_that_is_no_picture_or_too_large_is_refused(app, alpha, owner, monkeypatch):
    not_a_picture = upload(owner, "logo", b"<svg onload=alert(1)></svg>", "logo.png")
    assert not_a_picture.status_code == 422
    assert "The file is not a PNG, JPEG, WebP or GIF picture." in text_of(not_a_picture)

    monkeypatch.setitem(app.config, "UPLOAD_MAX_IMAGE_BYTES", 2048)
    too_large = upload(owner, "banner", png() + b"\0" * 4096)
    assert too_large.status_code == 422
    assert "The picture is larger than 2 KB." in text_of(too_large)

    nothing = upload(owner, "logo", b"", "")
    assert "Choose a picture to upload." in text_of(nothing)

    row = shop_row(app, alpha)
    assert row.logo_file is None and row.banner_file is None
    folder = Path(app.instance_path) / "uploads" / str(alpha.id) / "brand"
    assert not folder.exists() or list(folder.iterdir()) == []
    assert audit_actions(app, alpha) == []


# --- theme ------------------------------------------------------------------------------


def test_a_theme_shows_its_settings_with_labels_in_the_readers_language(owner, alpha, lab_theme):
    english = text_of(owner.get(f"{PAGE}?theme=lab"))
    owner.client.set_cookie("lang", "zh_CN", domain=alpha.host)
    chinese = text_of(owner.get(f"{PAGE}?theme=lab"))

    for label in ("Product layout", "Show stock", "Columns", "Ribbon colour", "Tagline"):
        assert label in english
    for label in ("商品布局", "显示库存", "列数", "丝带颜色", "标语"):
        assert label in chinese
    assert ">Lab</option>" in english and ">实验室</option>" in chinese
    assert 'name="setting-columns" value="4"' in english  # the default


def test_theme_settings_save_show_on_the_storefront_and_survive_a_switch(
    app, alpha, owner, browser_for, lab_theme
):
    values = {
        "theme": "lab",
        "setting-layout": "grid",
        "setting-columns": "3",
        "setting-ribbon": "#ABCDEF",
        "setting-tagline": "Fast & cheap",
    }  # show_stock unticked
    assert owner.submit(PAGE, values, action=f"{PAGE}/theme").status_code == 302

    home = text_of(browser_for(alpha.host).get("/"))
    assert "layout=grid stock=False\ncolumns=3 ribbon=#abcdef tagline=Fast & cheap" in home

    # To the default theme and back: lab's values are still there.
    assert owner.submit(PAGE, {"theme": "default"}, action=f"{PAGE}/theme").status_code == 302
    assert 'id="lab"' not in text_of(browser_for(alpha.host).get("/"))
    page = text_of(owner.get(f"{PAGE}?theme=lab"))
    assert 'name="setting-columns" value="3"' in page
    owner.submit(PAGE, {**values, "setting-show_stock": "on"}, action=f"{PAGE}/theme")
    assert "layout=grid stock=True" in text_of(browser_for(alpha.host).get("/"))

    row = shop_row(app, alpha)
    assert row.theme == "lab"
    assert row.theme_settings["lab"]["columns"] == 3
    assert audit_actions(app, alpha) == ["shop.theme"] * 3


def test_bad_theme_settings_are_refused_per_field_and_kept(app, alpha, owner, lab_theme):
    refused = owner.submit(
        PAGE,
        {
            "theme": "lab",
            "setting-layout": "carousel",
            "setting-columns": "9",
            "setting-ribbon": "blue",
            "setting-tagline": "x" * 21,
        },
        action=f"{PAGE}/theme",
    )

    page = text_of(refused)
    assert refused.status_code == 422
    assert "Some theme settings need a change" in page
    assert "Choose one of: list, grid." in page
    assert "Write a whole number from 2 to 6." in page
    assert "Write the colour as # and six hex digits, like #e4572e." in page
    assert "At most 20 characters." in page
    assert 'name="setting-columns" value="9"' in page
    assert 'value="blue"' in page and "x" * 21 in page
    row = shop_row(app, alpha)
    assert row.theme == "default" and row.theme_settings == {}

    unknown = owner.submit(PAGE, {"theme": "nope"}, action=f"{PAGE}/theme")
    assert unknown.status_code == 422 and "Choose one of the themes." in text_of(unknown)
    assert audit_actions(app, alpha) == []


# --- payments ------------------------------------------------------------------------------


@pytest.mark.critical
def test_a_payment_method_the_shop_turns_off_is_neither_offered_nor_accepted(
    app, alpha, owner, browser_for, make_account
):
    product = add_product(app, alpha, stock=codes("OFF", 4))
    buyer = browser_for(alpha.host)
    buyer.client.set_cookie("lang", "en", domain=alpha.host)
    order = placed(buyer, product)
    pay_page = f"/o/{order['number']}/pay?t={order['lookup_token']}"
    assert "Pay (sandbox)" in text_of(buyer.get(pay_page, follow_redirects=True))
    page = text_of(owner.get(PAGE))
    assert 'name="providers" value="sandbox" checked' in page
    assert 'name="providers" value="wallet" checked' in page

    saved = owner.submit(PAGE, {"providers": ["wallet"]}, action=f"{PAGE}/payments")
    assert saved.status_code == 302
    assert 'name="providers" value="sandbox" checked' not in text_of(owner.get(PAGE))
    assert shop_row(app, alpha).disabled_payment_providers == ["sandbox"]

    shown = text_of(buyer.get(pay_page, follow_redirects=True))
    assert order["number"] in shown and "Pay (sandbox)" not in shown
    assert (
        "sandbox"
        not in buyer.get(
            f"/api/v1/orders/{order['number']}?token={order['lookup_token']}"
        ).get_json()["payment_options"]
    )
    assert "sandbox" not in placed(buyer, product)["payment_options"]
    refused = pay(buyer, order, "sandbox")
    assert refused.status_code == 422
    assert refused.get_json()["type"].endswith("/payment-provider-unavailable")

    # Another shop still offers it.
    from tests.factories import open_shop

    bravo = open_shop(app, "bravo")
    other = placed(browser_for(bravo.host), add_product(app, bravo, stock=codes("ON", 1)))
    assert "sandbox" in other["payment_options"]

    # Turned on again, it is offered again.
    owner.submit(PAGE, {"providers": ["wallet", "sandbox"]}, action=f"{PAGE}/payments")
    again = placed(buyer, product)
    assert "sandbox" in again["payment_options"]
    assert pay(buyer, again, "sandbox").status_code == 200
    assert audit_actions(app, alpha) == ["shop.payments", "shop.payments"]


@pytest.mark.critical
def test_a_recharge_through_a_turned_off_method_is_refused(app, alpha, owner, make_account):
    from app.payments import recharges
    from app.payments.adapters.base import ProviderUnavailable
    from tenants.context import tenant_context

    buyer = make_account(alpha, "buyer@alpha.example.com")
    owner.submit(PAGE, {"providers": ["wallet"]}, action=f"{PAGE}/payments")

    end_outer_transaction()
    with app.app_context(), tenant_context(alpha):
        with pytest.raises(ProviderUnavailable):
            recharges.start_recharge(buyer.id, 1000, "sandbox", actor="test")
        db.session.remove()


def test_the_shop_keeps_at_least_one_payment_method(app, alpha, owner):
    refused = owner.submit(PAGE, {}, action=f"{PAGE}/payments")

    assert refused.status_code == 422
    assert "Choose at least one of the payment methods listed." in text_of(refused)
    assert shop_row(app, alpha).disabled_payment_providers == []


def test_the_stripe_account_is_set_once_and_checked(app, alpha, owner):
    providers = {"providers": ["wallet", "sandbox"]}
    bad = owner.submit(
        PAGE, {**providers, "stripe_account": "my-account"}, action=f"{PAGE}/payments"
    )
    assert bad.status_code == 422
    assert "A Stripe account id looks like acct_1AbCdEfGhIjKlMnO." in text_of(bad)
    assert 'value="my-account"' in text_of(bad)
    assert shop_row(app, alpha).stripe_account_id is None

    good = owner.submit(
        PAGE, {**providers, "stripe_account": "acct_1Alpha2Shop3"}, action=f"{PAGE}/payments"
    )
    assert good.status_code == 302
    page = text_of(owner.get(PAGE))
    assert "acct_1Alpha2Shop3" in page and 'name="stripe_account"' not in page

    again = owner.submit(
        PAGE, {**providers, "stripe_account": "acct_9Other"}, action=f"{PAGE}/payments"
    )
    assert again.status_code == 422
    assert shop_row(app, alpha).stripe_account_id == "acct_1Alpha2Shop3"
    assert audit_actions(app, alpha) == ["shop.payments"]


# --- custom domains ----------------------------------------------------------------------


def _record(page: str) -> tuple[str, str]:
    name = re.search(r"<dt>Name</dt><dd><code>([^<]+)</code>", page).group(1)
    value = re.search(r"<dt>Value</dt><dd><code>([^<]+)</code>", page).group(1)
    return name, value


@pytest.mark.critical
def test_a_custom_domain_is_connected_verified_and_removed(
    app, alpha, owner, browser_for, dns_stub
):
    host = "cards.alpha-shop.example"
    added = owner.submit(PAGE, {"host": "Cards.Alpha-Shop.Example"}, action=f"{PAGE}/domains")
    assert added.status_code == 302
    page = text_of(owner.get(PAGE))
    assert f"{host} is connected. Publish the TXT record below" in page
    assert "Waiting for the DNS record" in page
    name, value = _record(page)
    assert name == f"_kameng.{host}" and len(value) >= 24
    assert browser_for(host).get("/").status_code == 404  # not before it is verified

    verify = f"{PAGE}/domains/{host}/verify"
    owner.submit(PAGE, {}, action=verify)
    assert f"No TXT record _kameng.{host} was found yet." in text_of(owner.get(PAGE))

    dns_stub.records[name] = ["something-else"]
    owner.submit(PAGE, {}, action=verify)
    assert "was found, but it does not hold this domain's value" in text_of(owner.get(PAGE))
    assert browser_for(host).get("/").status_code == 404

    dns_stub.records[name] = ["v=other", value]
    assert owner.submit(PAGE, {}, action=verify).status_code == 302
    page = text_of(owner.get(PAGE))
    assert f"{host} is verified: the shop answers there now." in page
    assert "Verify now" not in page
    there = browser_for(host).get("/?lang=en")
    assert there.status_code == 200 and "Alpha" in text_of(there)

    removed = owner.submit(PAGE, {}, action=f"{PAGE}/domains/{host}/remove")
    assert removed.status_code == 302
    assert f"{host} is removed" in text_of(owner.get(PAGE))
    assert browser_for(host).get("/").status_code == 404
    assert audit_actions(app, alpha) == ["domain.added", "domain.verified", "domain.removed"]


def test_a_domain_that_cannot_be_connected_is_refused_and_kept(
    app, alpha, owner, make_shop, browser_for
):
    for host in ("bravo.localhost", "127.0.0.1", "intranet", "bad_host!"):
        refused = owner.submit(PAGE, {"host": host}, action=f"{PAGE}/domains")
        page = text_of(refused)
        assert refused.status_code == 422, host
        assert "Use a domain name you own, such as shop.example.com" in page
        assert f'value="{host}"' in page

    bravo = make_shop("bravo")
    signed_in(browser_for, bravo.host, bravo.owner_email).submit(
        PAGE, {"host": "taken.example"}, action=f"{PAGE}/domains"
    )
    taken = owner.submit(PAGE, {"host": "taken.example"}, action=f"{PAGE}/domains")
    assert taken.status_code == 422
    assert "That domain is already connected to a shop." in text_of(taken)
    assert "taken.example</strong>" not in text_of(owner.get(PAGE))
    assert audit_actions(app, alpha) == []


# --- the migration ------------------------------------------------------------------------


def test_migration_0008_moves_flat_theme_settings_under_the_shops_theme(app, app_config, tmp_path):
    """A shop's values stored before 0008 (one flat object) become its
    current theme's, and go back flat on a downgrade; every shop keeps
    offering every payment method."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from app import create_app

    migrations = str(Path(__file__).resolve().parents[2] / "migrations")
    other = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'm.sqlite3'}"})
    with other.app_context():
        upgrade(directory=migrations, revision="0007")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO tenants (id, slug, name, status, theme, locale, currency,"
                    " theme_settings) VALUES ('0190a6d2c1e87c2a9f3e5b7d1a2c4e6f', 'old', 'Old',"
                    " 'active', 'lab', 'zh_CN', 'CNY', '{\"columns\": 3}')"
                )
            )
        upgrade(directory=migrations, revision="0008")
        with db.engine.connect() as conn:
            row = conn.execute(
                text("SELECT theme_settings, disabled_payment_providers FROM tenants")
            ).one()
        assert json.loads(row[0]) == {"lab": {"columns": 3}} and json.loads(row[1]) == []
        downgrade(directory=migrations, revision="0007")
        with db.engine.connect() as conn:
            flat = conn.execute(text("SELECT theme_settings FROM tenants")).scalar_one()
        assert json.loads(flat) == {"columns": 3}
        db.session.remove()
        db.engine.dispose()
