"""``sandbox``: development and tests. Every payment succeeds at once and no
money moves; it is confirmed through the same path a real provider's
webhook takes, and the fulfilment worker delivers (as after a webhook).

Off unless asked for twice: ``SANDBOX_PAYMENTS=on`` (which also puts it in the
default ``PAYMENT_PROVIDERS``) and ``sandbox`` in ``PAYMENT_PROVIDERS``.
Refused when ``ENV=production``: the app will not start with either
(``app.config`` and ``registry.production_problems``)."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.payments.adapters.base import SUCCEEDED, Charge, PaymentAdapter, PaymentStart


class SandboxAdapter(PaymentAdapter):
    name = "sandbox"
    recharges = True
    development_only = True
    rank = 10
    title = _l("Test payments (sandbox: every payment succeeds, no money moves)")
    label = _l("Pay (sandbox)")
    title = _l("Test payments")
    hint = _l("Test payment: no money moves. Not available in a live shop.")

    def available(self) -> bool:
        return super().available() and bool(current_app.config.get("SANDBOX_PAYMENTS"))

    def start(self, charge: Charge) -> PaymentStart:
        return PaymentStart(
            self.name, SUCCEEDED, f"sb_{charge.subject_id.hex}", self.ledger_source(None)
        )

    def refund(self, *, tenant_id, provider_ref, key, payer_id) -> str:
        return self.ledger_source(None)  # no money was taken, none goes back
