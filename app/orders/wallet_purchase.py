"""Buying with the balance in one request (余额购买): create, pay and deliver
a card order in one transaction.

``buy_with_wallet`` is what ``POST /api/v1/orders`` with ``"pay": "wallet"``,
the buy page's "pay with my balance" and a docking partner's
``POST /supply/v1/purchases`` (``app.supply.purchases``) call. Its
guarantees:

- **atomic**: the order, its history, the sold cards, the stock counter, the
  wallet debit and its ledger transaction commit together or not at all.
  Not enough balance → ``InsufficientFunds`` (402), too few cards →
  ``OutOfStock`` (409); either way nothing is kept;
- **idempotent** by the caller's ``Idempotency-Key``, with checkout's rules
  (``app.orders.checkout``): the same caller, key and request within
  ``IDEMPOTENCY_WINDOW`` answer the first order, another request under that
  key is ``IdempotencyMismatch`` (422). The key is claimed by the order's
  unique index (``INSERT … ON CONFLICT DO NOTHING``), never by a prior read;
- **one shop**: every statement is a SQLAlchemy Core statement on the
  tables, built once at import, and every one binds ``:tenant_id`` (the
  current shop) in its WHERE clause or its inserted values, by construction
  (``_run`` refuses to run without a shop). The ORM tenant guard does not
  see Core statements; these carry the filter themselves, and the
  cross-tenant tests prove it;
- **side effects after the commit**: the delivery mail is queued, stock
  alerts are recorded in the transaction (as ``catalog.stock`` does), and
  an agent upline's commission is accrued in it (``app.agents.commission``).

The plain purchase (a card product with enough available codes, a signed-in
buyer paying retail or tier prices, no coupon, no sub-shop) takes at most 7
statements on PostgreSQL, BEGIN and COMMIT included:

1. the product, the buyer's tier and upline, the shop's settings, the
   first-order test, both ledger accounts and the price rules: one SELECT;
2. the order and its three history rows (created, paid, delivered): one
   INSERT with a data-modifying CTE, ``ON CONFLICT DO NOTHING`` claiming
   the Idempotency-Key;
3. the cards: one ``UPDATE cards … FROM (SELECT … LIMIT n FOR UPDATE SKIP
   LOCKED) RETURNING`` (available → sold; the pick a materialized CTE);
4. the wallet debit (``balance >= amount``) with its ledger transaction and
   both entries: one statement, CTEs again;
5. the product's stock counter (``RETURNING`` what the stock alert needs),
   last, because every purchase of the product waits on that row until the
   commit.

SQLite has no data-modifying CTEs: steps 2 and 4 take two and three
statements there (10 in all, the embedded default's cost, not
production's). More statements, by case:

- a category price rule: one more read (the category tree);
- a buyer with an upline: the commission's reads and writes;
- a low-stock or sold-out crossing: the alert's INSERT;
- a replayed key: the earlier order is read (and rendered as usual);
- the shop's first sale: its ``sales`` ledger account is opened.

Falls back to the two-step path (``checkout.create_order`` then
``payment.pay_order``, in the same request) for what this path does not
do: a coupon, a sub-shop (分站), a top-up or manual product, a card product
whose available codes are short (expired holds to reclaim, or sources to
buy from: checkout owns that, and says when it is sold out), a free
purchase by a buyer whose wallet was never opened, and a key older than
the window. On that path a payment that fails cancels the order it
created and returns its stock (the cancelled order stays in the history).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Text,
    Uuid,
    and_,
    bindparam,
    exists,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql.dml import OnConflictDoNothing

from app.accounts.models import ShopAccount
from app.billing import limits
from app.billing.models import Plan, Subscription
from app.catalog import stock_alerts
from app.catalog.codes import split_card_secret
from app.catalog.models import (
    CARD_AVAILABLE,
    CARD_SOLD,
    KIND_CARD,
    STATUS_ON_SALE,
    Card,
    Product,
)
from app.core.crypto import get_cipher
from app.core.dates import UTCDateTime
from app.core.errors import NotFound, ValidationFailed
from app.core.ids import uuid7_bytes
from app.core.prepared import Prepared
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction, wallet_code
from app.orders import checkout, payment, state
from app.orders.fulfilment import notify_delivered
from app.orders.models import CANCELLED, DELIVERED, PAID, PENDING, Order, OrderEvent
from app.payments import registry
from app.payments.adapters.base import ProviderUnavailable
from app.pricing import rules as pricing
from app.pricing.models import PriceRule
from app.pricing.quote import Rule, quote
from tenants.context import current_tenant_id
from tenants.models import Tenant

#: order states that make an order count as the buyer's earlier order
#: (``app.pricing.rules.first_order_percent``)
_COUNTED = ("paid", "fulfilling", "delivered", "partially_delivered", "failed", "refunding")

_orders = Order.__table__
_events = OrderEvent.__table__
_cards = Card.__table__
_products = Product.__table__
_rules = PriceRule.__table__
_accounts = ShopAccount.__table__
_ledger_accounts = LedgerAccount.__table__
_transactions = LedgerTransaction.__table__
_entries = LedgerEntry.__table__
_tenants = Tenant.__table__
_subscriptions = Subscription.__table__
_plans = Plan.__table__


def _bind(name: str, type_=None):
    """A parameter of this module's statements. Their names are prefixed:
    SQLAlchemy keeps bare column names for an INSERT's or UPDATE's own
    values (``_run`` adds the prefix to what callers pass)."""
    return bindparam(f"p_{name}", type_=type_)


_TENANT = _bind("tenant_id", type_=Uuid)
_BUYER = _bind("buyer_id", type_=Uuid)
_PRODUCT = _bind("product_id", type_=Uuid)
_ORDER = _bind("order_id", type_=Uuid)
_NOW = _bind("now", type_=UTCDateTime())
_AMOUNT = _bind("amount", type_=BigInteger)


# --- 1. what the purchase needs to know: one SELECT ---------------------------------


def _read_statement():
    wallet = _ledger_accounts.alias("buyer_wallet")
    sales = _ledger_accounts.alias("sales_account")
    earlier = exists(
        select(_orders.c.id).where(
            _orders.c.tenant_id == _TENANT,
            _orders.c.buyer_id == _BUYER,
            # Written out: an IN list of parameters cannot be prepared once.
            _orders.c.status.in_([literal_column(f"'{status}'") for status in _COUNTED]),
        )
    )
    p = _products.c
    return (
        select(
            p.id,
            p.kind,
            p.name,
            p.status,
            p.price,
            p.cost,
            p.category_id,
            p.min_quantity,
            p.max_quantity,
            p.input_fields,
            _tenants.c.currency.label("shop_currency"),
            _tenants.c.disabled_payment_providers,
            _tenants.c.first_order_percent,
            # Asked only when the shop gives a first-order discount.
            and_(_tenants.c.first_order_percent > 0, earlier).label("has_earlier"),
            _accounts.c.id.label("buyer"),
            _accounts.c.tier_id,
            _accounts.c.upline_id,
            _accounts.c.is_active,
            wallet.c.id.label("wallet_id"),
            sales.c.id.label("sales_id"),
            _rules.c.id.label("rule_id"),
            _rules.c.product_id.label("rule_product_id"),
            _rules.c.category_id.label("rule_category_id"),
            _rules.c.tier_id.label("rule_tier_id"),
            _rules.c.price.label("rule_price"),
            _rules.c.percent_off.label("rule_percent_off"),
            _rules.c.min_quantity.label("rule_min_quantity"),
            _rules.c.starts_at.label("rule_starts_at"),
            _rules.c.ends_at.label("rule_ends_at"),
            _rules.c.priority.label("rule_priority"),
            _rules.c.allow_below_cost.label("rule_allow_below_cost"),
            # The plan's monthly order cap (``app.billing.limits``), so an
            # uncapped shop pays no statement for it.
            _subscriptions.c.id.label("subscription_id"),
            _plans.c.max_orders_month,
        )
        .select_from(_products)
        .join(_tenants, _tenants.c.id == _products.c.tenant_id)
        .outerjoin(_subscriptions, _subscriptions.c.tenant_id == _TENANT)
        .outerjoin(_plans, _plans.c.id == _subscriptions.c.plan_id)
        .outerjoin(_accounts, and_(_accounts.c.tenant_id == _TENANT, _accounts.c.id == _BUYER))
        .outerjoin(
            wallet,
            and_(
                wallet.c.tenant_id == _TENANT,
                wallet.c.code == _bind("wallet_code", type_=String),
            ),
        )
        .outerjoin(sales, and_(sales.c.tenant_id == _TENANT, sales.c.code == ledger.SALES))
        .outerjoin(
            _rules,
            and_(
                _rules.c.tenant_id == _TENANT,
                or_(_rules.c.product_id == _products.c.id, _rules.c.product_id.is_(None)),
            ),
        )
        .where(_products.c.tenant_id == _TENANT, _products.c.id == _PRODUCT)
    )


# --- 2. the order and its history: one INSERT (PostgreSQL) --------------------------

_ORDER_COLUMNS = (
    "id",
    "tenant_id",
    "number",
    "status",
    "product_id",
    "product_kind",
    "product_name",
    "quantity",
    "unit_price",
    "total",
    "currency",
    "quote",
    "email",
    "buyer_id",
    "inputs",
    "idempotency_key",
    "idempotency_scope",
    "client_address",
    "request_hash",
    "payment_provider",
    "payment_ref",
    "expires_at",
    "paid_at",
    "fulfil_started_at",
    "delivered_at",
    "fulfil_attempts",
    "created_at",
)
_EVENT_COLUMNS = ("id", "tenant_id", "order_id", "from_status", "to_status", "actor", "note")
#: created → paid → delivered, as ``(from, to, note parameter or None)``
_HISTORY = ((None, PENDING, None), (PENDING, PAID, "paid_note"), (PAID, DELIVERED, None))


def _order_values() -> dict:
    return {
        name: _TENANT if name == "tenant_id" else _bind(name, type_=_orders.c[name].type)
        for name in _ORDER_COLUMNS
    }


def _event_row(n: int, source, from_status, to_status, note):
    """One history row as a SELECT (from the inserted order, on PostgreSQL)."""
    return select(
        _bind(f"event_{n}", type_=Uuid),
        _TENANT,
        source,
        literal(from_status, String) if from_status else null(),
        literal(to_status, String),
        _bind("actor", type_=String),
        _bind(note, type_=Text) if note else literal("", Text),
        _bind(f"event_{n}_at", type_=UTCDateTime()),
    )


class _OnConflictDoNothing(OnConflictDoNothing):
    """``ON CONFLICT DO NOTHING``, for any unique index (both dialects
    compile it). SQLAlchemy leaves statements with the dialects' own
    ON CONFLICT clause out of its compiled cache (the clause may name a
    target); this one never does, so its class is all there is to key on,
    and the order's INSERT is compiled once, not per purchase."""

    _traverse_internals: list = []


def _order_insert():
    statement = insert(_orders).values(_order_values()).returning(_orders.c.id)
    statement._post_values_clause = _OnConflictDoNothing()
    return statement


def _order_statement_pg():
    placed = _order_insert().cte("placed")
    rows = union_all(
        *(
            _event_row(n, placed.c.id, a, b, note).select_from(placed)
            for n, (a, b, note) in enumerate(_HISTORY)
        )
    )
    history = (
        insert(_events)
        .from_select([*_EVENT_COLUMNS, "created_at"], rows)
        .returning(_events.c.id)
        .cte("history")
    )
    return select(placed.c.id).add_cte(history)


_EVENTS_INSERT = insert(_events).values(
    {
        "id": _bind("id", type_=Uuid),
        "tenant_id": _TENANT,
        "order_id": _ORDER,
        "from_status": _bind("from_status", type_=String),
        "to_status": _bind("to_status", type_=String),
        "actor": _bind("actor", type_=String),
        "note": _bind("note", type_=Text),
        "created_at": _bind("created_at", type_=UTCDateTime()),
    }
)


# --- 3 and 4. the cards and the stock counter -------------------------------------


def _sell_statement(*, skip_locked: bool):
    pick = (
        select(_cards.c.id)
        .where(
            _cards.c.tenant_id == _TENANT,
            _cards.c.product_id == _PRODUCT,
            _cards.c.status == CARD_AVAILABLE,
        )
        .order_by(_cards.c.id)
        .limit(_bind("quantity", type_=Integer))
    )
    sell = update(_cards).values(
        status=CARD_SOLD, order_id=_ORDER, sold_at=_NOW, reserved_until=None
    )
    if skip_locked:
        # The pick runs once, as its own step: as an IN (subquery) the
        # planner may run it again for each row it updates, and each run
        # skips the rows this statement has just taken, so it would take more.
        picked = (
            pick.with_for_update(skip_locked=True)
            .cte("picked")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        sell = sell.where(
            _cards.c.tenant_id == _TENANT,
            _cards.c.status == CARD_AVAILABLE,
            _cards.c.id == picked.c.id,
        )
    else:
        sell = sell.where(
            _cards.c.tenant_id == _TENANT,
            _cards.c.status == CARD_AVAILABLE,
            _cards.c.id.in_(pick.scalar_subquery()),
        )
    return sell.returning(_cards.c.id, _cards.c.key_id, _cards.c.secret)


_COUNTER = (
    update(_products)
    .where(_products.c.tenant_id == _TENANT, _products.c.id == _PRODUCT)
    .values(stock_available=_products.c.stock_available - _bind("quantity", type_=Integer))
    .returning(_products.c.stock_available, _products.c.low_stock_threshold)
)


# --- 5. the wallet debit and its ledger transaction ---------------------------------

_WALLET = _bind("wallet_id", type_=Uuid)
_TX = _bind("tx_id", type_=Uuid)
_DEBIT = (
    update(_ledger_accounts)
    .where(
        _ledger_accounts.c.tenant_id == _TENANT,
        _ledger_accounts.c.id == _WALLET,
        # Never below zero (``ledger.post``'s rule; only a clawback may).
        _ledger_accounts.c.balance >= _AMOUNT,
    )
    .values(balance=_ledger_accounts.c.balance - _AMOUNT)
    .returning(_ledger_accounts.c.id)
)
_TX_COLUMNS = ("id", "tenant_id", "idempotency_key", "kind", "memo", "order_id", "created_at")
_ENTRY_COLUMNS = ("id", "tenant_id", "transaction_id", "account_id", "amount", "created_at")


def _tx_row():
    return (
        _TX,
        _TENANT,
        _bind("tx_key", type_=String),
        literal("order_payment", String),
        _bind("memo", type_=String),
        _ORDER,
        _NOW,
    )


def _payment_statement_pg():
    debit = _DEBIT.cte("debit")
    tx = (
        insert(_transactions)
        .from_select(list(_TX_COLUMNS), select(*_tx_row()).select_from(debit))
        .returning(_transactions.c.id)
        .cte("tx")
    )
    lines = union_all(
        select(
            _bind("entry_wallet", type_=Uuid),
            _TENANT,
            tx.c.id,
            _WALLET,
            _bind("minus_amount", type_=BigInteger),
            _NOW,
        ).select_from(tx),
        select(
            _bind("entry_sales", type_=Uuid),
            _TENANT,
            tx.c.id,
            _bind("sales_id", type_=Uuid),
            _AMOUNT,
            _NOW,
        ).select_from(tx),
    )
    entries = (
        insert(_entries)
        .from_select(list(_ENTRY_COLUMNS), lines)
        .returning(_entries.c.id)
        .cte("entries")
    )
    return select(debit.c.id).add_cte(tx, entries)


_TX_INSERT = insert(_transactions).values(dict(zip(_TX_COLUMNS, _tx_row(), strict=True)))
_ENTRY_INSERT = insert(_entries).values(
    {
        "id": _bind("id", type_=Uuid),
        "tenant_id": _TENANT,
        "transaction_id": _TX,
        "account_id": _bind("account_id", type_=Uuid),
        "amount": _bind("line_amount", type_=BigInteger),
        "created_at": _NOW,
    }
)

#: Built once: the compiled forms are cached per statement by SQLAlchemy.
_READ = _read_statement()
_PLACE = {"postgresql": _order_statement_pg(), "sqlite": _order_insert()}
_SELL = {
    "postgresql": _sell_statement(skip_locked=True),
    "sqlite": _sell_statement(skip_locked=False),
}
_PAY_PG = _payment_statement_pg()
#: every statement a purchase may run (each must have a cache key)
STATEMENTS = (
    _READ,
    *_PLACE.values(),
    _EVENTS_INSERT,
    *_SELL.values(),
    _COUNTER,
    _DEBIT,
    _PAY_PG,
    _TX_INSERT,
    _ENTRY_INSERT,
)


# --- the service ------------------------------------------------------------------


@dataclass
class WalletPurchase:
    """A purchase's outcome: the order, whether this request made it, and
    for a new one its history and codes as they were written (so the answer
    needs no further read)."""

    order: Order
    created: bool
    history: list[OrderEvent] = field(default_factory=list)
    codes: list[dict] | None = None


class _Fallback(Exception):
    """This purchase is not one the fast path makes (see the module doc)."""


def _run(connection, statement, params: dict | list[dict]):
    """Execute a Core statement of this module with the current shop bound
    as ``:tenant_id`` (in every parameter set)."""
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise RuntimeError("a wallet purchase runs in a shop's context")
    prepared = _PREPARED.get(id(statement))
    if prepared is None:
        prepared = _PREPARED.setdefault(id(statement), Prepared(statement))
    if isinstance(params, list):
        return prepared.run(connection, [_prefixed(p, tenant_id) for p in params])
    return prepared.run(connection, _prefixed(params, tenant_id))


#: Each statement of this module, prepared once (``app.core.prepared``);
#: keyed by the statement object, which lives as long as the module.
_PREPARED: dict[int, Prepared] = {}


def _prefixed(params: dict, tenant_id: uuid.UUID) -> dict:
    named = {f"p_{name}": value for name, value in params.items()}
    named["p_tenant_id"] = tenant_id
    return named


def buy_with_wallet(
    *,
    product_id: uuid.UUID,
    quantity: int,
    email: str,
    buyer_id: uuid.UUID | None,
    inputs: dict | None = None,
    idempotency_key: str | None = None,
    actor: str = "buyer",
    currency: str | None = None,
    caller: checkout.Caller = checkout.GUEST,
    coupon: str | None = None,
    sub_shop_id: uuid.UUID | None = None,
    before_commit: Callable[[Order], None] | None = None,
    two_steps: Callable[[], WalletPurchase] | None = None,
) -> WalletPurchase:
    """Create, pay from ``buyer_id``'s balance and deliver an order in the
    current shop, in one transaction (see the module doc for what is
    guaranteed and which purchases take the two-step path). Commits.

    A surface with rows of its own to keep with the order passes
    ``before_commit``: it is called with the new order in the purchase's
    transaction, once the purchase is written (what it adds to the session
    commits with the order, or is rolled back with it). ``two_steps``
    replaces the two-step path for the purchases this one does not make
    (the supply API keeps its own: ``app.supply.purchases``); it runs after
    this path's transaction is rolled back, and its result is returned.

    Raises what checkout raises for a bad request (``NotFound``,
    ``ValidationFailed``, ``IdempotencyMismatch``, ``CouponRefused``…),
    ``ValidationFailed`` without a signed-in buyer, ``ProviderUnavailable``
    when the shop does not take balance payments, ``InsufficientFunds``
    and ``OutOfStock``; after any of them nothing of the purchase is kept."""
    from app.accounts.services import normalize_email
    from app.catalog.inputs import validate_inputs

    if buyer_id is None:
        raise ValidationFailed(
            "Sign in to pay from your balance.", errors={"pay": ["Needs an account."]}
        )
    adapter = _wallet_adapter()
    email = normalize_email(email)
    coupon = (coupon or "").strip() or None
    arguments = dict(
        product_id=product_id,
        quantity=quantity,
        email=email,
        inputs=inputs,
        buyer_id=buyer_id,
        idempotency_key=idempotency_key,
        actor=actor,
        currency=currency,
        caller=caller,
        coupon=coupon,
        sub_shop_id=sub_shop_id,
    )
    if two_steps is None:

        def two_steps() -> WalletPurchase:
            return _two_steps(adapter.name, **arguments)

    if coupon is not None or sub_shop_id is not None:
        return two_steps()
    request_hash = checkout._request_hash(product_id, quantity, email, inputs, buyer_id)
    connection = db.session.connection()
    dialect = connection.dialect.name
    tenant_id = current_tenant_id()
    now = datetime.now(UTC)
    try:
        rows = _run(
            connection,
            _READ,
            {"buyer_id": buyer_id, "product_id": product_id, "wallet_code": wallet_code(buyer_id)},
        ).all()
        if not rows or rows[0].status != STATUS_ON_SALE:
            raise NotFound("No such product on sale.")
        facts = rows[0]
        if adapter.name in (facts.disabled_payment_providers or ()):
            raise ProviderUnavailable(f"This shop does not take payments through '{adapter.name}'.")
        _check_quantity(facts, quantity)
        clean_inputs = validate_inputs(facts, inputs or {})
        if facts.buyer is None or not facts.is_active:
            # Not a shop account of this shop (the surfaces pass only the
            # current shop's), or one switched off: no wallet to pay from.
            raise ValidationFailed(
                "Sign in to pay from your balance.", errors={"pay": ["Needs an account."]}
            )
        if facts.kind != KIND_CARD:
            raise _Fallback
        if facts.max_orders_month is not None or (
            facts.subscription_id is None and current_app.config.get("BILLING_DEFAULT_PLAN")
        ):
            limits.check("orders_month")  # the plan caps orders: count them
        priced = _quote(facts, rows, quantity, currency or facts.shop_currency, now)
        if facts.wallet_id is None:  # never held money
            if priced.total > 0:
                raise ledger.InsufficientFunds("The wallet balance is too low for this payment.")
            raise _Fallback
        sales_id = facts.sales_id
        if sales_id is None:  # the shop's first sale opens its sales account
            sales_id = ledger.get_or_create_account(ledger.SALES, priced.currency).id
        ids = _new_ids(8)
        order_id = ids[0]
        order = Order(
            id=order_id,
            tenant_id=tenant_id,
            number=checkout.new_number(),
            status=DELIVERED,
            product_id=product_id,
            product_kind=facts.kind,
            product_name=facts.name,
            quantity=quantity,
            unit_price=priced.unit_price,
            total=priced.total,
            currency=priced.currency,
            quote=priced.snapshot(),
            email=email,
            buyer_id=buyer_id,
            sub_shop_id=None,
            inputs=clean_inputs,
            idempotency_key=idempotency_key,
            idempotency_scope=caller.scope if idempotency_key else None,
            client_address=caller.address[:45] if caller.address else None,
            request_hash=request_hash,
            payment_provider=adapter.name,
            payment_ref=f"{adapter.name}:{order_id}",
            expires_at=now + checkout.hold_time(),
            paid_at=now,
            fulfil_started_at=now,
            delivered_at=now,
            fulfil_attempts=1,
            created_at=now,
        )
        history = [
            OrderEvent(
                id=ids[1 + n],
                tenant_id=tenant_id,
                order_id=order_id,
                from_status=left,
                to_status=to,
                actor=actor[:120],
                note=f"{adapter.name} {order.payment_ref}" if note else "",
                created_at=now,
            )
            for n, (left, to, note) in enumerate(_HISTORY)
        ]
        if not _place(connection, dialect, order, history):
            db.session.rollback()
            return _replay(idempotency_key, caller, request_hash, two_steps)
        sold = _run(
            connection,
            _SELL[dialect],
            {"product_id": product_id, "quantity": quantity, "order_id": order_id, "now": now},
        ).all()
        if len(sold) < quantity:
            raise _Fallback  # expired holds to reclaim, sources to buy from, or sold out
        _debit(connection, dialect, order, facts.wallet_id, sales_id, ids)
        # Last: every purchase of the product waits on this row's lock
        # until its commit.
        after, threshold = _run(
            connection, _COUNTER, {"product_id": product_id, "quantity": quantity}
        ).one()
        stock_alerts.record_crossing(tenant_id, product_id, after + quantity, after, threshold)
        if facts.upline_id is not None:
            from app.agents import commission

            commission.accrue(order_id, now=now)
        if before_commit is not None:
            before_commit(order)
        db.session.commit()
    except _Fallback:
        db.session.rollback()
        return two_steps()
    except BaseException:
        db.session.rollback()
        raise
    notify_delivered(order_id)
    return WalletPurchase(order, True, history, _codes(sold))


def _wallet_adapter():
    """The adapter that pays from a balance, if buyers may use it here
    (``ProviderUnavailable`` otherwise; the shop's own choice is read with
    the purchase's facts)."""
    found = next(a for a in registry.ADAPTERS.values() if a.pays_from_wallet)
    if not found.available():
        raise ProviderUnavailable(f"'{found.name}' is not available on this platform.")
    return found


def _new_ids(count: int) -> list[uuid.UUID]:
    raw = uuid7_bytes(count)
    return [uuid.UUID(bytes=raw[i : i + 16]) for i in range(0, 16 * count, 16)]


def _check_quantity(facts, quantity) -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise ValidationFailed(
            "Quantity must be a whole number.",
            errors={"quantity": ["Must be a whole number."]},
            message=checkout.quantity_bounds_message(facts.min_quantity, facts.max_quantity),
        )
    low, high = facts.min_quantity, facts.max_quantity
    if not low <= quantity <= high:
        raise ValidationFailed(
            f"Quantity must be from {low} to {high} for this product.",
            errors={"quantity": [f"Must be from {low} to {high}."]},
            message=checkout.quantity_bounds_message(low, high),
            min=low,
            max=high,
        )


def _quote(facts, rows, quantity: int, currency: str, now: datetime):
    """``app.pricing``'s price for this buyer, from the facts the one read
    brought (the rules joined to the product, one row each)."""
    rules = [
        Rule(
            id=row.rule_id,
            product_id=row.rule_product_id,
            category_id=row.rule_category_id,
            tier_id=row.rule_tier_id,
            price=row.rule_price,
            percent_off=row.rule_percent_off,
            min_quantity=row.rule_min_quantity,
            starts_at=row.rule_starts_at,
            ends_at=row.rule_ends_at,
            priority=row.rule_priority,
            allow_below_cost=row.rule_allow_below_cost,
        )
        for row in rows
        if row.rule_id is not None
    ]
    chain: tuple = ()
    if facts.category_id is not None:
        chain = (facts.category_id,)
        if any(rule.category_id is not None for rule in rules):
            chain = pricing.category_chains(rules, {facts.category_id})[facts.category_id]
    percent = int(facts.first_order_percent or 0)
    return quote(
        unit_price=facts.price,
        quantity=quantity,
        currency=currency,
        product_name=facts.name,
        cost=facts.cost,
        product_id=facts.id,
        category_ids=chain,
        tier_id=facts.tier_id,
        rules=rules,
        first_order_percent=0 if facts.has_earlier else percent,
        now=now,
    )


def _place(connection, dialect: str, order: Order, history: list[OrderEvent]) -> bool:
    """Insert the order and its history; False when the Idempotency-Key (or,
    rarely, the number) is taken."""
    values = {name: getattr(order, name) for name in _ORDER_COLUMNS if name != "tenant_id"}
    if dialect == "postgresql":
        params = {**values, "actor": history[0].actor, "paid_note": history[1].note}
        for n, event in enumerate(history):
            params[f"event_{n}"] = event.id
            params[f"event_{n}_at"] = event.created_at
        return _run(connection, _PLACE[dialect], params).first() is not None
    if _run(connection, _PLACE[dialect], values).first() is None:
        return False
    _run(
        connection,
        _EVENTS_INSERT,
        [
            {
                "id": e.id,
                "order_id": order.id,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "actor": e.actor,
                "note": e.note,
                "created_at": e.created_at,
            }
            for e in history
        ],
    )
    return True


def _debit(
    connection,
    dialect: str,
    order: Order,
    wallet_id: uuid.UUID,
    sales_id: uuid.UUID,
    ids: list[uuid.UUID],
) -> None:
    """Take the total from the buyer's wallet into ``sales``: the ledger's
    ``pay:<order>`` transaction (``app.ledger`` posts the same lines)."""
    params = {
        "wallet_id": wallet_id,
        "sales_id": sales_id,
        "amount": order.total,
        "minus_amount": -order.total,
        "tx_id": ids[4],
        "tx_key": f"pay:{order.id}",
        "memo": f"order {order.number}"[:200],
        "order_id": order.id,
        "now": order.created_at,
        "entry_wallet": ids[5],
        "entry_sales": ids[6],
    }
    if dialect == "postgresql":
        moved = _run(connection, _PAY_PG, params).first() is not None
    else:
        moved = _run(connection, _DEBIT, params).first() is not None
        if moved:
            _run(connection, _TX_INSERT, params)
            _run(
                connection,
                _ENTRY_INSERT,
                [
                    {
                        **params,
                        "id": ids[5],
                        "account_id": wallet_id,
                        "line_amount": -order.total,
                    },
                    {
                        **params,
                        "id": ids[6],
                        "account_id": sales_id,
                        "line_amount": order.total,
                    },
                ],
            )
    if not moved:
        raise ledger.InsufficientFunds("The wallet balance is too low for this payment.")


def _codes(sold) -> list[dict]:
    cipher = get_cipher()
    codes = []
    for card_id, key_id, secret in sorted(sold, key=lambda row: row[0]):
        number, password = split_card_secret(cipher.decrypt(card_id, key_id, secret))
        codes.append({"code": number, "password": password, "void": False})
    return codes


def _replay(key, caller, request_hash, two_steps) -> WalletPurchase:
    """The key is taken: this caller's earlier order under it (within the
    window), paid now if it waits for its payment, or
    ``IdempotencyMismatch``."""
    earlier = checkout._earlier_order(key, caller.scope, request_hash)
    if earlier is not None and earlier.status != PENDING:
        return WalletPurchase(earlier, False)
    # An order made under this key without paying is paid now; an expired
    # key is freed and a clashing number drawn again, by checkout.
    return two_steps()


def _two_steps(provider: str, **arguments) -> WalletPurchase:
    """Create the order (``checkout``) and pay it from the wallet
    (``payment``), in this request. A payment that fails cancels the order
    it created and returns its stock, then raises."""
    order, created = checkout.create_order(**arguments)
    order_id = order.id
    if order.status == PENDING:
        try:
            payment.pay_order(
                order, provider, buyer_id=arguments["buyer_id"], actor=arguments["actor"]
            )
        except Exception:
            db.session.rollback()
            if created:
                _cancel(order_id, arguments["actor"])
            raise
    from app.orders.lookups import get_order_by_id

    return WalletPurchase(get_order_by_id(order_id), created)


def _cancel(order_id: uuid.UUID, actor: str) -> None:
    from app.catalog import stock

    if state.transition(order_id, PENDING, CANCELLED, actor=actor):
        stock.release(order_id)
    db.session.commit()
