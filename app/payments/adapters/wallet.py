"""``wallet``: pays from the payer's shop balance (余额支付).

Nothing leaves the platform: the payment is the ledger transaction the
order's payment posts from ``wallet:<account>``, which refuses to take a
wallet below zero. So ``start`` only checks there is a payer and says where
the money comes from; the buyer is waiting, so a card order is delivered
in the same request. A refund to the original payment goes back to the
same wallet.
"""

from __future__ import annotations

import uuid

from flask_babel import lazy_gettext as _l

from app.core.errors import ValidationFailed
from app.ledger.models import wallet_code
from app.payments.adapters.base import SUCCEEDED, Charge, PaymentAdapter, PaymentStart


class WalletAdapter(PaymentAdapter):
    name = "wallet"
    pays_from_wallet = True
    delivers_in_request = True
    recharges = False  # a wallet is not filled from itself
    rank = 0
    title = _l("Shop balance (buyers pay from their balance in this shop)")
    label = _l("Pay from my balance")
    title = _l("Balance")
    primary = True

    def ledger_source(self, payer_id: uuid.UUID | None) -> str:
        return wallet_code(payer_id)

    def start(self, charge: Charge) -> PaymentStart:
        if charge.payer_id is None:
            raise ValidationFailed(
                "Sign in to pay from your balance.", errors={"provider": ["Needs an account."]}
            )
        return PaymentStart(
            self.name,
            SUCCEEDED,
            f"wallet:{charge.subject_id}",
            self.ledger_source(charge.payer_id),
        )

    def refund(self, *, tenant_id, provider_ref, key, payer_id) -> str:
        return wallet_code(payer_id)
