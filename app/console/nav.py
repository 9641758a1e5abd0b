"""The console's navigation: one list, in the order an operator works.

Each entry names the endpoint of its page, the permission that shows it,
and its label. An entry whose endpoint is not registered is left out, so a
page module can be added (or not yet exist) without touching the layout.
The layout calls ``console_nav()`` (a Jinja global).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request, url_for
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class NavEntry:
    endpoint: str
    label: object  # a lazy string
    permission: str
    #: other endpoints under this entry (their pages mark it as current)
    prefix: str = ""


NAV: tuple[NavEntry, ...] = (
    NavEntry("console.dashboard", _l("Overview"), "shop.console"),
    NavEntry("console_catalog.products", _l("Products"), "catalog.view", "console_catalog."),
    NavEntry("console_catalog.categories", _l("Categories"), "catalog.view"),
    NavEntry("console_orders.orders", _l("Orders"), "orders.view", "console_orders."),
    NavEntry("console_orders.tickets", _l("Tickets"), "orders.view"),
    NavEntry("console_customers.customers", _l("Customers"), "accounts.view", "console_customers."),
    NavEntry("console_pricing.tiers", _l("Agent tiers"), "pricing.view", "console_pricing.tier"),
    NavEntry("console_pricing.rules", _l("Price rules"), "pricing.view", "console_pricing.rule"),
    NavEntry("console_pricing.coupons", _l("Coupons"), "pricing.view", "console_pricing.coupon"),
    NavEntry("console_agent_settings.agent_settings", _l("Agent settings"), "agents.view"),
    NavEntry("console_agents.agents", _l("Agents"), "agents.view", "console_agents.agent"),
    NavEntry("console_agents.commissions", _l("Commissions"), "agents.view"),
    NavEntry("console_withdrawals.withdrawals_list", _l("Withdrawals"), "withdrawals.manage"),
    NavEntry("console_supply.suppliers_list", _l("Suppliers"), "supply.view", "console_supply."),
    NavEntry("console_ledger.reconciliation", _l("Reconciliation"), "ledger.view"),
    NavEntry("console_supply_api.credentials_page", _l("Supply API"), "supply.view"),
    NavEntry("console_settings.settings", _l("Settings"), "shop.manage", "console_settings."),
    NavEntry("console_plan.plan", _l("Plan"), "shop.manage"),
    NavEntry("console_billing.statement", _l("Statements"), "ledger.view", "console_billing."),
    NavEntry("console_staff.staff", _l("Staff"), "members.view", "console_staff."),
    NavEntry("console.api_keys", _l("API keys"), "apikeys.manage"),
    NavEntry("console_audit.audit", _l("Audit log"), "shop.manage", "console_audit."),
)


def console_nav(principal) -> list[dict]:
    """The entries ``principal`` may open, with their URLs and which one is
    the current page."""
    views = current_app.view_functions
    here = request.endpoint or ""
    items = []
    for entry in NAV:
        if entry.endpoint not in views or not principal.can(entry.permission):
            continue
        current = here == entry.endpoint or bool(
            entry.prefix and here.startswith(entry.prefix) and not _exact_elsewhere(here)
        )
        items.append({"url": url_for(entry.endpoint), "label": entry.label, "current": current})
    return items


def _exact_elsewhere(endpoint: str) -> bool:
    """Whether ``endpoint`` is itself an entry (then only it is current)."""
    return any(entry.endpoint == endpoint for entry in NAV)
