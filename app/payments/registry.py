"""Payment providers by name: the one place that lists them.

Adding a provider is one module in ``payments/adapters/`` and one line
here. Everything else asks the registry (``adapter``, ``available``) and
reads the adapter's flags; nothing outside ``adapters/`` and this module
names a provider.
"""

from __future__ import annotations

from app.payments.adapters.base import PaymentAdapter, ProviderUnavailable
from app.payments.adapters.sandbox import SandboxAdapter
from app.payments.adapters.stripe import StripeAdapter
from app.payments.adapters.wallet import WalletAdapter

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
    """The provider ``name`` if buyers may pay with it now (enabled and
    configured on this platform); ``ProviderUnavailable`` otherwise."""
    found = adapter(name)
    if not found.available():
        raise ProviderUnavailable(f"'{name}' is not available on this platform.")
    return found


def available() -> list[PaymentAdapter]:
    """Every provider buyers may pay with now, in the order a buyer sees them."""
    return sorted((a for a in ADAPTERS.values() if a.available()), key=lambda a: a.rank)


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
