import pytest

from tests.agents.money_support import fill_wallet
from tests.factories import codes
from tests.live import serving
from tests.supply.support import open_supply, partner_of


@pytest.fixture
def live(app):
    """The app under werkzeug's threaded server on a loopback port."""
    with serving(app) as port:
        yield port


@pytest.fixture
def docking(app, live, make_shop, make_account, make_product):
    """Shop ``alpha`` with its supply API open, an agent ``partner`` holding a
    credential with 500.00 in its wallet, and a card product (``card``,
    10.00, five codes) and a top-up (``topup``, 20.00)."""
    shop = make_shop("alpha", key_role="owner")
    agent = make_account(shop, "dock@alpha.example.com", "agent")
    card = make_product(shop, name="Steam 10", price=1_000, stock=codes("ST", 5))
    topup = make_product(
        shop,
        name="Phone top-up",
        price=2_000,
        kind="topup",
        input_fields=[{"name": "phone", "label": "Phone", "required": True}],
    )
    open_supply(app, shop)
    fill_wallet(app, shop, agent.id, 50_000)
    partner = partner_of(app, live, shop, agent.email)
    return {"shop": shop, "agent": agent, "card": card, "topup": topup, "partner": partner}
