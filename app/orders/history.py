"""An order's statuses and history as a person reads them.

The history's ``note`` is written by the service that moved the order
(``payment.confirm_payment``: ``"<provider> <reference>"``, with
``" (after expiry)"`` for a late payment; ``remedies``: ``"retry"``,
``"delivered by hand"``, ``"refund to <target>[ claimed]"``;
``fulfilment``: ``"<n> of <m> codes available"``; ``supply.routing``:
``"supplier reference <ref>"``, ``"delivered by the supplier"``, ``"no
source could supply it"``, ``"the supplier stayed silent"``; the
switch-source remedy: ``"stopped waiting on the silent source"``). ``describe_note`` is
the one reader of those forms; a note of another form is shown as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.accounts.actors import describe_actors, provider_name
from app.orders.models import (
    CANCELLED,
    DELIVERED,
    EXPIRED,
    FAILED,
    FULFILLING,
    PAID,
    PARTIAL,
    PENDING,
    REFUNDED,
    REFUNDING,
    OrderEvent,
)
from app.payments import registry

#: Status names for the console (the same words as its templates' macro).
STATUS_LABELS = {
    PENDING: _l("Awaiting payment"),
    PAID: _l("Paid"),
    FULFILLING: _l("Delivering"),
    DELIVERED: _l("Delivered"),
    PARTIAL: _l("Partly delivered"),
    EXPIRED: _l("Expired"),
    CANCELLED: _l("Cancelled"),
    FAILED: _l("Failed: ticket open"),
    REFUNDING: _l("Refunding"),
    REFUNDED: _l("Refunded"),
}

_FIXED_NOTES = {
    "retry": _l("Delivery tried again"),
    "delivered by hand": _l("Delivered by hand"),
    "refund to wallet claimed": _l("Refund to the buyer's balance started"),
    "refund to original claimed": _l("Refund to the original payment started"),
    "refund to wallet": _l("Refunded to the buyer's balance"),
    "refund to original": _l("Refunded to the original payment"),
    "no source could supply it": _l("No source could supply it"),
    "the supplier stayed silent": _l("The supplier stayed silent past the deadline"),
    "stopped waiting on the silent source": _l("Stopped waiting on the silent supplier"),
    "delivered by the supplier": _l("Delivered by the supplier"),
}
_SHORT_STOCK = re.compile(r"(\d+) of (\d+) codes available")
_AFTER_EXPIRY = " (after expiry)"
_SUPPLIER_REF = "supplier reference "


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def describe_note(note: str, to_status: str | None = None) -> str:
    """A history note in the reader's language (see the module doc)."""
    note = (note or "").strip()
    if not note:
        return ""
    if note in _FIXED_NOTES:
        return str(_FIXED_NOTES[note])
    if note.startswith(_SUPPLIER_REF):
        return _("Delivered by the supplier (reference %(ref)s)", ref=note[len(_SUPPLIER_REF) :])
    short = _SHORT_STOCK.fullmatch(note)
    if short:
        return _("Only %(have)s of %(want)s codes were in stock", have=short[1], want=short[2])
    if to_status == PAID:
        late = note.endswith(_AFTER_EXPIRY)
        provider, _sep, reference = note.removesuffix(_AFTER_EXPIRY).partition(" ")
        if registry.pays_from_wallet(provider):
            paid = _("Paid from the buyer's balance")
        elif reference:
            paid = _(
                "Paid through %(provider)s (%(reference)s)",
                provider=provider_name(provider),
                reference=reference,
            )
        else:
            paid = _("Paid through %(provider)s", provider=provider_name(provider))
        return paid + (_(", after the order had expired") if late else "")
    return note


@dataclass(frozen=True)
class HistoryLine:
    """One line of an order's history for the console."""

    created_at: object
    status: str
    status_label: str
    actor: str
    note: str


def describe_history(events: list[OrderEvent]) -> list[HistoryLine]:
    """The order's events with people's words for who acted and what the
    note says (one lookup for API key names, whatever the length)."""
    actors = describe_actors(e.actor for e in events)
    return [
        HistoryLine(
            created_at=e.created_at,
            status=e.to_status,
            status_label=status_label(e.to_status),
            actor=actors.get(e.actor, e.actor),
            note=describe_note(e.note, e.to_status),
        )
        for e in events
    ]
