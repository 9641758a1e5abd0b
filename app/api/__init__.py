"""The JSON API at ``/api/v1`` on every shop host, described by OpenAPI
(``/api/v1/openapi.json``, docs at ``/api/v1/docs``).

Domain packages own their endpoints (``<domain>/api.py``, flask-smorest
blueprints); this module registers them, declares the bearer-key security
scheme, and makes every API blueprint shop-only and CSRF-exempt (session
callers are CSRF-checked in ``require`` instead; API keys need no CSRF).
"""

from __future__ import annotations

from flask import Flask, g
from flask_smorest import Api

from app.core.errors import UnknownShop


def _shop_only():
    if g.get("site") != "shop":
        raise UnknownShop("The API answers on a shop's host, such as <slug>.<domain>.")


def api_blueprints():
    from app.accounts.api import blp as accounts_blp
    from app.storefront.api import blp as shop_blp

    return [shop_blp, accounts_blp]


def init_api(app: Flask, api: Api, csrf) -> None:
    api.init_app(app, spec_kwargs={"servers": [{"url": "/"}]})
    api.spec.components.security_scheme(
        "apiKey",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An operator API key (km_…), created in the console or with "
            "`flask --app wsgi tenants api-key SLUG`.",
        },
    )
    for blp in api_blueprints():
        blp.before_request(_shop_only)
        api.register_blueprint(blp, url_prefix="/api/v1" + (blp.url_prefix or ""))
        csrf.exempt(blp)
