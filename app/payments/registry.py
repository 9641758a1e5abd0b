"""Payment providers by name: the one place that lists them.

Adding a provider is one module in ``payments/adapters/`` and one line
here. Everything else asks the registry (``adapter``, ``available``) and
reads the adapter's flags; nothing outside ``adapters/`` and this module
names a provider.

What buyers may use is the platform's choice first (``PAYMENT_PROVIDERS``
and each provider's configuration), then the shop's: an operator turns
providers off in the console's settings (``Tenant.disabled_payment_providers``),
and ``available`` and ``usable`` leave those out for that shop. Refunds and
notifications of a payment already made go through ``adapter`` whatever
either choice is now.
"""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.payments.adapters.base import PaymentAdapter, ProviderUnavailable
from app.payments.adapters.sandbox import SandboxAdapter
from app.payments.adapters.stripe import StripeAdapter
from app.payments.adapters.wallet import WalletAdapter
from tenants.context import current_tenant_id
from tenants.models import Tenant

ADAPTERS: dict[str, PaymentAdapter] = {
    adapter.name: adapter for adapter in (WalletAdapter(), SandboxAdapter(), StripeAdapter())
}
NAMES: tuple[str, ...] = tuple(ADAPTERS)
RECHARGE_NAMES: tuple[str, ...] = tuple(a.name for a in ADAPTERS.values() if a.recharges)


def adapter(name: str | None) -> PaymentAdapter:
    """The provider ``name`` whatever its state (refunds and webhooks of a
    provider since disabled still need it); ``ProviderUnavailable`` when no
    such provider exists."""
    found = ADAPTERS.get(name or "")
    if found is None:
        raise ProviderUnavailable(f"Unknown payment method '{name}'.")
    return found


def title(name: str | None) -> str:
    """The provider ``name`` as an operator knows it ("Stripe", "Balance"),
    in the reader's language; an unknown name as it is."""
    found = ADAPTERS.get(name or "")
    return str(found.title) if found is not None and found.title else (name or "")


def pays_from_wallet(name: str | None) -> bool:
    """Whether ``name`` is the provider that pays from the buyer's balance
    (its references are internal, not the provider's own)."""
    found = ADAPTERS.get(name or "")
    return found is not None and found.pays_from_wallet


def usable(name: str | None) -> PaymentAdapter:
    """The provider ``name`` if buyers of the current shop may pay with it
    now (enabled and configured on this platform, and not turned off by the
    shop); ``ProviderUnavailable`` otherwise."""
    found = adapter(name)
    if not found.available():
        raise ProviderUnavailable(f"'{name}' is not available on this platform.")
    if found.name in turned_off_by_shop():
        raise ProviderUnavailable(f"This shop does not take payments through '{name}'.")
    return found


def available() -> list[PaymentAdapter]:
    """Every provider buyers of the current shop may pay with now (the
    platform's, less those the shop turned off), in the order a buyer sees
    them."""
    off = turned_off_by_shop()
    return [a for a in offered_by_platform() if a.name not in off]


def offered_by_platform() -> list[PaymentAdapter]:
    """Every provider enabled and configured on this platform, in the order
    a buyer sees them: what a shop may choose from (console › Settings)."""
    return sorted((a for a in ADAPTERS.values() if a.available()), key=lambda a: a.rank)


def turned_off_by_shop() -> frozenset[str]:
    """The providers the current shop does not offer (none outside a shop)."""
    tenant_id = current_tenant_id()
    if tenant_id is None:
        return frozenset()
    names = db.session.scalar(
        select(Tenant.disabled_payment_providers).where(Tenant.id == tenant_id)
    )
    return frozenset(names or ())


def production_problems(cfg: dict) -> list[str]:
    """What ``ENV=production`` refuses in the payment settings of ``cfg``, one
    sentence each: a provider meant for development, one that does not exist
    (a typo in ``PAYMENT_PROVIDERS`` would otherwise hide a method), and
    Stripe taking payments without the secret its webhooks are checked
    with (every payment would stay unconfirmed, or be confirmable by anyone)."""
    enabled = cfg["PAYMENT_PROVIDERS"]
    problems = [
        f"the {name} payment provider is refused in production"
        for name in enabled
        if name in ADAPTERS and ADAPTERS[name].development_only
    ]
    problems += [
        f"no payment provider is called {name!r}" for name in enabled if name not in ADAPTERS
    ]
    if (
        "stripe" in enabled
        and cfg.get("STRIPE_SECRET_KEY")
        and not cfg.get("STRIPE_WEBHOOK_SECRET")
    ):
        problems.append("STRIPE_WEBHOOK_SECRET must be set when Stripe is enabled")
    return problems


def opt_in_problems(cfg: dict) -> list[str]:
    """A provider listed in ``PAYMENT_PROVIDERS`` without the opt-in it needs
    (``SANDBOX_PAYMENTS=on`` for the sandbox), in any environment."""
    if "sandbox" in cfg["PAYMENT_PROVIDERS"] and not cfg["SANDBOX_PAYMENTS"]:
        return [
            "PAYMENT_PROVIDERS lists sandbox but SANDBOX_PAYMENTS is not on: "
            "set SANDBOX_PAYMENTS=on to take test payments, or remove sandbox"
        ]
    return []


def configuration_problems(cfg: dict, production: bool) -> list[str]:
    """The payment settings' problems (``app.config.load_config`` refuses
    them with the rest): the opt-ins everywhere, more in production."""
    return opt_in_problems(cfg) + (production_problems(cfg) if production else [])


def sandbox_on() -> bool:
    """Whether buyers of this platform may pay with the sandbox (test
    payments: no money moves); every shop page says so while it is."""
    return ADAPTERS["sandbox"].available()
