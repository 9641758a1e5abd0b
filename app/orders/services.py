"""Orders from "buy" to delivered: create, pay, fulfil, expire, refund.

Every public function here runs in the current shop's context and owns its
transaction (commits before it returns), except where it says it runs in the
caller's. Side effects outside the database (enqueueing a job, sending
mail) happen after the commit that justifies them, and are safe to repeat:
a sweeper re-enqueues whatever a lost message left behind.

The guarantees a buyer relies on:

- the same ``Idempotency-Key`` with the same request returns the same order;
  with another request it is refused;
- a confirmed payment is never lost (掉单): a payment confirmed after its
  order expired re-reserves stock and delivers if it can; otherwise the
  order is paid and an exception ticket offers delivery or a refund;
- no order is delivered twice, whatever replays, retries or crashes happen:
  delivery is a conditional transition and cards are sold once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.catalog import stock
from app.catalog.models import CARD_SOLD, KIND_CARD, STATUS_ON_SALE, Card, Product
from app.core.crypto import get_cipher
from app.core.errors import Conflict, KamengError, NotFound, ValidationFailed
from app.core.ids import uuid7
from app.extensions import db
from app.ledger import services as ledger
from app.orders import state
from app.orders.models import (
    DELIVERED,
    EXPIRED,
    FAILED,
    FULFILLING,
    PAID,
    PARTIAL,
    PENDING,
    REFUNDED,
    Order,
    OrderEvent,
    Ticket,
)
from app.pricing.quote import quote
from tenants.context import current_tenant_id

log = logging.getLogger(__name__)

FULFIL_LEASE = timedelta(seconds=60)
MAX_FULFIL_ATTEMPTS = 5


class OrderNotPayable(KamengError):
    status = 409
    slug = "order-not-payable"
    title = "This order cannot be paid"


# --- lookup tokens ----------------------------------------------------------


def lookup_token(order_id: uuid.UUID) -> str:
    """The order's lookup token: an HMAC of its id, so it is never stored and
    can be shown again to whoever already holds the order."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, b"order-lookup:" + order_id.bytes, hashlib.sha256).hexdigest()
    return digest[:32]


def token_matches(order: Order, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(lookup_token(order.id), token or "")


# --- reading ----------------------------------------------------------------


def get_order(number: str) -> Order:
    order = db.session.scalar(select(Order).where(Order.number == (number or "").strip()))
    if order is None:
        raise NotFound("No such order.")
    return order


def get_order_by_id(order_id: uuid.UUID) -> Order:
    order = db.session.scalar(select(Order).where(Order.id == order_id))
    if order is None:
        raise NotFound("No such order.")
    return order


def order_events(order_id: uuid.UUID) -> list[OrderEvent]:
    return list(
        db.session.scalars(
            select(OrderEvent)
            .where(OrderEvent.order_id == order_id)
            .order_by(OrderEvent.created_at, OrderEvent.id)
        ).all()
    )


def delivered_codes(order: Order) -> list[dict]:
    """The codes delivered to the order, decrypted for its buyer (callers show
    them only to the buyer: token, session or audited operator view). Never
    logged."""
    cipher = get_cipher()
    codes = []
    for card in db.session.scalars(
        select(Card)
        .where(Card.order_id == order.id, Card.status.in_(("sold", "void")))
        .order_by(Card.id)
    ):
        number, _, password = cipher.decrypt(card.id, card.key_id, card.secret).partition("\t")
        codes.append({"code": number, "password": password or None, "void": card.status == "void"})
    if order.manual_secret is not None:
        codes.append(
            {
                "code": cipher.decrypt(order.id, order.manual_key_id, order.manual_secret),
                "password": None,
                "void": False,
            }
        )
    return codes


def payment_options(order: Order, buyer_id: uuid.UUID | None = None) -> list[str]:
    enabled = current_app.config["PAYMENT_PROVIDERS"]
    options = [p for p in ("sandbox", "stripe") if p in enabled]
    if "wallet" in enabled and (order.buyer_id or buyer_id):
        options.insert(0, "wallet")
    if "stripe" in options and not current_app.config.get("STRIPE_SECRET_KEY"):
        options.remove("stripe")
    return options


# --- reading for the buyer's and the operator's surfaces ----------------------


def order_for_buyer(
    number: str, *, token: str | None = None, buyer_id: uuid.UUID | None = None
) -> Order:
    """The current shop's order ``number`` if the caller holds it: its lookup
    token, or the session of the shop account that placed it. ``NotFound``
    otherwise, exactly as for a number that does not exist (so a wrong token
    tells nothing)."""
    order = db.session.scalar(select(Order).where(Order.number == (number or "").strip()))
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
        select(Order).where(Order.number == (number or "").strip(), Order.email == email)
    )
    if order is None:
        raise NotFound("No order with this number and email.")
    return order


def list_orders(
    *,
    status: str | None = None,
    email: str | None = None,
    buyer_id: uuid.UUID | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Order], int]:
    """A page of the current shop's orders, newest first, and the total."""
    conditions = []
    if status:
        conditions.append(Order.status == status)
    if email:
        conditions.append(Order.email == email.strip().lower())
    if buyer_id is not None:
        conditions.append(Order.buyer_id == buyer_id)
    total = db.session.scalar(select(func.count(Order.id)).where(*conditions)) or 0
    rows = db.session.scalars(
        select(Order)
        .where(*conditions)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(rows), int(total)


def order_tickets(order_id: uuid.UUID) -> list[Ticket]:
    return list(
        db.session.scalars(
            select(Ticket).where(Ticket.order_id == order_id).order_by(Ticket.created_at)
        ).all()
    )


def codes_for_operator(order: Order, actor: str) -> list[dict]:
    """The order's codes for an operator, with an audit record of the view
    (a secret is shown to an operator only on the record). Commits."""
    from app.core import audit

    codes = delivered_codes(order)
    if codes:
        audit.record(actor, "order.codes_viewed", f"order:{order.number}", count=len(codes))
        db.session.commit()
    return codes


# --- creating ---------------------------------------------------------------


def _request_hash(product_id, quantity, email, inputs, buyer_id) -> str:
    body = json.dumps(
        {
            "product_id": str(product_id),
            "quantity": quantity,
            "email": email,
            "inputs": inputs or {},
            "buyer": str(buyer_id) if buyer_id else None,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


NUMBER_DIGITS = 14  # random digits after the date; the column holds 20 characters
NUMBER_TRIES = 5


def _new_number() -> str:
    """``YYMMDD`` plus 14 random digits: not guessable, and not counted.

    With 10^14 numbers a day a shop would need about 12 million orders in one
    day for even odds of a single clash; ``create_order`` draws again when
    one happens, so a clash costs a retry, never an order.
    """
    return (
        datetime.now(UTC).strftime("%y%m%d")
        + f"{secrets.randbelow(10**NUMBER_DIGITS):0{NUMBER_DIGITS}d}"
    )


def hold_time() -> timedelta:
    return timedelta(minutes=int(current_app.config.get("ORDER_HOLD_MINUTES", 15)))


def create_order(
    *,
    product_id: uuid.UUID,
    quantity: int,
    email: str,
    inputs: dict | None = None,
    buyer_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
    actor: str = "buyer",
    currency: str | None = None,
) -> tuple[Order, bool]:
    """Create an order and reserve its stock. Returns ``(order, created)``.

    ``currency`` is the shop's (surfaces pass the cached shop snapshot's, which
    saves a query per checkout); without it the shop row is read.

    Same key + same request → the existing order, ``created`` False. Same
    key + another request → ``Conflict`` (422 at the edge).
    """
    from app.accounts.services import normalize_email

    email = normalize_email(email)
    request_hash = _request_hash(product_id, quantity, email, inputs, buyer_id)
    existing = _earlier_order(idempotency_key, request_hash)
    if existing is not None:
        return existing, False

    product = db.session.scalar(select(Product).where(Product.id == product_id))
    if product is None or product.status != STATUS_ON_SALE:
        raise NotFound("No such product on sale.")
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise ValidationFailed(
            "Quantity must be a whole number.", errors={"quantity": ["Invalid."]}
        )
    if not product.min_quantity <= quantity <= product.max_quantity:
        raise ValidationFailed(
            f"Quantity must be between {product.min_quantity} and {product.max_quantity}.",
            errors={"quantity": [f"{product.min_quantity}–{product.max_quantity}."]},
        )
    clean_inputs = _validate_inputs(product, inputs or {})
    shop_currency = currency or _shop_currency()
    priced = quote(
        unit_price=product.price,
        quantity=quantity,
        currency=shop_currency,
        product_name=product.name,
    )
    now = datetime.now(UTC)
    order = Order(
        id=uuid7(),
        number=_new_number(),
        status=PENDING,
        product_id=product.id,
        product_kind=product.kind,
        product_name=product.name,
        quantity=quantity,
        unit_price=priced.unit_price,
        total=priced.total,
        currency=priced.currency,
        quote=priced.snapshot(),
        email=email,
        buyer_id=buyer_id,
        inputs=clean_inputs,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        expires_at=now + hold_time(),
    )
    for attempt in range(NUMBER_TRIES):
        db.session.add(order)
        try:
            db.session.flush()
            break
        except IntegrityError:
            # Nothing is written yet, so the rollback loses only reads.
            db.session.rollback()
            existing = _earlier_order(idempotency_key, request_hash)  # a twin won the insert
            if existing is not None:
                return existing, False
            if attempt == NUMBER_TRIES - 1:
                raise
            order.number = _new_number()
    db.session.add(OrderEvent(order_id=order.id, from_status=None, to_status=PENDING, actor=actor))
    if product.kind == KIND_CARD:
        try:
            stock.reserve(product.id, quantity, order.id, hold=hold_time())
        except stock.OutOfStock as err:
            db.session.rollback()
            left = int(err.extra.get("available", 0))
            raise stock.OutOfStock(
                f"{product.name} is sold out."
                if left == 0
                else f"Only {left} of {product.name} left; you asked for {quantity}.",
                available=left,
            ) from None
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        existing = _earlier_order(idempotency_key, request_hash)  # a twin won the insert
        if existing is not None:
            return existing, False
        raise
    return order, True


def _earlier_order(idempotency_key: str | None, request_hash: str) -> Order | None:
    """The order an earlier request with this Idempotency-Key made, if any;
    ``IdempotencyMismatch`` when that request asked for something else."""
    if not idempotency_key:
        return None
    existing = db.session.scalar(select(Order).where(Order.idempotency_key == idempotency_key))
    if existing is not None and existing.request_hash != request_hash:
        raise IdempotencyMismatch()
    return existing


class IdempotencyMismatch(KamengError):
    status = 422
    slug = "idempotency-key-reused"
    title = "This Idempotency-Key was used for a different request"


def _validate_inputs(product: Product, inputs: dict) -> dict:
    from app.catalog.inputs import validate_inputs

    return validate_inputs(product, inputs)


def _shop_currency() -> str:
    from tenants.models import Tenant

    return db.session.scalar(select(Tenant.currency).where(Tenant.id == current_tenant_id()))


# --- paying -----------------------------------------------------------------


def confirm_payment(
    order_id: uuid.UUID,
    *,
    provider: str,
    provider_ref: str,
    amount: int,
    actor: str,
    ledger_source: str | None = None,
    deliver_now: bool = False,
) -> bool:
    """The one path by which any provider's confirmation marks an order paid.

    Posts ``pay:<order>`` to the ledger (from ``clearing:<provider>``, or
    from ``ledger_source`` e.g. the buyer's wallet), moves the order to
    paid, re-reserves stock for a late payment, and after commit hands it
    to fulfilment: with ``deliver_now`` (the buyer is waiting on this very
    request: the wallet) a card order is delivered here at once
    (``deliver_in_request``), otherwise (webhooks, and the sandbox, which
    stands in for one) the fulfilment job is queued. Idempotent: a repeat returns False and changes nothing. A
    second, different payment for an already paid order opens a ticket.
    """
    order = db.session.get(Order, order_id) or get_order_by_id(order_id)
    if amount != order.total:
        _open_ticket(order.id, "amount_mismatch", f"{provider} {provider_ref} paid {amount}")
        db.session.commit()
        return False
    now = datetime.now(UTC)
    late = order.status == EXPIRED
    moved = state.transition(
        order.id,
        (PENDING, EXPIRED),
        PAID,
        actor=actor,
        note=f"{provider} {provider_ref}" + (" (after expiry)" if late else ""),
        paid_at=now,
        payment_provider=provider,
        payment_ref=provider_ref,
    )
    if not moved:
        db.session.rollback()
        order = get_order_by_id(order_id)
        if order.payment_ref != provider_ref and order.status not in (PENDING, EXPIRED):
            _open_ticket(
                order.id,
                "duplicate_payment",
                f"{provider} {provider_ref} paid again for an order already paid "
                f"by {order.payment_provider} {order.payment_ref}; refund one",
            )
            db.session.commit()
        return False
    source = ledger_source or ledger.clearing_code(provider)
    ledger.post(
        f"pay:{order.id}",
        "order_payment",
        [ledger.Line(source, -order.total), ledger.Line(ledger.SALES, order.total)],
        order.currency,
        memo=f"order {order.number}",
        order_id=order.id,
    )
    kind = order.product_kind
    if kind == KIND_CARD:
        _ensure_reserved(order, late)
    db.session.commit()
    if deliver_now and kind == KIND_CARD:
        deliver_in_request(order_id)
    else:
        enqueue_fulfilment(order_id)
    return True


def _missing_cards(order: Order) -> int:
    """Keep the paid order's holds from expiring and count the cards it still
    lacks (sold ones count as had: a partly delivered order asks only for
    the rest)."""
    held = stock.keep_for_paid_order(order.id)
    if held >= order.quantity:
        return 0  # the usual case: every reserved card is still held
    sold = db.session.scalar(
        select(func.count()).where(Card.order_id == order.id, Card.status == CARD_SOLD)
    )
    return order.quantity - held - int(sold or 0)


def _hold_paid_stock(order: Order) -> None:
    """A paid order keeps its cards: holds stop expiring, and whatever a late
    payment lost to other buyers is reserved again. Raises ``OutOfStock``
    (the holds it kept stay kept)."""
    missing = _missing_cards(order)
    if missing > 0:
        stock.reserve(order.product_id, missing, order.id, hold=stock.PAID_HOLD)


def _ensure_reserved(order: Order, late: bool) -> None:
    """After a (late) payment the order must hold its cards, or get a ticket.
    The cards it still holds are kept either way, so they are not lost to
    other buyers while the ticket waits."""
    missing = _missing_cards(order)
    if missing <= 0:
        return
    try:
        with db.session.begin_nested():
            stock.reserve(order.product_id, missing, order.id, hold=stock.PAID_HOLD)
    except stock.OutOfStock:
        _open_ticket(
            order.id,
            "out_of_stock",
            "Paid after the hold expired and the stock was gone; deliver when stock "
            "returns, or refund.",
        )


def pay_with_wallet(order: Order, buyer_id: uuid.UUID, actor: str) -> bool:
    """Pay from the buyer's wallet in one transaction (commits)."""
    if order.buyer_id is not None and order.buyer_id != buyer_id:
        raise NotFound("No such order.")
    if order.buyer_id is None:
        # A guest order paid from a signed-in buyer's wallet becomes theirs,
        # so a refund knows which wallet to return the money to.
        db.session.execute(
            update(Order)
            .where(Order.id == order.id, Order.buyer_id.is_(None))
            .values(buyer_id=buyer_id)
            .execution_options(synchronize_session=False)
        )
    return confirm_payment(
        order.id,
        provider="wallet",
        provider_ref=f"wallet:{order.id}",
        amount=order.total,
        actor=actor,
        ledger_source=ledger.wallet_code(buyer_id),
        deliver_now=True,
    )


def ensure_payable(order: Order) -> None:
    if order.status == PENDING:
        if _aware(order.expires_at) <= datetime.now(UTC):
            raise OrderNotPayable("This order has expired; place a new one.")
        return
    if order.status == EXPIRED:
        raise OrderNotPayable("This order has expired; place a new one.")
    raise OrderNotPayable(f"This order is {order.status.replace('_', ' ')}.")


# --- fulfilling -------------------------------------------------------------


def enqueue_fulfilment(order_id: uuid.UUID) -> None:
    """Queue the fulfilment job; a lost enqueue is repaired by ``sweep``."""
    from app.core.queues import get_queue

    try:
        get_queue("fulfilment").enqueue(
            "app.orders.jobs.fulfil_order",
            str(current_tenant_id()),
            str(order_id),
            job_id=f"fulfil-{order_id}",
            result_ttl=300,
            failure_ttl=86400,
        )
    except Exception:  # noqa: BLE001 - Redis down: the sweeper will enqueue it
        log.warning("order %s: fulfilment not enqueued; the sweeper will retry", order_id)


def deliver_in_request(order_id: uuid.UUID) -> str:
    """Deliver a just-paid card order in the buyer's own request, so the
    answer to "pay" already carries the codes (no queue hop, no polling).

    Same guarantees as the job (``fulfil``: the lease and conditional
    transitions; a concurrent job or sweeper delivers nothing twice). If
    delivery cannot finish here (an error, a top-up) the order is queued
    for the fulfilment worker instead; a crash between the payment's commit
    and this call leaves a paid order, which the sweeper re-enqueues.
    Returns the order's status."""
    try:
        status = fulfil(order_id, actor="checkout")
    except Exception:  # noqa: BLE001 - the worker retries it; the payment is committed
        db.session.rollback()
        log.exception("order %s: delivery in the request failed; queued", order_id)
        enqueue_fulfilment(order_id)
        return get_order_by_id(order_id).status
    if status not in (DELIVERED, FAILED):
        enqueue_fulfilment(order_id)
    return status


def fulfil(order_id: uuid.UUID, actor: str = "fulfilment") -> str:
    """Deliver a paid order. Idempotent and safe under concurrency: only the
    caller that takes the fulfilment lease delivers. Returns the status."""
    order = db.session.get(Order, order_id) or get_order_by_id(order_id)
    if order.product_kind != KIND_CARD:
        return order.status  # top-ups wait for suppliers, manual items for the operator
    now = datetime.now(UTC)
    took = state.transition(
        order.id,
        (PAID, FULFILLING),
        FULFILLING,
        actor=actor,
        where=or_(
            Order.status == PAID,
            Order.fulfil_started_at.is_(None),
            Order.fulfil_started_at < now - FULFIL_LEASE,
        ),
        fulfil_started_at=now,
        fulfil_attempts=Order.fulfil_attempts + 1,
    )
    if not took:
        db.session.rollback()
        return get_order_by_id(order_id).status
    sold = stock.sell(order.id, order.quantity)
    if len(sold) >= order.quantity:
        state.transition(
            order.id, FULFILLING, DELIVERED, actor=actor, delivered_at=datetime.now(UTC)
        )
        db.session.commit()
        _notify_delivered(order_id)  # the id argument: the commit expired ``order``
        return DELIVERED
    open_ticket = db.session.scalar(
        select(Ticket.id).where(Ticket.order_id == order.id, Ticket.status == "open")
    )
    state.transition(
        order.id,
        FULFILLING,
        FAILED,
        actor=actor,
        note=f"{len(sold)} of {order.quantity} codes available",
        last_error="not enough reserved stock",
    )
    if open_ticket is None:
        _open_ticket(order.id, "out_of_stock", f"{len(sold)} of {order.quantity} codes in stock.")
    db.session.commit()
    return FAILED


def _notify_delivered(order_id: uuid.UUID) -> None:
    from app.core.queues import get_queue

    try:
        get_queue("mail").enqueue(
            "app.orders.jobs.mail_delivery",
            str(current_tenant_id()),
            str(order_id),
            job_id=f"mail-{order_id}",
        )
    except Exception:  # noqa: BLE001
        log.warning("order %s: delivery mail not enqueued", order_id)


def sweep(limit: int = 500) -> int:
    """Re-enqueue paid orders whose fulfilment job is gone (a lost message, a
    killed worker). Runs across shops from the scheduler."""
    now = datetime.now(UTC)
    rows = db.session.execute(
        select(Order.id, Order.tenant_id)
        .where(
            Order.product_kind == KIND_CARD,
            or_(
                (Order.status == PAID) & (Order.paid_at < now - timedelta(seconds=10)),
                (Order.status == FULFILLING) & (Order.fulfil_started_at < now - FULFIL_LEASE),
            ),
            Order.fulfil_attempts < MAX_FULFIL_ATTEMPTS,
        )
        .limit(limit)
    ).all()
    from app.core.queues import get_queue

    queue = get_queue("fulfilment")
    for order_id, tenant_id in rows:
        queue.enqueue(
            "app.orders.jobs.fulfil_order",
            str(tenant_id),
            str(order_id),
            job_id=f"fulfil-{order_id}",
        )
    return len(rows)


def expire_due(limit: int = 1000) -> int:
    """Expire unpaid orders past their hold and return their stock."""
    now = datetime.now(UTC)
    ids = db.session.scalars(
        select(Order.id).where(Order.status == PENDING, Order.expires_at < now).limit(limit)
    ).all()
    expired = 0
    for order_id in ids:
        if state.transition(order_id, PENDING, EXPIRED, actor="expiry"):
            stock.release(order_id)
            expired += 1
    db.session.commit()
    return expired


# --- operator actions on exceptions ----------------------------------------


def _open_ticket(order_id: uuid.UUID, reason: str, detail: str) -> Ticket:
    ticket = Ticket(order_id=order_id, reason=reason, detail=detail)
    db.session.add(ticket)
    return ticket


def list_tickets(status: str | None = "open") -> list[Ticket]:
    """The shop's exception tickets (异常工单), newest first (at most 200);
    ``status`` None for all."""
    query = select(Ticket).order_by(Ticket.created_at.desc())
    if status:
        query = query.where(Ticket.status == status)
    return list(db.session.scalars(query.limit(200)).all())


def order_numbers(order_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Order numbers by id, in one query (tickets show their order's number)."""
    if not order_ids:
        return {}
    return dict(
        db.session.execute(select(Order.id, Order.number).where(Order.id.in_(order_ids))).all()
    )


def _resolve_tickets(order_id: uuid.UUID, resolution: str, actor: str) -> None:
    now = datetime.now(UTC)
    for ticket in db.session.scalars(
        select(Ticket).where(Ticket.order_id == order_id, Ticket.status == "open")
    ):
        ticket.status = "resolved"
        ticket.resolution = resolution
        ticket.resolved_at = now
        ticket.actions = [
            *ticket.actions,
            {"action": resolution, "by": actor, "at": now.isoformat()},
        ]


def retry(order_id: uuid.UUID, actor: str) -> str:
    """Operator: try delivering a failed order again (re-reserving what is
    missing; ``OutOfStock`` when the shop still has none)."""
    order = get_order_by_id(order_id)
    if order.status != FAILED:
        raise Conflict(f"Only a failed order can be retried; this one is {order.status}.")
    _hold_paid_stock(order)
    if not state.transition(
        order.id, FAILED, FULFILLING, actor=actor, note="retry", fulfil_started_at=None
    ):
        raise Conflict("The order changed meanwhile; reload and try again.")
    _resolve_tickets(order.id, "retried", actor)
    db.session.commit()
    return fulfil(order.id, actor=actor)


def deliver_manually(order_id: uuid.UUID, content: str, actor: str) -> Order:
    """Operator: deliver by hand (a manual item, or a failed card order).
    The content is encrypted like card codes and shown to the buyer."""
    content = (content or "").strip()
    if not content:
        raise ValidationFailed("Give what to deliver.", errors={"content": ["Required."]})
    order = get_order_by_id(order_id)
    cipher = get_cipher()
    moved = state.transition(
        order.id,
        (PAID, FAILED, FULFILLING),
        DELIVERED,
        actor=actor,
        note="delivered by hand",
        delivered_at=datetime.now(UTC),
        manual_key_id=cipher.current_id,
        manual_secret=cipher.encrypt(order.id, content),
    )
    if not moved:
        raise Conflict(f"This order is {order.status}; it cannot be delivered by hand.")
    stock.release(order.id)
    _resolve_tickets(order.id, "delivered", actor)
    db.session.commit()
    _notify_delivered(order.id)
    return get_order_by_id(order.id)


def refund(order_id: uuid.UUID, *, to: str, actor: str) -> Order:
    """Refund a paid order to the buyer's wallet or the original payment.

    Undelivered codes return to stock; delivered ones are voided, never
    resold. Idempotent by the ledger key ``refund:<order>``.
    """
    order = get_order_by_id(order_id)
    if order.status == FULFILLING:
        raise Conflict("This order is being delivered right now; try again in a minute.")
    if order.status not in (PAID, DELIVERED, PARTIAL, FAILED):
        raise Conflict(f"This order is {order.status}; there is nothing to refund.")
    if to == "wallet":
        if order.buyer_id is None:
            raise ValidationFailed(
                "A guest order can only be refunded to the original payment.",
                errors={"to": ["This buyer has no wallet."]},
            )
        target = ledger.wallet_code(order.buyer_id)
    elif to == "original":
        if order.payment_provider == "wallet":
            target = ledger.wallet_code(order.buyer_id)
        else:
            from app.payments import providers

            providers.refund_original(order)
            target = ledger.clearing_code(order.payment_provider or "unknown")
    else:
        raise ValidationFailed("Refund to 'wallet' or 'original'.", errors={"to": ["Unknown."]})
    moved = state.transition(
        order.id,
        (PAID, DELIVERED, PARTIAL, FAILED),
        REFUNDED,
        actor=actor,
        note=f"refund to {to}",
    )
    if not moved:
        raise Conflict("The order changed meanwhile; reload and try again.")
    ledger.post(
        f"refund:{order.id}",
        "refund",
        [ledger.Line(ledger.SALES, -order.total), ledger.Line(target, order.total)],
        order.currency,
        memo=f"refund of order {order.number}",
        order_id=order.id,
    )
    stock.release(order.id)
    sold_ids = list(
        db.session.scalars(select(Card.id).where(Card.order_id == order.id, Card.status == "sold"))
    )
    stock.void(sold_ids)
    _resolve_tickets(order.id, "refunded", actor)
    db.session.commit()
    return get_order_by_id(order.id)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
