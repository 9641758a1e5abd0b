"""Ledger transaction kinds as a person reads them (a wallet's history in
the console). The kinds are the codes the posting services use."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

KIND_LABELS = {
    "recharge": _l("Top-up"),
    "order_payment": _l("Order payment"),
    "refund": _l("Refund"),
    "adjustment": _l("Balance adjustment"),
    "commission": _l("Commission"),
    "commission_settled": _l("Commission settled"),
    "commission_reversed": _l("Commission reversed"),
    "commission_clawback": _l("Commission clawed back"),
    "withdrawal": _l("Withdrawal requested"),
    "withdrawal_paid": _l("Withdrawal paid"),
    "withdrawal_returned": _l("Withdrawal returned"),
    "tier_fee": _l("Agent tier fee"),
    "supply_payable": _l("Supplier codes sold (payable)"),
    "supplier_deposit": _l("Supplier deposit"),
    "platform_commission": _l("Platform commission"),
    "platform_fee_reversed": _l("Platform commission reversed"),
    "platform_billed": _l("Platform commission billed"),
}


def kind_label(kind: str) -> str:
    label = KIND_LABELS.get(kind)
    return str(label) if label is not None else kind.replace("_", " ")
