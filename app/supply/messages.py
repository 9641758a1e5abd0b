"""The supply services' field errors in the reader's language, for pages.

``app.supply.suppliers`` and ``app.supply.sources`` answer in English (the
API shows it to developers as it is); a console page shows
``page_errors(errors)``. Sentences of their own are msgids here, marked
with ``N_``; the ones they share with pricing and the catalogue are theirs
(``app.pricing.messages``). A sentence none knows is shown as it is.
"""

from __future__ import annotations

from flask_babel import gettext as _

from app.pricing.messages import page_message as pricing_message


def N_(message: str) -> str:
    """Mark ``message`` for extraction (gettext_noop); return it unchanged."""
    return message


FIXED = frozenset(
    {
        N_("Give the supplier a name."),
        N_("Another supplier has this name."),
        N_("Give the supplier's API address, like https://shop.example.com/supply/v1."),
        N_("Not a web address."),
        N_("Must be a web address starting with https://."),
        N_("Give the address without credentials, a query or a fragment."),
        N_("Must use https:// (http:// is for localhost in development only)."),
        N_("Give the key id the supplier issued to this shop."),
        N_("Give the secret the supplier issued with the key id."),
        N_("No such account."),
        N_("The account's role must be supplier."),
        N_("Choose the supplier account that uploads codes."),
        N_("An account supplier has no API address or credentials."),
        N_("Only an account supplier names a supplier account."),
        N_("Required for a supplier reached through its API."),
        N_("A supplier's kind cannot change: add another supplier."),
        N_("Choose a supplier."),
        N_("Not a supplier id."),
        N_("No such supplier."),
        N_("The supplier is blacklisted."),
        N_("Give the supplier's product id (SKU)."),
        N_("The product already has this supplier and SKU."),
        N_("Must be true or false."),
    }
)


def page_message(text: str) -> str:
    """``text``, a supply service's English sentence, in the reader's language."""
    text = str(text)
    if text in FIXED:
        return _(text)
    return pricing_message(text)


def page_errors(errors: dict) -> dict[str, list[str]]:
    """A service's field ``errors`` (``{field: [sentences]}``) translated."""
    return {
        key: [page_message(m) for m in (value if isinstance(value, list) else [value])]
        for key, value in errors.items()
    }
