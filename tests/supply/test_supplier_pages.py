"""The console's supplier and product source pages as an owner uses them.

Forms create and change rows through the same services as the API; a bad
input is shown at its field in words, with everything typed kept (but the
secret, never written back into a page) and nothing written; money is
typed as 12.50. Every page answers the owner, sends a stranger to sign in
and is 404 to another shop's owner; staff see the pages but change nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from tests.console.support import audit_trail, console, text_of
from tests.factories import run_in_shop, shop_rows
from tests.supply.support import make_source, make_supplier

pytestmark = pytest.mark.critical


@pytest.fixture
def alpha(make_shop):
    return make_shop("alpha")


@pytest.fixture
def owner(alpha, browser_for):
    return console(browser_for, alpha.host, alpha.owner_email)


@pytest.fixture
def product(alpha, make_product):
    return make_product(alpha, name="Steam 钱包 ¥100", price=10_000)


def suppliers_of(app, shop) -> list[dict]:
    from app.supply.models import Supplier

    return run_in_shop(
        app,
        shop,
        lambda: [
            {"name": s.name, "status": s.status, "deposit": s.deposit, "secret": s.secret}
            for s in db.session.scalars(select(Supplier).order_by(Supplier.name))
        ],
    )


def pages(alpha_ids: dict) -> list[str]:
    return [
        "/console/suppliers",
        "/console/suppliers/new",
        f"/console/suppliers/{alpha_ids['supplier']}",
        f"/console/products/{alpha_ids['product']}/sources",
        f"/console/products/{alpha_ids['product']}/sources/{alpha_ids['source']}",
    ]


@pytest.fixture
def world(app, alpha, product):
    supplier = make_supplier(app, alpha)
    source = make_source(app, alpha, product, supplier)
    return {"supplier": supplier, "product": product, "source": source}


def test_every_page_answers_the_owner_and_sends_a_stranger_to_sign_in(
    alpha, owner, browser_for, world
):
    for path in pages(world):
        assert owner.get(path).status_code == 200, path
        stranger = browser_for(alpha.host).get(path)
        assert stranger.status_code == 302 and "/console/login" in stranger.location, path


def test_another_shops_owner_gets_404_for_this_shops_rows(
    app, alpha, make_shop, browser_for, world
):
    bravo = make_shop("bravo")
    intruder = console(browser_for, bravo.host, bravo.owner_email)

    for path in pages(world)[2:]:
        assert intruder.get(path).status_code == 404, path
    before = shop_rows(app, alpha.id)
    posted = intruder.submit(
        "/console/suppliers/new",
        {"status": "blacklisted"},
        action=f"/console/suppliers/{world['supplier']}/status",
    )
    assert posted.status_code == 404
    assert shop_rows(app, alpha.id) == before


def test_the_owner_adds_a_supplier_and_its_secret_is_never_shown(app, alpha, owner):
    made = owner.submit(
        "/console/suppliers/new",
        {
            "name": "Upstream",
            "kind": "http",
            "base_url": "https://up.example.com/supply/v1",
            "key_id": "key-1",
            "secret": "very-secret",
            "deposit": "120.50",
            "note": "",
        },
    )
    assert made.status_code == 302, text_of(made)
    [row] = suppliers_of(app, alpha)
    assert (row["name"], row["status"], row["deposit"]) == ("Upstream", "vetting", 12_050)
    page = text_of(owner.get(made.location))
    assert "very-secret" not in page and "key-1" in page
    listed = text_of(owner.get("/console/suppliers"))
    assert "Upstream" in listed and "No supply attempts yet" in listed


def test_a_bad_supplier_form_names_the_field_and_keeps_what_was_typed(app, alpha, owner):
    sent = owner.submit(
        "/console/suppliers/new",
        {
            "name": "Upstream",
            "kind": "http",
            "base_url": "http://up.example.com",
            "key_id": "key-1",
            "secret": "very-secret",
            "deposit": "12.5.0",
        },
    )
    page = text_of(sent)
    assert sent.status_code == 422
    assert "Write an amount like 12.50." in page
    assert "Must use https://" in page
    assert 'value="Upstream"' in page and 'value="key-1"' in page
    assert "very-secret" not in page
    assert suppliers_of(app, alpha) == []


def test_status_actions_vet_suspend_and_blacklist(app, alpha, owner, world):
    for status in ("active", "suspended", "blacklisted"):
        done = owner.submit(
            "/console/suppliers",
            {"status": status},
            action=f"/console/suppliers/{world['supplier']}/status",
        )
        assert done.status_code == 302
        assert suppliers_of(app, alpha)[0]["status"] == status
    assert [a for _, a, _, _ in audit_trail(app, alpha) if a == "supplier.status"] == [
        "supplier.status"
    ] * 3


def test_a_blank_secret_on_edit_keeps_the_stored_one(app, alpha, owner, world):
    before = suppliers_of(app, alpha)[0]["secret"]
    saved = owner.submit(
        f"/console/suppliers/{world['supplier']}",
        {
            "name": "Renamed",
            "base_url": "https://up.example.com/supply/v1",
            "key_id": "sk_live_1",
            "secret": "",
            "deposit": "0",
            "note": "good",
        },
    )
    assert saved.status_code == 302, text_of(saved)
    row = suppliers_of(app, alpha)[0]
    assert row["name"] == "Renamed" and row["secret"] == before


def test_the_owner_adds_edits_and_removes_a_source(app, alpha, owner, product):
    supplier = make_supplier(app, alpha, name="Second")
    url = f"/console/products/{product}/sources"

    bad = owner.submit(url, {"supplier_id": str(supplier), "sku": "", "cost": "abc"})
    assert bad.status_code == 422
    assert "Write an amount like 12.50." in text_of(bad)
    added = owner.submit(
        url,
        {
            "supplier_id": str(supplier),
            "sku": "SKU-9",
            "cost": "8.00",
            "priority": "3",
            "enabled": "y",
        },
    )
    assert added.status_code == 302, text_of(added)
    page = text_of(owner.get(url))
    assert "SKU-9" in page and "¥8.00" in page

    from app.supply import sources

    [source] = run_in_shop(app, alpha, lambda: [s.id for s in sources.list_sources(product)])
    edited = owner.submit(
        f"{url}/{source}",
        {"supplier_id": str(supplier), "sku": "SKU-9", "cost": "7.50", "priority": "1"},
    )
    assert edited.status_code == 302, text_of(edited)
    assert run_in_shop(
        app, alpha, lambda: [(s.cost, s.enabled) for s in sources.list_sources(product)]
    ) == [(750, False)]
    removed = owner.submit(url, {}, action=f"{url}/{source}/delete")
    assert removed.status_code == 302
    assert "No sources yet" in text_of(owner.get(url))


def test_staff_see_the_pages_but_change_nothing(app, alpha, browser_for, make_member, world):
    make_member(alpha, "staff@alpha.example.com", "staff")
    staff = console(browser_for, alpha.host, "staff@alpha.example.com")
    before = shop_rows(app, alpha.id)

    for path in pages(world):
        if path.endswith("/new"):
            assert staff.get(path).status_code == 403
        else:
            assert staff.get(path).status_code == 200, path
    refused = staff.submit(
        "/console/suppliers",
        {"status": "blacklisted"},
        action=f"/console/suppliers/{world['supplier']}/status",
    )
    assert refused.status_code == 403
    assert shop_rows(app, alpha.id) == before


def test_the_product_page_links_to_its_sources(owner, product):
    page = text_of(owner.get(f"/console/products/{product}"))
    assert f"/console/products/{product}/sources" in page
