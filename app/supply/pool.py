"""An account supplier's pool of codes (供货商卡池): what a supplier account
uploads for the products it is a source of, and what it sees of them.

- ``upload_codes``: one code per line (or ``number----password`` and the
  other shapes a card file may take, ``app.catalog.cardfile``), at most
  ``MAX_UPLOAD`` codes and ``MAX_CODE`` characters each. A code is held once
  in the shop: one repeated in the upload, already in any pool of the shop,
  or among the shop's own cards is refused and counted, never stored twice.
  Codes are sealed and fingerprinted like the shop's cards.
- ``take_back_codes``: the supplier takes its unsold codes of a product
  off sale (``withdrawn``); uploading one again puts it back on sale.
- ``supplied_products``, ``sales_page``, ``payable_of``: the supplier's
  portal and its API (``/account/supply``, ``/api/v1/me/supply``).
- ``pool_counts``, ``supplier_sales``: the operator's view of one supplier.

Selling codes is the ``account`` connector's
(``app.supply.connectors.account``). Every function works in the current
shop; a supplier account only ever reaches the products it is a source of.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import ROLE_SUPPLIER, ShopAccount
from app.audit import services as audit
from app.catalog import cardfile
from app.catalog.card_store import existing_fingerprints
from app.catalog.models import KIND_CARD, Product
from app.core.crypto import get_cipher
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.ids import uuid7
from app.core.pagination import offset_of
from app.extensions import db
from app.ledger import services as ledger
from app.supply.models import (
    CODE_AVAILABLE,
    CODE_SOLD,
    CODE_WITHDRAWN,
    KIND_ACCOUNT,
    SUPPLIER_BLACKLISTED,
    ProductSource,
    Supplier,
    SupplierCode,
)
from tenants.context import current_tenant_id

#: the most codes one upload may hold
MAX_UPLOAD = 10_000
#: the longest code (its stored form, ``number`` or ``number\tpassword``)
MAX_CODE = 500
_CHUNK = 1_000


@dataclass(frozen=True)
class UploadResult:
    """What an upload did: codes added to the pool, codes refused as held
    already (in the upload, the pool or the shop's cards) and lines that
    are not a code."""

    added: int
    duplicates: int
    invalid: int


@dataclass(frozen=True)
class SuppliedProduct:
    """A product the supplier account is a source of, with its pool."""

    product_id: uuid.UUID
    source_id: uuid.UUID
    supplier_id: uuid.UUID
    name: str
    kind: str
    cost: int
    enabled: bool
    available: int
    sold: int


@dataclass(frozen=True)
class Sale:
    """One code sold from a pool (never the code itself)."""

    id: uuid.UUID
    product_id: uuid.UUID
    product_name: str
    cost: int
    order_number: str | None
    sold_at: datetime


def _account(account_id: uuid.UUID) -> ShopAccount:
    account = db.session.scalar(select(ShopAccount).where(ShopAccount.id == account_id))
    if account is None or account.role != ROLE_SUPPLIER or not account.is_active:
        raise Forbidden(
            "Only the shop's supplier accounts have a pool of codes.",
            message=_l("These pages are for the shop's suppliers."),
        )
    return account


def _sources_of(account_id: uuid.UUID):
    """The (source, supplier) pairs naming the account (a supplier account
    may be behind more than one supplier row; a blacklisted one is left out)."""
    return (
        select(ProductSource, Supplier)
        .join(Supplier, Supplier.id == ProductSource.supplier_id)
        .where(
            Supplier.kind == KIND_ACCOUNT,
            Supplier.account_id == account_id,
            Supplier.status != SUPPLIER_BLACKLISTED,
        )
    )


def _source_for(account_id: uuid.UUID, product_id: uuid.UUID) -> tuple[ProductSource, Supplier]:
    row = db.session.execute(
        _sources_of(account_id)
        .where(ProductSource.product_id == product_id)
        .order_by(ProductSource.created_at, ProductSource.id)
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(
            "The account supplies no such product.",
            errors={"product_id": ["You do not supply this product."]},
            message=_l("You do not supply this product: the shop has not linked you to it."),
        )
    return row[0], row[1]


def _too_many(count: int) -> ValidationFailed:
    return ValidationFailed(
        f"An upload holds at most {MAX_UPLOAD} codes ({count} sent).",
        errors={"codes": [f"At most {MAX_UPLOAD} codes."]},
        message=_l(
            "An upload holds at most %(max)s codes; this one has %(count)s. Split it.",
            max=MAX_UPLOAD,
            count=count,
        ),
    )


def parse_codes(text: str) -> tuple[list[str], int]:
    """The codes of ``text`` in their stored form, and how many non-blank
    lines are not a code (``ValidationFailed`` past ``MAX_UPLOAD``). Pure."""
    parsed = cardfile.parse(text.encode("utf-8"))
    if parsed.total > MAX_UPLOAD:
        raise _too_many(parsed.total)
    codes = [secret for _, secret in parsed.entries if len(secret) <= MAX_CODE]
    return codes, len(parsed.invalid) + (len(parsed.entries) - len(codes))


def join_codes(codes: list[str]) -> tuple[str, int]:
    """An API's list of codes as an upload's text, and how many items were
    not one line (each counted as not a code). ``ValidationFailed`` past
    ``MAX_UPLOAD`` items. Pure."""
    if len(codes) > MAX_UPLOAD:
        raise _too_many(len(codes))
    lines = [c for c in codes if "\n" not in c and "\r" not in c]
    return "\n".join(lines), len(codes) - len(lines)


def decode_upload(raw: bytes) -> str:
    """A ``.txt`` file's text (UTF-8 or GB18030), or ``ValidationFailed``."""
    try:
        text, _ = cardfile.decode(raw)
    except cardfile.UndecodableFile as err:
        raise ValidationFailed(
            str(err),
            errors={"file": ["Not UTF-8 or GB18030 text."]},
            message=_l("The file is not text in UTF-8 or GB18030: save it as UTF-8 and try again."),
        ) from None
    return text


def _held(fingerprints: list[bytes], supplier_id: uuid.UUID) -> tuple[set[bytes], dict]:
    """Which fingerprints the shop holds in any pool or among its cards, and
    of those the supplier's own taken-back codes (fingerprint → row id):
    uploading one of them again puts it back on sale."""
    found = set(existing_fingerprints(fingerprints))
    taken_back: dict[bytes, uuid.UUID] = {}
    for at in range(0, len(fingerprints), _CHUNK):
        chunk = fingerprints[at : at + _CHUNK]
        for ident, fp, owner, status in db.session.execute(
            select(
                SupplierCode.id,
                SupplierCode.fingerprint,
                SupplierCode.supplier_id,
                SupplierCode.status,
            ).where(SupplierCode.fingerprint.in_(chunk))
        ):
            found.add(bytes(fp))
            if owner == supplier_id and status == CODE_WITHDRAWN:
                taken_back[bytes(fp)] = ident
    return found, taken_back


def upload_codes(
    account_id: uuid.UUID, product_id: uuid.UUID, text: str, *, actor: str, invalid: int = 0
) -> UploadResult:
    """Add the codes of ``text`` (one a line) to the account's pool for
    ``product_id``. Atomic: every new code is stored, or none (``Conflict``
    when another upload stored one of them at the same moment: send it
    again). ``Forbidden`` for an account that is not an active supplier
    account; ``NotFound`` for a product it is not a source of (another
    shop's included); ``ValidationFailed`` for a top-up product, an empty
    upload or more than ``MAX_UPLOAD`` codes. ``invalid``: items the
    caller found unreadable already, added to the count. Audited; commits;
    then the source's stock follows the pool (``app.supply.sync``)."""
    _account(account_id)
    source, supplier = _source_for(account_id, product_id)
    kind = db.session.scalar(select(Product.kind).where(Product.id == product_id))
    if kind != KIND_CARD:
        raise ValidationFailed(
            "Only card products take codes.",
            errors={"product_id": ["Not a card product."]},
            message=_l("This product is not sold as codes: there is nothing to upload."),
        )
    codes, bad = parse_codes(text)
    invalid += bad
    if not codes and not invalid:
        raise ValidationFailed(
            "No codes were sent.",
            errors={"codes": ["Required."]},
            message=_l("Paste the codes, one a line, or choose a .txt file."),
        )
    cipher = get_cipher()
    fingerprints = cipher.fingerprint_many(codes)
    held, taken_back = _held(list(set(fingerprints)), supplier.id)
    seen: set[bytes] = set()
    fresh: list[tuple[str, bytes]] = []
    back: list[uuid.UUID] = []
    for code, fingerprint in zip(codes, fingerprints, strict=True):
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        if fingerprint in taken_back:
            back.append(taken_back[fingerprint])
        elif fingerprint not in held:
            fresh.append((code, fingerprint))
    duplicates = len(codes) - len(fresh) - len(back)
    if back:
        for at in range(0, len(back), _CHUNK):
            db.session.execute(
                update(SupplierCode)
                .where(
                    SupplierCode.id.in_(back[at : at + _CHUNK]),
                    SupplierCode.status == CODE_WITHDRAWN,
                )
                .values(status=CODE_AVAILABLE, product_id=product_id, source_id=source.id)
                .execution_options(synchronize_session=False)
            )
    if fresh:
        now = datetime.now(UTC)
        common = {
            "tenant_id": current_tenant_id(),
            "supplier_id": supplier.id,
            "product_id": product_id,
            "source_id": source.id,
            "key_id": cipher.current_id,
            "status": CODE_AVAILABLE,
            "created_at": now,
        }
        ids = [uuid7() for _ in fresh]
        secrets = cipher.encrypt_many([i.bytes for i in ids], [code for code, _ in fresh])
        try:
            for at in range(0, len(fresh), _CHUNK):
                db.session.execute(
                    insert(SupplierCode),
                    [
                        {**common, "id": ident, "secret": secret, "fingerprint": fp}
                        for ident, secret, (_, fp) in zip(
                            ids[at : at + _CHUNK],
                            secrets[at : at + _CHUNK],
                            fresh[at : at + _CHUNK],
                            strict=True,
                        )
                    ],
                )
        except IntegrityError:
            db.session.rollback()
            raise Conflict(
                "Another upload stored some of these codes at the same moment.",
                message=_l(
                    "Some of these codes were stored by another upload just now. "
                    "Send it again: codes held already are counted, not stored twice."
                ),
            ) from None
    audit.record(
        actor,
        "supplier.codes_uploaded",
        f"supplier:{supplier.id}",
        product_id=str(product_id),
        added=len(fresh) + len(back),
        duplicates=duplicates,
        invalid=invalid,
    )
    db.session.commit()
    _follow(source.id)
    return UploadResult(len(fresh) + len(back), duplicates, invalid)


def _follow(source_id: uuid.UUID) -> None:
    """Let the source's stock, and its product's being on sale, follow the
    pool now rather than at the next scheduled sync (no HTTP: the pool is
    read here)."""
    from app.supply import sync

    sync.sync_source(source_id)


def take_back_codes(account_id: uuid.UUID, product_id: uuid.UUID, *, actor: str) -> int:
    """Take the account's unsold codes of ``product_id`` off sale (status
    ``withdrawn``): the shop can no longer sell them; uploading one again
    puts it back. One conditional UPDATE (a code being sold at that moment
    stays sold). How many were taken back. ``Forbidden`` / ``NotFound`` as
    for ``upload_codes``. Audited; commits."""
    _account(account_id)
    source, supplier = _source_for(account_id, product_id)
    taken = db.session.execute(
        update(SupplierCode)
        .where(
            SupplierCode.supplier_id == supplier.id,
            SupplierCode.product_id == product_id,
            SupplierCode.status == CODE_AVAILABLE,
        )
        .values(status=CODE_WITHDRAWN)
        .execution_options(synchronize_session=False)
    ).rowcount
    audit.record(
        actor,
        "supplier.codes_taken_back",
        f"supplier:{supplier.id}",
        product_id=str(product_id),
        count=int(taken),
    )
    db.session.commit()
    _follow(source.id)
    return int(taken)


def _counts(supplier_ids: list[uuid.UUID]) -> dict[tuple[uuid.UUID, uuid.UUID, str], int]:
    """(supplier, product, status) → how many codes (one grouped query)."""
    if not supplier_ids:
        return {}
    rows = db.session.execute(
        select(
            SupplierCode.supplier_id,
            SupplierCode.product_id,
            SupplierCode.status,
            func.count(SupplierCode.id),
        )
        .where(SupplierCode.supplier_id.in_(supplier_ids))
        .group_by(SupplierCode.supplier_id, SupplierCode.product_id, SupplierCode.status)
    ).all()
    return {(s, p, status): int(n) for s, p, status, n in rows}


def supplied_products(account_id: uuid.UUID) -> list[SuppliedProduct]:
    """The products the account is a source of (at most 500, by name), each
    with its cost and how many of its codes are available and sold.
    ``Forbidden`` for an account that is not an active supplier account."""
    _account(account_id)
    rows = db.session.execute(
        _sources_of(account_id)
        .add_columns(Product.name, Product.kind)
        .join(Product, Product.id == ProductSource.product_id)
        .order_by(Product.name, ProductSource.id)
        .limit(500)
    ).all()
    counts = _counts(list({supplier.id for _, supplier, _, _ in rows}))
    return [
        SuppliedProduct(
            product_id=source.product_id,
            source_id=source.id,
            supplier_id=supplier.id,
            name=name,
            kind=kind,
            cost=source.cost,
            enabled=source.enabled,
            available=counts.get((supplier.id, source.product_id, CODE_AVAILABLE), 0),
            sold=counts.get((supplier.id, source.product_id, CODE_SOLD), 0),
        )
        for source, supplier, name, kind in rows
    ]


def _sales(conditions: list, page: int, per_page: int) -> tuple[list[Sale], int]:
    from app.orders.models import Order

    where = [SupplierCode.status == CODE_SOLD, *conditions]
    total = db.session.scalar(select(func.count(SupplierCode.id)).where(*where)) or 0
    rows = db.session.execute(
        select(
            SupplierCode.id,
            SupplierCode.product_id,
            Product.name,
            SupplierCode.cost,
            Order.number,
            SupplierCode.sold_at,
        )
        .join(Product, Product.id == SupplierCode.product_id)
        .outerjoin(Order, Order.id == SupplierCode.order_id)
        .where(*where)
        .order_by(SupplierCode.sold_at.desc(), SupplierCode.id.desc())
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    return [Sale(*row[:3], int(row[3] or 0), row[4], row[5]) for row in rows], int(total)


def sales_page(
    account_id: uuid.UUID, *, page: int = 1, per_page: int = 20
) -> tuple[list[Sale], int]:
    """A page of the codes sold from the account's pools, newest first, and
    how many in all (never the codes). ``Forbidden`` for a non-supplier."""
    _account(account_id)
    mine = select(Supplier.id).where(
        Supplier.kind == KIND_ACCOUNT, Supplier.account_id == account_id
    )
    return _sales([SupplierCode.supplier_id.in_(mine)], page, per_page)


def supplier_sales(
    supplier_id: uuid.UUID, *, page: int = 1, per_page: int = 20
) -> tuple[list[Sale], int]:
    """A page of the codes sold from one supplier's pool, for the operator."""
    return _sales([SupplierCode.supplier_id == supplier_id], page, per_page)


def payable_of(account_id: uuid.UUID) -> int:
    """What the shop owes the supplier account now (its payable's balance)."""
    return ledger.account_balance(ledger.supplier_payable_code(account_id))


@dataclass(frozen=True)
class PoolCounts:
    """One supplier's pool as the operator sees it."""

    available: int
    sold: int
    withdrawn: int
    sold_cost: int


def pool_counts(supplier_id: uuid.UUID) -> PoolCounts:
    """How many of the supplier's codes are available, sold and withdrawn,
    and what the sold ones cost (one grouped query)."""
    rows = db.session.execute(
        select(
            SupplierCode.status,
            func.count(SupplierCode.id),
            func.coalesce(func.sum(SupplierCode.cost), 0),
        )
        .where(SupplierCode.supplier_id == supplier_id)
        .group_by(SupplierCode.status)
    ).all()
    by = {status: (int(n), int(cost)) for status, n, cost in rows}
    return PoolCounts(
        by.get(CODE_AVAILABLE, (0, 0))[0],
        by.get(CODE_SOLD, (0, 0))[0],
        by.get(CODE_WITHDRAWN, (0, 0))[0],
        by.get(CODE_SOLD, (0, 0))[1],
    )


@dataclass(frozen=True)
class OperatorPool:
    """An account supplier as its operator sees it: its pool, what the shop
    owes it, its account's email, and a page of its sales."""

    counts: PoolCounts
    payable: int
    email: str | None
    sales: list[Sale]
    total: int
    page: int
    per_page: int


def operator_pool(supplier: Supplier, *, page: int = 1, per_page: int = 20) -> OperatorPool | None:
    """The pool, payable and sales (a page, newest first) of an ``account``
    supplier of the current shop; None for another kind."""
    if supplier.kind != KIND_ACCOUNT or supplier.account_id is None:
        return None
    email = db.session.scalar(
        select(ShopAccount.email).where(ShopAccount.id == supplier.account_id)
    )
    sales, total = supplier_sales(supplier.id, page=page, per_page=per_page)
    return OperatorPool(
        pool_counts(supplier.id),
        payable_of(supplier.account_id),
        email,
        sales,
        total,
        page,
        per_page,
    )
