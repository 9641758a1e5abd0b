"""The operator console on a shop host (``/console/``).

Each topic is a module with its own blueprint named ``console_<topic>``
(``console`` itself: sign-in, the dashboard, API keys). The app registers
every module listed in ``PAGE_MODULES``; the navigation (``nav.py``) shows
an entry once its endpoint exists and the signed-in member may open it.
Views parse the form, call one service (the same the API calls) and render.
"""

PAGE_MODULES = (
    "app.console.views",
    "app.console.orders_views",
    "app.console.settings_views",
    "app.console.password_views",
    "app.console.catalog_views",
    "app.console.customers_views",
    "app.console.staff_views",
    "app.console.audit_views",
    "app.console.pricing_views",
    "app.console.agent_settings_views",
    "app.console.agents_views",
    "app.console.withdrawals_views",
    "app.console.ledger_views",
    "app.console.supply_views",
    "app.console.supply_api_views",
    "app.console.plan_views",
    "app.console.billing_views",
    "app.console.connect_views",
)


def register_console(app) -> None:
    import importlib

    from app.console.nav import console_nav

    for name in PAGE_MODULES:
        app.register_blueprint(importlib.import_module(name).bp)
    app.jinja_env.globals["console_nav"] = console_nav
