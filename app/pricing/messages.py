"""The pricing services' field errors in the reader's language, for pages.

``app.pricing.admin``, ``rule_admin``, ``coupon_admin`` and
``app.accounts.standing`` answer
in English (the API shows it to developers as it is); a console page shows
``page_message(text)``. Sentences of their own are msgids here, marked with
``N_``; the sentences they share with the catalogue ("Must be at most 100.",
"Unknown field.") are the catalogue's (``app.catalog.messages``). A sentence
neither knows is shown as it is: never lost, only untranslated.
"""

from __future__ import annotations

import re

from flask_babel import gettext as _

from app.catalog.messages import page_message as catalog_message


def N_(message: str) -> str:
    """Mark ``message`` for extraction (gettext_noop); return it unchanged."""
    return message


FIXED = frozenset(
    {
        N_("Must be text."),
        N_("Must be a whole number of minor units (1250 for 12.50)."),
        N_("Must be a date and time with its offset, like 2024-05-01T09:00:00+08:00."),
        N_("Give the time zone offset, like 2024-05-01T09:00:00+08:00."),
        N_("Must be between the years 1970 and 9998."),
        N_("Not a product id."),
        N_("No such product."),
        N_("Not an agent tier id."),
        N_("No such agent tier."),
        N_("Give the tier a name."),
        N_("Another tier has this name."),
        N_("Give an amount above zero for a fee or a recharge total."),
        N_("Must be an object: {kind, amount}."),
        N_("Choose a product or a category, not both."),
        N_("Give a price or a percent off, not both."),
        N_("Give a price or a percent off."),
        N_("Must end after it starts."),
        N_("3 to 32 letters, digits, - or _."),
        N_("Another coupon has this code."),
        N_("Give the amount again for the new kind."),
        # an account's standing (app.accounts.standing)
        N_("Not an account id."),
        N_("No such account in this shop."),
        N_("An account cannot be its own upline."),
        N_("The upline must be an active agent."),
        N_("This upline is in the account's own downline: that would make a loop."),
        N_("Not an email address."),
    }
)

_CHAIN = re.compile(r"The chain would be (\d+) levels deep; this shop allows (\d+)\.")


def page_message(text: str) -> str:
    """``text``, a pricing service's English sentence, in the reader's
    language; unknown sentences come back unchanged."""
    text = str(text)
    if text in FIXED:
        return _(text)
    chain = _CHAIN.fullmatch(text)
    if chain:
        return _(
            "The chain of uplines would be %(levels)s levels deep; this shop allows "
            "%(depth)s (see the agent settings).",
            levels=chain[1],
            depth=chain[2],
        )
    return catalog_message(text)


def page_errors(errors: object) -> object:
    """A service's field ``errors`` with every sentence through
    ``page_message``; same shape (nested by field)."""
    if isinstance(errors, dict):
        return {key: page_errors(value) for key, value in errors.items()}
    if isinstance(errors, list):
        return [page_errors(item) for item in errors]
    return page_message(errors)
