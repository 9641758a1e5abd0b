"""The JSON API at ``/api/v1`` on every shop host, described by OpenAPI
(``/api/v1/openapi.json``, docs at ``/api/v1/docs``).

Domain packages own their endpoints (``<domain>/api.py``, flask-smorest
blueprints); this module registers them, declares the bearer-key security
scheme, and puts one gate in front of every API blueprint: shop hosts only,
the caller authenticated before the endpoint runs (a bad key is a 401 even
on public endpoints), and session callers' writes CSRF-checked (the
blueprints are exempt from the form CSRF check; API keys need none).
"""

from __future__ import annotations

from flask import Flask, g, request
from flask_smorest import Api

from app.core.errors import UnknownShop


def _api_gate(names: frozenset[str]):
    # An app-level hook, not blueprint ones: the blueprints are module-level
    # objects and Flask refuses changes to a blueprint once registered, so a
    # second ``create_app`` in one process (tests, scripts) would fail.
    if request.blueprint not in names:
        return
    if g.get("site") != "shop":
        raise UnknownShop("The API answers on a shop's host, such as <slug>.<domain>.")
    from app.accounts.auth import authenticate_api_request

    authenticate_api_request()


def api_blueprints():
    from app.accounts.api import blp as accounts_blp
    from app.agents.me_api import blp as agent_self_blp
    from app.agents.withdrawals_api import blp as withdrawals_blp
    from app.billing.api import blp as billing_blp
    from app.catalog.api import blp as catalog_blp
    from app.catalog.cards_api import blp as cards_blp
    from app.ledger.api import blp as wallet_blp
    from app.orders.api import blp as orders_blp
    from app.payments.api import blp as payments_blp
    from app.pricing.api import blp as pricing_blp
    from app.settings.api import blp as settings_blp
    from app.storefront.api import blp as shop_blp
    from app.supply.api import blp as supply_blp
    from app.supply.credentials_api import blp as supply_credentials_blp
    from app.supply.portal_api import blp as supplier_self_blp

    return [
        shop_blp,
        accounts_blp,
        catalog_blp,
        orders_blp,
        wallet_blp,
        payments_blp,
        cards_blp,
        agent_self_blp,
        pricing_blp,
        settings_blp,
        withdrawals_blp,
        supply_blp,
        supply_credentials_blp,
        billing_blp,
        supplier_self_blp,
    ]


def platform_blueprints():
    """Endpoints outside the shop gate: they answer on every host and
    authenticate themselves (a provider's webhook checks its signature)."""
    from app.billing.connect_webhook import blp as connect_events_blp
    from app.payments.webhooks import blp as webhooks_blp

    return [webhooks_blp, connect_events_blp]


def init_api(app: Flask, api: Api, csrf) -> None:
    api.init_app(app, spec_kwargs={"servers": [{"url": "/"}]})
    api.spec.components.security_scheme(
        "apiKey",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An operator API key (km_…), created in the console or with "
            "`flask --app wsgi tenants api-key SLUG`; or an agent's own key "
            "(`POST /api/v1/me/api-keys`), which acts as that agent.",
        },
    )
    blueprints = api_blueprints()
    for blp in blueprints:
        api.register_blueprint(blp, url_prefix="/api/v1" + (blp.url_prefix or ""))
        csrf.exempt(blp)
    for blp in platform_blueprints():
        api.register_blueprint(blp, url_prefix="/api/v1" + (blp.url_prefix or ""))
        csrf.exempt(blp)
    from app.supply.server import init_supply_api

    init_supply_api(app, api, csrf)  # /supply/v1: signed requests, its own gate
    names = frozenset(blp.name for blp in blueprints)
    app.before_request(lambda: _api_gate(names))
