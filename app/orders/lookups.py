"""Reading orders: by number, by id, for their buyer, for the operator; and
the one read model (``OrderView``) both the API and the pages render.

Who may see an order:

- its buyer: the order's lookup token (an HMAC of its id, never stored), or
  the session of the shop account that placed it;
- the shop's operators; the codes they see are recorded in the audit log.
  Codes, and the lookup token that would open the buyer's page with them,
  only for operators holding ``orders.codes`` (the owner, and staff the
  owner granted it: ``app.accounts.permissions``).

Anyone else gets ``NotFound``, exactly as for a number that does not
exist. Every function runs in the current shop's context.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import and_, func, or_, select

from app.catalog.codes import split_card_secret
from app.catalog.models import Card
from app.core.crypto import get_cipher
from app.core.errors import NotFound, ValidationFailed
from app.core.pagination import offset_of
from app.core.security import digests_equal
from app.extensions import db
from app.ledger.services import wallet_balance
from app.orders.models import (
    CANCELLED,
    EXPIRED,
    FULFILLING,
    PAID,
    PENDING,
    Order,
    OrderEvent,
    Ticket,
)
from app.payments import registry
from app.pricing.labels import shown_lines

#: Statuses in which an order has no codes to show (nothing was paid for).
NO_CODES = (PENDING, EXPIRED, CANCELLED)
#: Statuses in which the buyer's page keeps refreshing: the codes are coming.
WAITING = (PENDING, PAID, FULFILLING)


# --- lookup tokens ----------------------------------------------------------


def lookup_token(order_id: uuid.UUID) -> str:
    """The order's lookup token: an HMAC of its id, so it is never stored and
    can be shown again to whoever already holds the order."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, b"order-lookup:" + order_id.bytes, hashlib.sha256).hexdigest()
    return digest[:32]


def token_matches(order: Order, token: str | None) -> bool:
    """Whether ``token`` is the order's lookup token (in constant time). Any
    string may come in (a header decodes as Latin-1, a query as UTF-8): one
    that is not ASCII is simply not a match."""
    return bool(token) and digests_equal(lookup_token(order.id), token or "")


# --- rules about one order ---------------------------------------------------


def is_expired(order: Order, now: datetime | None = None) -> bool:
    """The one expiry rule: expired, or unpaid past its hold (the expiry job
    may not have run yet; the hold ends on time regardless)."""
    if order.status == EXPIRED:
        return True
    return order.status == PENDING and order.expires_at <= (now or datetime.now(UTC))


def codes_visible(order: Order) -> bool:
    """Whether the order can have codes to show (the one rule for both the
    page and the API)."""
    return order.status not in NO_CODES


def payment_options(
    order: Order, buyer_id: uuid.UUID | None = None, *, on_pages: bool = False
) -> list[str]:
    """How this unpaid order can be paid now, in the order a buyer sees
    them: every available provider, a wallet only for a signed-in buyer;
    ``on_pages`` keeps those the shop's own pages can collect."""
    if order.status != PENDING:
        return []
    payer = order.buyer_id or buyer_id
    return [
        adapter.name
        for adapter in registry.available()
        if (payer or not adapter.pays_from_wallet) and (adapter.on_pages or not on_pages)
    ]


@dataclass(frozen=True)
class PayChoices:
    """What the shop's pay page offers for an unpaid order. ``providers``
    are the buttons; the wallet is among them only when the signed-in
    payer's ``balance`` covers the total. ``balance`` is shown whenever a
    wallet could pay (a signed-in buyer), and ``shortfall`` is what a
    recharge must add before it can (0 when it covers)."""

    providers: list[str]
    balance: int | None
    shortfall: int = 0


def pay_choices(order: Order, options: list[str], buyer_id: uuid.UUID | None) -> PayChoices:
    """The pay page's choices among ``options`` (``payment_options`` of the
    order): a wallet that cannot pay the whole total is not offered as if
    it could (a balance of ¥0.00 is no way to pay); its balance and the
    missing amount are given instead. Reads only."""
    wallets = [name for name in options if registry.adapter(name).pays_from_wallet]
    if not wallets or buyer_id is None:
        return PayChoices([n for n in options if n not in wallets], None)
    balance = wallet_balance(buyer_id)
    shortfall = max(order.total - balance, 0)
    providers = [n for n in options if n not in wallets or not shortfall]
    return PayChoices(providers, balance, shortfall)


# --- finding orders -----------------------------------------------------------

#: The longest order number as a person may type or paste it (spaces,
#: line breaks and all) before ``normalize_number`` tidies it; numbers
#: themselves are 20 digits (``checkout.new_number``).
MAX_TYPED_NUMBER = 64


def normalize_number(number: str | None) -> str:
    """An order number as a person typed or pasted it, tidied: every kind of
    whitespace removed, at the ends and inside ("2611 2912 3456", a
    full-width space, a line break from a mail). The one place order numbers
    are read: the look-up page, the order pages and the API all go through
    the functions below, which call it."""
    return "".join((number or "").split())


def get_order(number: str) -> Order:
    order = db.session.scalar(select(Order).where(Order.number == normalize_number(number)))
    if order is None:
        raise NotFound("No such order.")
    return order


def get_order_by_id(order_id: uuid.UUID) -> Order:
    order = db.session.scalar(select(Order).where(Order.id == order_id))
    if order is None:
        raise NotFound("No such order.")
    return order


def order_for_buyer(
    number: str, *, token: str | None = None, buyer_id: uuid.UUID | None = None
) -> Order:
    """The current shop's order ``number`` if the caller holds it: its lookup
    token, or the session of the shop account that placed it. ``NotFound``
    otherwise, exactly as for a number that does not exist (so a wrong token
    tells nothing)."""
    order = db.session.scalar(select(Order).where(Order.number == normalize_number(number)))
    if order is not None and (
        token_matches(order, token) or (buyer_id is not None and order.buyer_id == buyer_id)
    ):
        return order
    raise NotFound("No such order.")


def order_by_email(email: str, number: str) -> Order:
    """The order with this number placed with this email (the buyer's
    look-up, 查单); ``NotFound`` when either does not match."""
    from app.accounts.services import normalize_email

    try:
        email = normalize_email(email)
    except ValidationFailed:
        raise NotFound("No order with this number and email.") from None
    order = db.session.scalar(
        select(Order).where(Order.number == normalize_number(number), Order.email == email)
    )
    if order is None:
        raise NotFound("No order with this number and email.")
    return order


@dataclass(frozen=True)
class OrderFilter:
    """Which of the shop's orders a list shows. Every field narrows it;
    ``None`` leaves it open. ``placed_from``/``placed_before`` are instants
    (aware UTC; a console turns the shop's days into them with
    ``app.core.dates.day_range``)."""

    status: str | None = None
    #: an exact buyer email, as stored (lower case)
    email: str | None = None
    #: part of a buyer email
    email_part: str | None = None
    number: str | None = None
    product_id: uuid.UUID | None = None
    #: part of the product's name as the order recorded it
    product_part: str | None = None
    placed_from: datetime | None = None
    placed_before: datetime | None = None
    buyer_id: uuid.UUID | None = None

    def conditions(self) -> list:
        found = []
        if self.status:
            found.append(Order.status == self.status)
        if self.email:
            found.append(Order.email == self.email.strip().lower())
        if self.email_part:
            found.append(Order.email.contains(self.email_part.strip().lower(), autoescape=True))
        if self.number:
            found.append(Order.number == self.number)
        if self.product_id is not None:
            found.append(Order.product_id == self.product_id)
        if self.product_part:
            found.append(
                func.lower(Order.product_name).contains(
                    self.product_part.strip().lower(), autoescape=True
                )
            )
        if self.placed_from is not None:
            found.append(Order.created_at >= self.placed_from)
        if self.placed_before is not None:
            found.append(Order.created_at < self.placed_before)
        if self.buyer_id is not None:
            found.append(Order.buyer_id == self.buyer_id)
        return found


_SPACES = re.compile(r"\s+")


def search_terms(text: str | None) -> dict:
    """What one search box means, as ``OrderFilter`` fields: an order number
    (spaces anywhere in it ignored, so a number pasted in groups is found),
    a whole buyer email (``a@b.c``, exact) or part of one. Empty: nothing."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    if not text:
        return {}
    compact = _SPACES.sub("", text)
    if compact.isdigit() and compact.isascii():
        return {"number": compact}
    if "@" in compact and "." in compact.rpartition("@")[2]:
        return {"email": compact.lower()}
    return {"email_part": compact.lower()}


def list_orders(
    *,
    status: str | None = None,
    email: str | None = None,
    buyer_id: uuid.UUID | None = None,
    page: int = 1,
    per_page: int = 50,
    filters: OrderFilter | None = None,
) -> tuple[list[Order], int]:
    """A page of the current shop's orders, newest first, and the total.
    ``filters`` narrows it further (the console's filters and search)."""
    base = OrderFilter(status=status, email=email, buyer_id=buyer_id).conditions()
    conditions = base + (filters.conditions() if filters is not None else [])
    total = db.session.scalar(select(func.count(Order.id)).where(*conditions)) or 0
    rows = db.session.scalars(
        select(Order)
        .where(*conditions)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    return list(rows), int(total)


#: The columns of an order an export writes.
EXPORT_COLUMNS = (
    Order.id,
    Order.number,
    Order.created_at,
    Order.status,
    Order.product_name,
    Order.quantity,
    Order.unit_price,
    Order.total,
    Order.currency,
    Order.email,
    Order.payment_provider,
    Order.paid_at,
    Order.delivered_at,
)


def iter_orders(filters: OrderFilter, *, batch: int = 500, limit: int | None = None) -> Iterator:
    """The current shop's orders matching ``filters``, newest first, as rows
    of ``EXPORT_COLUMNS``: read ``batch`` at a time by position (keyset on
    the creation time and id, so the thousandth batch costs what the first
    does), never all at once, and not kept by the session. Stops after
    ``limit`` orders when given."""
    conditions = filters.conditions()
    after = None
    given = 0
    while limit is None or given < limit:
        size = batch if limit is None else min(batch, limit - given)
        query = select(*EXPORT_COLUMNS).where(*conditions)
        if after is not None:
            query = query.where(
                or_(
                    Order.created_at < after.created_at,
                    and_(Order.created_at == after.created_at, Order.id < after.id),
                )
            )
        rows = db.session.execute(
            query.order_by(Order.created_at.desc(), Order.id.desc()).limit(size)
        ).all()
        yield from rows
        given += len(rows)
        if len(rows) < size:
            return
        after = rows[-1]


def recent_orders_for_browser(remembered: list) -> list[tuple[Order, str]]:
    """The orders a browser remembered as ``[number, token]`` pairs that still
    open with their token (gone ones, and other shops', are left out)."""
    found = []
    for number, token in remembered:
        try:
            found.append((order_for_buyer(number, token=token), token))
        except NotFound:
            continue
    return found


# --- what an order shows --------------------------------------------------------


def order_events(order_id: uuid.UUID) -> list[OrderEvent]:
    return list(
        db.session.scalars(
            select(OrderEvent)
            .where(OrderEvent.order_id == order_id)
            .order_by(OrderEvent.created_at, OrderEvent.id)
        ).all()
    )


def order_tickets(order_id: uuid.UUID) -> list[Ticket]:
    return list(
        db.session.scalars(
            select(Ticket).where(Ticket.order_id == order_id).order_by(Ticket.created_at)
        ).all()
    )


def delivered_codes(order: Order) -> list[dict]:
    """The codes delivered to the order, decrypted for its buyer (callers show
    them only to the buyer: token, session or audited operator view). Never
    logged."""
    return codes_by_order([order])[order.id]


def codes_by_order(orders: list[Order]) -> dict[uuid.UUID, list[dict]]:
    """``delivered_codes`` of several orders of the shop, read in one
    statement: each order's codes by its id."""
    cipher = get_cipher()
    found: dict[uuid.UUID, list[dict]] = {order.id: [] for order in orders}
    if found:
        cards = db.session.scalars(
            select(Card)
            .where(Card.order_id.in_(list(found)), Card.status.in_(("sold", "void")))
            .order_by(Card.order_id, Card.id)
        )
        for card in cards:
            number, password = split_card_secret(cipher.decrypt(card.id, card.key_id, card.secret))
            found[card.order_id].append(
                {"code": number, "password": password, "void": card.status == "void"}
            )
    for order in orders:
        if order.manual_secret is not None:
            found[order.id].append(
                {
                    "code": cipher.decrypt(order.id, order.manual_key_id, order.manual_secret),
                    "password": None,
                    "void": False,
                }
            )
    return found


def orders_by_id(order_ids: list[uuid.UUID]) -> dict[uuid.UUID, Order]:
    """The shop's orders among ``order_ids``, in one statement (an id of
    another shop, or of none, is simply absent)."""
    if not order_ids:
        return {}
    return {o.id: o for o in db.session.scalars(select(Order).where(Order.id.in_(order_ids)))}


def codes_for_operator(order: Order, actor: str) -> list[dict]:
    """The order's codes for an operator, with an audit record of the view
    (a secret is shown to an operator only on the record). Commits."""
    from app.audit import services as audit

    codes = delivered_codes(order)
    if codes:
        audit.record(actor, "order.codes_viewed", f"order:{order.number}", count=len(codes))
        db.session.commit()
    return codes


@dataclass
class OrderView:
    """What one caller may see of an order: both the API and the pages
    render this and decide nothing themselves. ``codes`` is None when they
    are not shown; ``tickets`` only for operators. ``codes_withheld``: an
    operator who may not see codes; then ``lookup_token`` is None too."""

    order: Order
    lookup_token: str | None
    operator: bool
    history: list[OrderEvent]
    payment_options: list[str]
    codes: list[dict] | None
    expired: bool
    waiting: bool
    tickets: list[Ticket] = field(default_factory=list)
    codes_withheld: bool = False

    @property
    def lines(self) -> list[dict]:
        """The price lines, labelled (``app.pricing.labels``); a buyer of a
        sub-shop's order sees the sub-shop's price, not how it was made."""
        folded = not self.operator and self.order.sub_shop_id is not None
        return shown_lines(self.order.quote, folded=folded)


def buyer_view(
    order: Order, buyer_id: uuid.UUID | None = None, *, on_pages: bool = False
) -> OrderView:
    """The order as its buyer sees it: status, history (when, not who),
    how to pay it while unpaid, and the codes once there are any."""
    expired = is_expired(order)
    return OrderView(
        order=order,
        lookup_token=lookup_token(order.id),
        operator=False,
        history=order_events(order.id),
        payment_options=payment_options(order, buyer_id, on_pages=on_pages),
        codes=delivered_codes(order) if codes_visible(order) else None,
        expired=expired,
        waiting=order.status in WAITING and not expired,
    )


def purchase_view(order: Order, history: list[OrderEvent], codes: list[dict]) -> OrderView:
    """A just-delivered purchase as its buyer sees it, from what the purchase
    wrote (``app.orders.wallet_purchase``): the same view ``buyer_view``
    gives, with no read."""
    return OrderView(
        order=order,
        lookup_token=lookup_token(order.id),
        operator=False,
        history=history,
        payment_options=[],
        codes=codes,
        expired=False,
        waiting=False,
    )


def operator_view(
    order: Order, *, actor: str, may_see_codes: bool, show_codes: bool = True
) -> OrderView:
    """The order as the shop's operator sees it: who did what, tickets, and
    (``show_codes``) the codes, each showing on the audit record. Commits
    when it shows codes.

    ``may_see_codes`` is whether the caller holds ``orders.codes`` (asked of
    the principal by the surface). Without it the view holds neither the
    codes nor the lookup token, which opens the buyer's page with them, and
    says so (``codes_withheld``); nothing is recorded."""
    expired = is_expired(order)
    show_codes = show_codes and may_see_codes and codes_visible(order)
    codes = codes_for_operator(order, actor) if show_codes else None
    return OrderView(
        order=order,
        lookup_token=lookup_token(order.id) if may_see_codes else None,
        operator=True,
        history=order_events(order.id),
        payment_options=payment_options(order),
        codes=codes,
        expired=expired,
        waiting=order.status in WAITING and not expired,
        tickets=order_tickets(order.id),
        codes_withheld=not may_see_codes,
    )
