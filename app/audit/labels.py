"""The audit log's actions as an operator reads them.

An action is a stable code (``order.codes_viewed``); its label lives here,
one line per action, so the log page never shows a code where words fit. A
module that records a new action adds its line. An action without one is
shown with its dots and underscores as spaces. ``describe_subjects`` says
what a page of rows acted on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.catalog.models import Product
from app.extensions import db

ACTION_LABELS = {
    "order.codes_viewed": _l("Viewed an order's codes"),
    "card.reveal": _l("Revealed a card code"),
    "cards.export": _l("Exported card codes"),
    "cards.void": _l("Voided cards"),
    "cards.rotate_key": _l("Re-encrypted card codes under a new key"),
    "member.codes_granted": _l("Allowed a staff member to see codes"),
    "member.codes_revoked": _l("Stopped a staff member seeing codes"),
    "member.added": _l("Added a staff member"),
    "member.invited": _l("Invited a staff member"),
    "member.joined": _l("Joined as staff from an invitation"),
    "member.removed": _l("Removed a staff member"),
    "wallet.adjusted": _l("Adjusted a customer's balance"),
    "orders.exported": _l("Exported orders"),
    "tier.created": _l("Added an agent tier"),
    "tier.updated": _l("Changed an agent tier"),
    "tier.deleted": _l("Deleted an agent tier"),
    "price_rule.created": _l("Added a price rule"),
    "price_rule.updated": _l("Changed a price rule"),
    "price_rule.deleted": _l("Deleted a price rule"),
    "coupon.created": _l("Added a coupon"),
    "coupon.updated": _l("Changed a coupon"),
    "coupon.deleted": _l("Deleted a coupon"),
    "account.updated": _l("Changed an account's role, tier or upline"),
    "shop.agent_settings": _l("Changed the agent settings"),
    "withdrawal.approved": _l("Paid out an agent's withdrawal"),
    "withdrawal.rejected": _l("Refused an agent's withdrawal"),
    "supply.opened": _l("Opened the supply API"),
    "supply.closed": _l("Closed the supply API"),
    "supply_credential.issued": _l("Issued a supply credential"),
    "supply_credential.revoked": _l("Revoked a supply credential"),
    "supply_credential.callback": _l("Changed a supply credential's callback URL"),
    "billing.plan_assigned": _l("The platform put the shop on another plan"),
}


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action.replace(".", " ").replace("_", " ")


def action_choices() -> list[tuple[str, str]]:
    """Every labelled action as ``(code, label)``, by label."""
    return sorted(((code, str(label)) for code, label in ACTION_LABELS.items()), key=lambda c: c[1])


@dataclass(frozen=True)
class Subject:
    """What an audit row acted on, for a page: ``kind`` is ``order`` (``ref``
    its number), ``account`` (``ref`` its id) or ``text``."""

    kind: str
    text: str
    ref: str | None = None


def describe_subjects(events: list[AuditEvent]) -> dict[uuid.UUID, Subject]:
    """Each event's subject in words (an order's number, a customer's or
    member's email, a product's name), with one query for the products of
    the whole page. Names come from the current shop only."""
    product_ids = set()
    for e in events:
        kind, _sep, ref = e.subject.partition(":")
        raw = ref if kind == "product" else (e.detail or {}).get("product_id")
        if kind in ("product", "card") and raw:
            try:
                product_ids.add(uuid.UUID(str(raw)))
            except ValueError:
                pass
    names = (
        dict(
            db.session.execute(
                select(Product.id, Product.name).where(Product.id.in_(product_ids))
            ).all()
        )
        if product_ids
        else {}
    )

    def product_name(raw) -> str:
        try:
            return names.get(uuid.UUID(str(raw)), "") if raw else ""
        except ValueError:
            return ""

    found = {}
    for e in events:
        detail = e.detail or {}
        kind, _sep, ref = e.subject.partition(":")
        if kind == "order":
            found[e.id] = Subject("order", _("Order %(number)s", number=ref), ref)
        elif kind == "account":
            found[e.id] = Subject("account", str(detail.get("email") or ref), ref)
        elif kind in ("member", "email"):
            found[e.id] = Subject("text", str(detail.get("email") or ref))
        elif kind == "product":
            name = product_name(ref)
            found[e.id] = Subject("text", name or _("A product that no longer exists"))
        elif kind == "card":
            name = product_name(detail.get("product_id"))
            found[e.id] = Subject(
                "text", _("A card of %(product)s", product=name) if name else _("A card")
            )
        elif kind == "tier":
            found[e.id] = Subject("text", _("Agent tier %(name)s", name=detail.get("name") or "—"))
        elif kind == "coupon":
            found[e.id] = Subject("text", _("Coupon %(code)s", code=detail.get("code") or "—"))
        elif kind == "price_rule":
            found[e.id] = Subject("text", _("A price rule"))
        elif kind == "shop":
            found[e.id] = Subject("text", _("The whole shop"))
        elif e.subject in ("cards", "orders"):
            found[e.id] = Subject("text", _("Cards") if e.subject == "cards" else _("Orders"))
        else:
            found[e.id] = Subject("text", e.subject)
    return found
