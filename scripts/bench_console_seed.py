"""The shop ``scripts/bench console`` measures: one shop the size of a busy
one, written in bulk.

What :func:`seed` writes (all of it in the one shop ``busy`` but the
platform owner and the other shops):

- the shop's owner and 4 staff members (platform users, one password);
  a platform owner; 12 other small shops, so the platform's shops list has
  more than one row;
- 40 categories (8 top categories with 4 children each);
- 10,000 products in them, round-robin: 94 % card products, 3 % top-ups, 3 %
  hand-fulfilled items; 85 % on sale, 10 % off sale, 5 % drafts; named
  after ten brands and a face value (``Steam 100 元 · 00042``) so a name
  search matches about a tenth of them; a low-stock threshold on 30 %;
- card stock: 0 to 20 available codes for each card product (5 % sold
  out), 20,000 more for the first product (the one whose pages are
  measured), and the codes of every delivered order, sold; every code
  encrypted and fingerprinted with the shop's real keys
  (``CardCipher.encrypt_many``, ``fingerprint_many``), so each product's
  ``stock_available`` is the count of its available cards, as
  ``catalog/stock.py`` keeps it;
- 300 shop accounts (275 customers, 20 agents, 5 suppliers) with a wallet
  each: one recharge (paid through Stripe) covering what they spent and a
  remainder, so every cached balance equals the sum of its entries;
- 100,000 orders placed over the last 60 days (uniformly; the newest
  minutes hold 20 still unpaid), 35 % by the accounts (paid from the
  wallet), the rest by guests (30,000 addresses, paid through Stripe),
  spread over the products on sale with a long tail (a few products sell
  most); statuses: delivered 82 %, expired 10 %, cancelled 3 %, refunded 3 %,
  failed 0.5 % (each with an open ticket), partially delivered 0.5 %, and
  paid, fulfilling and refunding a few each; 1 to 3 items;
- each order's history as the state machine writes it (placed, paid,
  fulfilling, delivered ...), the ledger transaction of each payment and
  refund with its two entries, a resolved ticket for half of the refunds;
- 3,000 audit rows over the 60 days (codes viewed, exports, settings).

Everything big goes in with ``COPY`` on the session's own connection (ids
are version-7 UUIDs of each row's own time, as if written then), in one
transaction; the tenant is written into every row, as ``card_copy`` does.
A fixed random seed makes every run write the same shop (but for ids,
keys and order numbers, which are random).
"""

from __future__ import annotations

import json
import random
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import bench_common as bc

SLUG = "busy"
PASSWORD = "bench-console-password"
OWNER_EMAIL = "owner@busy.bench.example.com"
ADMIN_EMAIL = "admin@bench.example.com"
STAFF = 4
OTHER_SHOPS = 12
TOP_CATEGORIES = 8
CHILDREN_PER_TOP = 4
PRODUCTS = 10_000
FEATURED_CODES = 20_000
ACCOUNTS = 300
GUEST_EMAILS = 30_000
ORDERS = 100_000
DAYS = 60
AUDIT_ROWS = 3_000
CURRENCY = "CNY"

BRANDS = (
    "Steam",
    "PSN",
    "Xbox",
    "Apple",
    "Google Play",
    "Netflix",
    "腾讯 Q币",
    "网易一卡通",
    "Razer Gold",
    "Nintendo eShop",
)
FACE_VALUES = (10, 30, 50, 100, 200, 500)
#: (status, weight) of orders older than their hold
STATUS_MIX = (
    ("delivered", 820),
    ("expired", 100),
    ("cancelled", 30),
    ("refunded", 30),
    ("failed", 5),
    ("partially_delivered", 5),
    ("paid", 4),
    ("fulfilling", 3),
    ("refunding", 3),
)
PAID_STATUSES = {
    "delivered",
    "refunded",
    "failed",
    "partially_delivered",
    "paid",
    "fulfilling",
    "refunding",
}
AUDIT_ACTIONS = (
    ("order.codes_viewed", 70),
    ("cards.export", 10),
    ("cards.void", 8),
    ("shop.theme", 5),
    ("shop.payments", 4),
    ("domain.added", 3),
)


@dataclass
class Seeded:
    """What the measurements need to know about the seeded shop."""

    tenant_id: uuid.UUID
    featured_product: uuid.UUID
    top_category: uuid.UUID
    delivered_number: str
    buyer_email: str
    buyer_orders: int
    customer_id: uuid.UUID
    counts: dict = field(default_factory=dict)


def uuid7_at(when: datetime, rng: random.Random) -> uuid.UUID:
    """A version-7 UUID of the instant ``when`` (the layout ``app.core.ids``
    writes: 48-bit ms, version, 12 random bits, variant, 62 random bits)."""
    ms = int(when.timestamp() * 1000)
    rand = rng.getrandbits(74)
    high = (ms << 16) | 0x7000 | (rand >> 62)
    low = (0b10 << 62) | (rand & ((1 << 62) - 1))
    return uuid.UUID(int=(high << 64) | low)


def _copy(cursor, table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> int:
    """``COPY`` ``rows`` into ``table``; returns how many."""
    n = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


ORDER_COLUMNS = (
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
    "payment_provider",
    "payment_ref",
    "expires_at",
    "paid_at",
    "fulfil_started_at",
    "delivered_at",
    "mailed_at",
    "fulfil_attempts",
    "last_error",
    "created_at",
)


def _weighted(rng: random.Random, mix) -> str:
    names = [name for name, _ in mix]
    weights = [weight for _, weight in mix]
    return rng.choices(names, weights)[0]


def seed(app) -> Seeded:
    """Write the shop (see the module text); returns what the pages need."""
    from app.accounts import shops
    from app.accounts.models import ROLE_STAFF, Membership
    from app.accounts.services import create_platform_user
    from app.core.security import hash_password
    from app.extensions import db
    from tenants.context import tenant_context

    rng = random.Random(20_240_501)
    now = datetime.now(UTC)
    with app.app_context():
        owner = create_platform_user(OWNER_EMAIL, PASSWORD, display_name="Bench owner")
        create_platform_user(ADMIN_EMAIL, PASSWORD, platform_admin=True)
        tenant = shops.open_shop(SLUG, "卡盟 Console Bench", owner)
        tenant_id = tenant.id
        staff = [
            create_platform_user(f"staff{i}@busy.bench.example.com", PASSWORD) for i in range(STAFF)
        ]
        with tenant_context(tenant_id):
            for user in staff:
                db.session.add(Membership(tenant_id=tenant_id, user_id=user.id, role=ROLE_STAFF))
            db.session.commit()
        for i in range(OTHER_SHOPS):
            bc.open_shop(f"other{i:02d}", f"Other shop {i}")

        account_hash = hash_password(PASSWORD)
        raw = db.session.connection().connection.driver_connection
        with raw.cursor() as cursor:
            writer = _Writer(cursor, tenant_id, rng, now)
            writer.catalogue()
            writer.accounts(account_hash)
            writer.orders()
            writer.cards(app)
            writer.ledger()
            writer.audit([OWNER_EMAIL] + [u.email for u in staff])
        db.session.commit()
        db.session.remove()
    return writer.result()


class _Writer:
    """Builds the rows in memory, table by table, and copies them in."""

    def __init__(self, cursor, tenant_id: uuid.UUID, rng: random.Random, now: datetime):
        self.cursor, self.tenant_id, self.rng, self.now = cursor, tenant_id, rng, now
        self.counts: dict[str, int] = {}

    def _put(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
        self.counts[table] = self.counts.get(table, 0) + _copy(self.cursor, table, columns, rows)

    def _id(self, when: datetime) -> uuid.UUID:
        return uuid7_at(when, self.rng)

    def _ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days)

    # --- catalogue -------------------------------------------------------------

    def catalogue(self) -> None:
        rng, t = self.rng, self.tenant_id
        made = self._ago(DAYS + 30)
        categories = []
        self.tops = []
        for i, brand in enumerate(BRANDS[:TOP_CATEGORIES]):
            top = self._id(made)
            self.tops.append(top)
            categories.append((top, t, None, f"{brand} 点卡", i * 10, made))
            for k in range(CHILDREN_PER_TOP):
                categories.append(
                    (
                        self._id(made),
                        t,
                        top,
                        f"{brand} · {('国区', '港区', '美区', '日区')[k]}",
                        k,
                        made,
                    )
                )
        self._put(
            "categories", ("id", "tenant_id", "parent_id", "name", "sort", "created_at"), categories
        )
        category_ids = [c[0] for c in categories]

        topup_fields = json.dumps(
            [
                {
                    "name": "account",
                    "label": "QQ number",
                    "required": True,
                    "pattern": "[1-9][0-9]{4,11}",
                    "min_length": 5,
                    "max_length": 12,
                }
            ]
        )
        self.products: list[dict] = []
        rows = []
        for i in range(PRODUCTS):
            roll = rng.random()
            kind = "card" if roll < 0.94 else ("topup" if roll < 0.97 else "manual")
            roll = rng.random()
            status = "on_sale" if roll < 0.85 else ("off_sale" if roll < 0.95 else "draft")
            if i == 0:
                kind, status = "card", "on_sale"
            face = FACE_VALUES[i % len(FACE_VALUES)]
            brand = BRANDS[i % len(BRANDS)]
            created = self._ago(DAYS + 30 - i * (DAYS + 20) / PRODUCTS)
            available = 0
            if kind == "card":
                available = rng.randint(1, 20) if rng.random() >= 0.05 else 0
            if i == 0:
                available = FEATURED_CODES
            product = {
                "id": self._id(created),
                "kind": kind,
                "status": status,
                "name": f"{brand} {face} 元 · {i:05d}",
                "price": face * 100 - rng.choice((0, 50, 100, 200)),
                "available": available,
            }
            self.products.append(product)
            rows.append(
                (
                    product["id"],
                    t,
                    category_ids[i % len(category_ids)],
                    kind,
                    product["name"],
                    f"{brand} gift card worth {face} yuan, delivered at once. 自动发货。",
                    product["price"],
                    product["price"] * 9 // 10,
                    1,
                    100,
                    status,
                    topup_fields if kind == "topup" else "[]",
                    "Redeem it in your account's wallet page." if kind == "card" else "",
                    5 if rng.random() < 0.3 else 0,
                    available,
                    0,
                    created,
                    created,
                )
            )
        self._put(
            "products",
            (
                "id",
                "tenant_id",
                "category_id",
                "kind",
                "name",
                "description",
                "price",
                "cost",
                "min_quantity",
                "max_quantity",
                "status",
                "input_fields",
                "delivery_note",
                "low_stock_threshold",
                "stock_available",
                "sort",
                "created_at",
                "updated_at",
            ),
            rows,
        )

    # --- accounts --------------------------------------------------------------

    def accounts(self, password_hash: str) -> None:
        rng, t = self.rng, self.tenant_id
        rows = []
        self.customers: list[tuple[uuid.UUID, str]] = []
        for i in range(ACCOUNTS):
            created = self._ago(DAYS + 60 - i * (DAYS + 50) / ACCOUNTS)
            role = "customer" if i < 275 else ("agent" if i < 295 else "supplier")
            email = f"buyer{i:03d}@example.com"
            account_id = self._id(created)
            self.customers.append((account_id, email))
            rows.append(
                (
                    account_id,
                    t,
                    email,
                    password_hash,
                    f"Buyer {i}",
                    role,
                    True,
                    created,
                    self._ago(rng.uniform(0, 10)),
                )
            )
        self._put(
            "shop_accounts",
            (
                "id",
                "tenant_id",
                "email",
                "password_hash",
                "display_name",
                "role",
                "is_active",
                "created_at",
                "last_login_at",
            ),
            rows,
        )

    # --- orders ----------------------------------------------------------------

    def orders(self) -> None:
        """Orders with their history and tickets; remembers the cards they
        took and the payments the ledger records."""
        rng = self.rng
        on_sale = [p for p in self.products if p["status"] == "on_sale" and p["kind"] == "card"]
        times = sorted(self._ago(rng.uniform(0.02, DAYS)) for _ in range(ORDERS - 20))
        times += sorted(self._ago(rng.uniform(0, 0.005)) for _ in range(20))
        numbers: set[str] = set()
        orders, events, tickets = [], [], []
        self.sold: list[tuple] = []  # (product id, order id, cards, when, card status)
        self.payments: list[tuple] = []  # (order id, number, when, total, wallet of, refunded)
        self.spent: dict[uuid.UUID, int] = {}
        per_email: dict[str, int] = {}
        for n, created in enumerate(times):
            status = "pending_payment" if n >= ORDERS - 20 else _weighted(rng, STATUS_MIX)
            # A long tail: a few products sell most (rank ~ u^3); the
            # featured product gets 2 % of the orders.
            if rng.random() < 0.02:
                product = self.products[0]
            else:
                product = on_sale[int(len(on_sale) * rng.random() ** 3)]
            quantity = rng.choices((1, 2, 3), (80, 15, 5))[0]
            if status == "partially_delivered":
                quantity = max(quantity, 2)
            total = product["price"] * quantity
            if rng.random() < 0.35:
                buyer_id, email = self.customers[rng.randrange(ACCOUNTS)]
                provider, actor = "wallet", f"buyer {email}"
            else:
                buyer_id, email = None, f"guest{rng.randrange(GUEST_EMAILS):05d}@example.net"
                provider, actor = "stripe", "guest"
            per_email[email] = per_email.get(email, 0) + 1
            number = ""
            while not number or number in numbers:
                number = created.strftime("%y%m%d") + f"{rng.randrange(10**14):014d}"
            numbers.add(number)
            order_id = self._id(created)
            paid = status in PAID_STATUSES
            paid_at = created + timedelta(seconds=rng.uniform(15, 240)) if paid else None
            delivered_at = None
            if status in ("delivered", "refunded", "refunding", "partially_delivered"):
                delivered_at = paid_at + timedelta(seconds=rng.uniform(0.2, 3))
            ref = None
            if paid:
                ref = f"pi_{rng.getrandbits(64):016x}" if provider == "stripe" else None
            refunded_at = None
            history = self._history(
                order_id, status, actor, provider, ref, quantity, created, paid_at, delivered_at
            )
            events += history
            if status == "failed":
                note = f"0 of {quantity} codes available"
                tickets.append((order_id, "out_of_stock", note, "open", None, paid_at, None))
            if status == "refunded":
                refunded_at = history[-1][-1]
                if rng.random() < 0.5:
                    complained = delivered_at + timedelta(minutes=30)
                    tickets.append(
                        (
                            order_id,
                            "buyer_complaint",
                            "The code was already used.",
                            "resolved",
                            "refunded",
                            complained,
                            refunded_at,
                        )
                    )
            if paid:
                wallet_of = buyer_id if provider == "wallet" else None
                self.payments.append((order_id, number, paid_at, total, wallet_of, refunded_at))
                if wallet_of is not None and refunded_at is None:
                    self.spent[wallet_of] = self.spent.get(wallet_of, 0) + total
            if status in ("delivered", "refunding"):
                self.sold.append((product["id"], order_id, quantity, delivered_at, "sold"))
            elif status == "refunded":
                self.sold.append((product["id"], order_id, quantity, delivered_at, "void"))
            elif status == "partially_delivered":
                self.sold.append((product["id"], order_id, quantity - 1, delivered_at, "sold"))
            quote = {
                "currency": CURRENCY,
                "unit_price": product["price"],
                "quantity": quantity,
                "total": total,
                "lines": [{"label": f"{product['name']} × {quantity}", "amount": total}],
            }
            orders.append(
                (
                    order_id,
                    self.tenant_id,
                    number,
                    status,
                    product["id"],
                    "card",
                    product["name"],
                    quantity,
                    product["price"],
                    total,
                    CURRENCY,
                    json.dumps(quote, ensure_ascii=False),
                    email,
                    buyer_id,
                    "{}",
                    f"{rng.getrandbits(64):016x}",
                    f"shop_account:{buyer_id}" if buyer_id else "guest",
                    f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                    provider if paid else None,
                    ref,
                    created + timedelta(minutes=15),
                    paid_at,
                    paid_at if paid and status != "paid" else None,
                    delivered_at,
                    delivered_at,
                    1 if paid and status != "paid" else 0,
                    "not enough reserved stock" if status == "failed" else None,
                    created,
                )
            )
        self._put("orders", ORDER_COLUMNS, orders)
        self._put(
            "order_events",
            (
                "id",
                "tenant_id",
                "order_id",
                "from_status",
                "to_status",
                "actor",
                "note",
                "created_at",
            ),
            events,
        )
        self._put(
            "tickets",
            (
                "id",
                "tenant_id",
                "order_id",
                "reason",
                "detail",
                "status",
                "resolution",
                "created_at",
                "resolved_at",
                "actions",
            ),
            ((self._id(row[5]), self.tenant_id, *row, "[]") for row in tickets),
        )
        # Someone with several orders, for the search by email; an order to open.
        self.buyer_email, self.buyer_orders = max(
            ((e, c) for e, c in per_email.items() if e.startswith("guest")), key=lambda x: x[1]
        )
        delivered = [o for o in orders if o[3] == "delivered"]
        self.delivered_number = delivered[len(delivered) // 2][2]

    def _history(
        self, order_id, status, actor, provider, ref, quantity, created, paid_at, delivered_at
    ) -> list[tuple]:
        """The order's events as the state machine writes them."""
        steps = [(None, "pending_payment", actor, "", created)]
        if status == "expired":
            steps.append(
                ("pending_payment", "expired", "expiry", "", created + timedelta(minutes=15))
            )
        elif status == "cancelled":
            steps.append(
                ("pending_payment", "cancelled", actor, "", created + timedelta(minutes=2))
            )
        elif paid_at is not None:
            payer = actor if provider == "wallet" else "stripe webhook"
            steps.append(
                ("pending_payment", "paid", payer, f"{provider} {ref or ''}".strip(), paid_at)
            )
            if status != "paid":
                steps.append(("paid", "fulfilling", "fulfilment", "", paid_at))
            if status == "failed":
                note = f"0 of {quantity} codes available"
                steps.append(("fulfilling", "failed", "fulfilment", note, paid_at))
            elif status == "partially_delivered":
                note = f"{quantity - 1} of {quantity} codes available"
                steps.append(("fulfilling", status, "fulfilment", note, delivered_at))
            elif delivered_at is not None:
                steps.append(("fulfilling", "delivered", "fulfilment", "", delivered_at))
            if status in ("refunded", "refunding"):
                operator = f"operator {OWNER_EMAIL}"
                claimed = delivered_at + timedelta(hours=self.rng.uniform(1, 48))
                steps.append(("delivered", "refunding", operator, "refund to original", claimed))
                if status == "refunded":
                    done = claimed + timedelta(seconds=2)
                    steps.append(("refunding", "refunded", operator, "refund to original", done))
        return [
            (self._id(when), self.tenant_id, order_id, before, after, who, note, when)
            for before, after, who, note, when in steps
        ]

    # --- cards -------------------------------------------------------------------

    def cards(self, app) -> None:
        """Every code: each product's available stock and the delivered
        orders' cards, encrypted and fingerprinted with the shop's keys in
        the canonical form an import stores (``number<TAB>password``)."""
        from app.core.crypto import get_cipher

        cipher = get_cipher(app)
        salt = secrets.token_hex(3)
        plan: list[tuple] = []  # (product id, status, order id, created, sold)
        for product in self.products:
            if product["available"]:
                when = self._ago(self.rng.uniform(0, DAYS))
                plan += [(product["id"], "available", None, when, None)] * product["available"]
        for product_id, order_id, quantity, when, status in self.sold:
            plan += [(product_id, status, order_id, when - timedelta(days=1), when)] * quantity
        batch = 20_000
        for at in range(0, len(plan), batch):
            chunk = plan[at : at + batch]
            ids = [uuid7_at(row[3], self.rng) for row in chunk]
            codes = [
                f"{salt}{at + k:010d}\t{self.rng.getrandbits(48):012x}" for k in range(len(chunk))
            ]
            sealed = cipher.encrypt_many([i.bytes for i in ids], codes)
            fingerprints = cipher.fingerprint_many(codes)
            self._put(
                "cards",
                (
                    "id",
                    "tenant_id",
                    "product_id",
                    "status",
                    "order_id",
                    "created_at",
                    "sold_at",
                    "key_id",
                    "secret",
                    "fingerprint",
                ),
                (
                    (card_id, self.tenant_id, *row, cipher.current_id, secret, fp)
                    for card_id, row, secret, fp in zip(
                        ids, chunk, sealed, fingerprints, strict=True
                    )
                ),
            )

    # --- ledger ------------------------------------------------------------------

    def ledger(self) -> None:
        """Wallets with one recharge each, then every payment and refund."""
        rng, t = self.rng, self.tenant_id
        opened = self._ago(DAYS + 1)
        accounts: dict[str, uuid.UUID] = {}
        account_rows = []
        for code, kind in (("sales", "revenue"), ("clearing:stripe", "clearing")):
            accounts[code] = self._id(opened)
            account_rows.append((accounts[code], t, code, kind, CURRENCY, None, 0, opened))
        leftover = {account_id: rng.randrange(0, 50_000) for account_id, _ in self.customers}
        for account_id, _email in self.customers:
            code = f"wallet:{account_id}"
            accounts[code] = self._id(opened)
            account_rows.append(
                (
                    accounts[code],
                    t,
                    code,
                    "wallet",
                    CURRENCY,
                    account_id,
                    leftover[account_id],
                    opened,
                )
            )
        self._put(
            "ledger_accounts",
            ("id", "tenant_id", "code", "kind", "currency", "owner_id", "balance", "created_at"),
            account_rows,
        )
        transactions, entries = [], []

        def post(key, kind, memo, order_id, when, lines):
            tx = self._id(when)
            transactions.append((tx, t, key, kind, memo, order_id, when))
            for code, amount in lines:
                entries.append((self._id(when), t, tx, accounts[code], amount, when))

        for account_id, _email in self.customers:
            amount = self.spent.get(account_id, 0) + leftover[account_id]
            if amount:
                code = f"wallet:{account_id}"
                post(
                    f"recharge:{uuid.uuid4()}",
                    "recharge",
                    "recharge via stripe",
                    None,
                    opened,
                    (("clearing:stripe", -amount), (code, amount)),
                )
        for order_id, number, paid_at, total, wallet_of, refunded_at in self.payments:
            source = f"wallet:{wallet_of}" if wallet_of else "clearing:stripe"
            post(
                f"pay:{order_id}",
                "order_payment",
                f"order {number}",
                order_id,
                paid_at,
                ((source, -total), ("sales", total)),
            )
            if refunded_at is not None:
                post(
                    f"refund:{order_id}",
                    "refund",
                    f"refund of order {number}",
                    order_id,
                    refunded_at,
                    (("sales", -total), (source, total)),
                )
        self._put(
            "ledger_transactions",
            ("id", "tenant_id", "idempotency_key", "kind", "memo", "order_id", "created_at"),
            transactions,
        )
        self._put(
            "ledger_entries",
            ("id", "tenant_id", "transaction_id", "account_id", "amount", "created_at"),
            entries,
        )

    # --- audit -------------------------------------------------------------------

    def audit(self, actors: list[str]) -> None:
        rng, t = self.rng, self.tenant_id
        rows = []
        for when in sorted(self._ago(rng.uniform(0, DAYS)) for _ in range(AUDIT_ROWS)):
            action = _weighted(rng, AUDIT_ACTIONS)
            subject = {
                "order.codes_viewed": f"order:{rng.randrange(10**20):020d}",
                "cards.export": f"product:{self.products[rng.randrange(PRODUCTS)]['id']}",
                "cards.void": f"product:{self.products[rng.randrange(PRODUCTS)]['id']}",
            }.get(action, f"shop:{SLUG}")
            detail = json.dumps({"count": rng.randint(1, 20)})
            rows.append(
                (self._id(when), t, f"operator {rng.choice(actors)}", action, subject, detail, when)
            )
        self._put(
            "audit_events",
            ("id", "tenant_id", "actor", "action", "subject", "detail", "created_at"),
            rows,
        )

    def result(self) -> Seeded:
        email_id = dict((e, i) for i, e in self.customers)
        return Seeded(
            tenant_id=self.tenant_id,
            featured_product=self.products[0]["id"],
            top_category=self.tops[0],
            delivered_number=self.delivered_number,
            buyer_email=self.buyer_email,
            buyer_orders=self.buyer_orders,
            customer_id=email_id["buyer007@example.com"],
            counts=dict(self.counts),
        )
