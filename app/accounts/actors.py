"""Who acted, as a person reads it.

Order histories, import rows and the audit log store the actor as a short
string (``Principal.actor`` makes the ones for people and keys; the system
names itself: ``checkout``, ``expiry``, ``stripe webhook``, ``cli`` …).
``describe_actors`` turns a page's worth of them into labels in the
reader's language, looking up API key names and shop accounts in one query
each, in the current shop only: an id of another shop stays unnamed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.accounts.models import ApiKey, ShopAccount
from app.extensions import db
from app.payments import registry

#: Actors that are the system itself.
SYSTEM_ACTORS = {
    "checkout": _l("Automatic delivery"),
    "fulfilment": _l("Automatic delivery"),
    "expiry": _l("Automatic expiry"),
    "refund recovery": _l("Automatic refund retry"),
    "cli": _l("Command line"),
    "buyer": _l("Buyer"),
    "guest": _l("Guest buyer"),
}


def provider_name(provider: str | None) -> str:
    """A payment provider's name for people (its code when unknown)."""
    return registry.title(provider)


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def describe_actors(actors: Iterable[str]) -> dict[str, str]:
    """Each actor string → its label (an operator's email, "API key “sync”",
    "Buyer a@b.c", "Automatic delivery", "Stripe (payment notice)" …).
    Unknown forms are shown as they are. Two queries at most, whatever the
    number of actors."""
    actors = {a for a in actors if a}
    key_ids = {a: _uuid(a[len("api key ") :]) for a in actors if a.startswith("api key ")}
    account_ids = {a: _uuid(a[len("account:") :]) for a in actors if a.startswith("account:")}
    key_names = _names(ApiKey, ApiKey.name, {i for i in key_ids.values() if i})
    account_emails = _names(ShopAccount, ShopAccount.email, {i for i in account_ids.values() if i})
    labels: dict[str, str] = {}
    for actor in actors:
        if actor in key_ids:
            name = key_names.get(key_ids[actor])
            labels[actor] = _("API key “%(name)s”", name=name) if name else _("An API key")
        elif actor in account_ids:
            email = account_emails.get(account_ids[actor])
            labels[actor] = _("Buyer %(email)s", email=email) if email else _("A buyer")
        else:
            labels[actor] = describe_actor(actor)
    return labels


def describe_actor(actor: str) -> str:
    """One actor's label, without looking anything up (an API key or
    account id is shown as such: use ``describe_actors`` for a page)."""
    if actor in SYSTEM_ACTORS:
        return str(SYSTEM_ACTORS[actor])
    if actor.startswith("operator "):
        return actor[len("operator ") :]
    if actor.startswith("buyer "):
        return _("Buyer %(email)s", email=actor[len("buyer ") :])
    if actor.endswith(" webhook"):
        provider = actor[: -len(" webhook")]
        return _("%(provider)s (payment notice)", provider=provider_name(provider))
    if actor in registry.NAMES:
        return provider_name(actor)
    if actor.startswith("api key "):
        return _("An API key")
    return actor


def _names(model, column, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(model.id, column).where(model.id.in_(ids))).all())
