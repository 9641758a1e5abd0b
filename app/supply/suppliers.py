"""The operator's suppliers (供货商): adding, changing, vetting, suspending,
blacklisting and deleting them. Product sources (货源) are in
``app.supply.sources``.

The API and the console call these same functions. Each works in the
current shop (the tenant guard hides every other shop's rows, so their ids
are simply not found), checks every field and names each bad one in a
``ValidationFailed`` (nothing is written then), and commits its change with
its audit row. A supplier's secret (our credential at an http or platform
upstream) is sealed with the card key on write and never answered back:
views carry ``has_secret`` only.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import ROLE_SUPPLIER, ShopAccount
from app.audit import services as audit
from app.core.crypto import get_cipher
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.ids import parse_uuid, uuid7
from app.core.pagination import offset_of
from app.extensions import db
from app.pricing import checks
from app.pricing.checks import INVALID, Refused
from app.supply.models import (
    KIND_ACCOUNT,
    MAX_SUPPLIERS,
    SUPPLIER_KINDS,
    SUPPLIER_STATUSES,
    SUPPLIER_VETTING,
    ProductSource,
    Supplier,
    SupplyAttempt,
)
from app.supply.scores import Score, score_of

MAX_NAME = 80
MAX_NOTE = 500
MAX_URL = 300
MAX_KEY_ID = 64
MAX_SECRET = 200
FIELDS = (
    "name",
    "kind",
    "account_id",
    "base_url",
    "key_id",
    "secret",
    "status",
    "deposit",
    "markup_percent",
    "note",
)
MAX_MARKUP = 1_000
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class SupplierView:
    """A supplier as shown: its row (never its secret), how many product
    sources name it, and its record from its supply attempts."""

    supplier: Supplier
    sources: int
    score: Score

    def __getattr__(self, name: str):
        if name in ("secret", "secret_key_id"):
            raise AttributeError(name)
        return getattr(self.supplier, name)

    @property
    def has_secret(self) -> bool:
        return self.supplier.secret is not None


def _views(rows: list[Supplier]) -> list[SupplierView]:
    ids = [s.id for s in rows]
    counts: dict[uuid.UUID, int] = {}
    if ids:
        counts = {
            key: int(n)
            for key, n in db.session.execute(
                select(ProductSource.supplier_id, func.count())
                .where(ProductSource.supplier_id.in_(ids))
                .group_by(ProductSource.supplier_id)
            ).all()
        }
    return [SupplierView(s, counts.get(s.id, 0), score_of(s.id)) for s in rows]


def list_suppliers(
    *, status: str | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[SupplierView], int]:
    """A page of the shop's suppliers by name (``status`` filters) and how
    many match in all; each with its source count and score."""
    conditions = [Supplier.status == status] if status else []
    total = db.session.scalar(select(func.count(Supplier.id)).where(*conditions)) or 0
    rows = db.session.scalars(
        select(Supplier)
        .where(*conditions)
        .order_by(Supplier.name, Supplier.id)
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    return _views(list(rows)), int(total)


def find_supplier(supplier_id: uuid.UUID) -> Supplier:
    """The current shop's supplier row; ``NotFound`` for any other id."""
    supplier = db.session.scalar(select(Supplier).where(Supplier.id == supplier_id))
    if supplier is None:
        raise NotFound("No such supplier.")
    return supplier


def get_supplier(supplier_id: uuid.UUID) -> SupplierView:
    """One supplier of the current shop, with its source count and score."""
    return _views([find_supplier(supplier_id)])[0]


def supplier_choices() -> list[Supplier]:
    """Every supplier of the shop that a source may name (not blacklisted),
    by name; at most ``MAX_SUPPLIERS``."""
    return list(
        db.session.scalars(
            select(Supplier)
            .where(Supplier.status != "blacklisted")
            .order_by(Supplier.name)
            .limit(MAX_SUPPLIERS)
        )
    )


def supplier_accounts() -> list[ShopAccount]:
    """The shop's accounts of role supplier an account supplier may name,
    by email; at most ``MAX_SUPPLIERS``."""
    return list(
        db.session.scalars(
            select(ShopAccount)
            .where(ShopAccount.role == ROLE_SUPPLIER)
            .order_by(ShopAccount.email)
            .limit(MAX_SUPPLIERS)
        )
    )


def reveal_secret(supplier: Supplier) -> str | None:
    """The supplier's secret in clear, for its connector only (never shown)."""
    if supplier.secret is None or supplier.secret_key_id is None:
        return None
    return get_cipher().decrypt(supplier.id, supplier.secret_key_id, supplier.secret)


# --- checking fields ---------------------------------------------------------------


def _base_url(value: Any) -> str:
    """An https URL (http too for localhost and ``*.localhost`` outside
    production), without a query or fragment; no trailing slash."""
    if not isinstance(value, str) or not value.strip():
        raise Refused("Give the supplier's API address, like https://shop.example.com/supply/v1.")
    value = value.strip()
    if len(value) > MAX_URL:
        raise Refused(f"At most {MAX_URL} characters.")
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
    except ValueError:
        raise Refused("Not a web address.") from None
    if parts.scheme not in ("https", "http") or not host:
        raise Refused("Must be a web address starting with https://.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise Refused("Give the address without credentials, a query or a fragment.")
    if parts.scheme == "http":
        local = host in LOCAL_HOSTS or host.endswith(".localhost")
        if not local or current_app.config.get("ENV") == "production":
            raise Refused("Must use https:// (http:// is for localhost in development only).")
    return value.rstrip("/")


def _key_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Refused("Give the key id the supplier issued to this shop.")
    value = value.strip()
    if len(value) > MAX_KEY_ID or any(c.isspace() for c in value):
        raise Refused(f"At most {MAX_KEY_ID} characters, without spaces.")
    return value


def _secret(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Refused("Give the secret the supplier issued with the key id.")
    value = value.strip()
    if len(value) > MAX_SECRET:
        raise Refused(f"At most {MAX_SECRET} characters.")
    return value


def _account(value: Any) -> uuid.UUID:
    ident = parse_uuid(value) if isinstance(value, (str, uuid.UUID)) else None
    if ident is None:
        raise Refused("Not an account id.")
    role = db.session.scalar(select(ShopAccount.role).where(ShopAccount.id == ident))
    if role is None:
        raise Refused("No such account.")
    if role != ROLE_SUPPLIER:
        raise Refused("The account's role must be supplier.")
    return ident


def _note(value: Any) -> str:
    if not isinstance(value, str):
        raise Refused("Must be text.")
    value = value.strip()
    if len(value) > MAX_NOTE:
        raise Refused(f"At most {MAX_NOTE} characters.")
    return value


def _one_of(choices: tuple[str, ...]):
    def check(value: Any) -> str:
        if value not in choices:
            raise Refused(f"One of {', '.join(choices)}.")
        return value

    return check


CHECKS = {
    "name": lambda v: checks.text(v, limit=MAX_NAME, empty="Give the supplier a name."),
    "kind": _one_of(SUPPLIER_KINDS),
    "status": _one_of(SUPPLIER_STATUSES),
    "account_id": _account,
    "base_url": _base_url,
    "key_id": _key_id,
    "secret": _secret,
    "deposit": lambda v: checks.money(v),
    "markup_percent": lambda v: None if v is None else checks.whole(v, 0, MAX_MARKUP),
    "note": _note,
}


def _clean(data: Mapping[str, Any], supplier: Supplier | None) -> dict:
    """The values of ``data`` that may be written, or ``ValidationFailed``
    naming every bad field. The kind is chosen once; an account supplier
    names a supplier account, an http or platform one an address and a key
    id with its secret (a secret left out of a change keeps the old one)."""
    errors: dict[str, list[str]] = checks.unknown_fields(data, FIELDS)
    values: dict[str, Any] = {}
    if supplier is None:
        for required in ("name", "kind"):
            if required not in data:
                errors[required] = ["Missing data for required field."]
    elif "kind" in data and data["kind"] != supplier.kind:
        errors["kind"] = ["A supplier's kind cannot change: add another supplier."]
    for key, check in CHECKS.items():
        if key in data and key not in errors:
            if key == "secret" and supplier is not None and data[key] in ("", None):
                continue  # left blank on a change: the old secret stays
            try:
                values[key] = check(data[key])
            except Refused as why:
                errors[key] = [str(why)]
    kind = values.get("kind", supplier.kind if supplier else data.get("kind"))
    if kind == KIND_ACCOUNT:
        if supplier is None and "account_id" not in data and "account_id" not in errors:
            errors["account_id"] = ["Choose the supplier account that uploads codes."]
        for key in ("base_url", "key_id", "secret"):
            if data.get(key) not in (None, "") and key not in errors:
                errors[key] = ["An account supplier has no API address or credentials."]
            values.pop(key, None)
    elif kind in SUPPLIER_KINDS:
        if data.get("account_id") not in (None, "") and "account_id" not in errors:
            errors["account_id"] = ["Only an account supplier names a supplier account."]
        values.pop("account_id", None)
        for key in ("base_url", "key_id", "secret"):
            had = supplier is not None and getattr(supplier, key) is not None
            if key not in values and key not in errors and not had:
                errors[key] = ["Required for a supplier reached through its API."]
    if errors:
        raise ValidationFailed(INVALID, errors=errors)
    return values


def check_supplier(data: Mapping[str, Any], supplier_id: uuid.UUID | None = None) -> None:
    """Judge ``data`` as ``create_supplier`` (or ``update_supplier``) would,
    writing nothing."""
    _clean(data, find_supplier(supplier_id) if supplier_id is not None else None)


def _name_taken() -> Conflict:
    return Conflict(
        "Another supplier has this name.",
        errors={"name": ["Another supplier has this name."]},
        message=_l("Another supplier has this name: choose another."),
    )


def _check_name_free(name: str, supplier_id: uuid.UUID | None) -> None:
    query = select(Supplier.id).where(Supplier.name == name)
    if supplier_id is not None:
        query = query.where(Supplier.id != supplier_id)
    if db.session.scalar(query) is not None:
        raise _name_taken()


def _detail(supplier: Supplier) -> dict:
    """What the audit record keeps of a supplier (never the secret)."""
    return {
        "name": supplier.name,
        "kind": supplier.kind,
        "status": supplier.status,
        "account_id": str(supplier.account_id) if supplier.account_id else None,
        "base_url": supplier.base_url,
        "key_id": supplier.key_id,
        "deposit": supplier.deposit,
        "markup_percent": supplier.markup_percent,
        "note": supplier.note,
    }


def _hold_deposit(supplier: Supplier, before: int) -> None:
    """Post a change of the supplier's deposit (保证金) to the ledger: the
    difference moves between ``supplier:deposit:<id>`` (what the shop holds
    and owes back) and the shop's ``adjustments`` account, so the deposit
    account's balance always equals ``Supplier.deposit`` (the daily
    reconciliation checks it). The caller's transaction."""
    from app.ledger import services as ledger
    from tenants.models import current_shop_currency

    delta = int(supplier.deposit or 0) - int(before or 0)
    if delta == 0:
        return
    ledger.post(
        f"supplier-deposit:{supplier.id}:{uuid7()}",
        "supplier_deposit",
        [
            ledger.Line(ledger.supplier_deposit_code(supplier.id), delta),
            ledger.Line(ledger.ADJUSTMENTS, -delta),
        ],
        current_shop_currency(),
        memo=f"deposit of supplier {supplier.name}: {before} -> {supplier.deposit}",
    )


def _seal(supplier: Supplier, secret: str) -> None:
    cipher = get_cipher()
    supplier.secret = cipher.encrypt(supplier.id, secret)
    supplier.secret_key_id = cipher.current_id


def _commit() -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise _name_taken() from None


def create_supplier(data: Mapping[str, Any], *, actor: str) -> SupplierView:
    """Add a supplier: ``name`` (unique in the shop), ``kind`` (account |
    http | platform; fixed once chosen), for kind account ``account_id``
    (a shop account of role supplier), for http and platform ``base_url``
    (https; http only for localhost outside production), ``key_id`` and
    ``secret`` (sealed at rest); ``status`` (vetting by default),
    ``deposit`` (minor units), ``markup_percent`` (0..1000 or null: the
    price the stock sync sets from a changed cost), ``note``. ``Conflict`` for a taken name or a
    shop holding ``MAX_SUPPLIERS``. Audited; commits."""
    values = _clean(data, None)
    if db.session.scalar(select(func.count(Supplier.id))) >= MAX_SUPPLIERS:
        raise Conflict(
            f"A shop holds at most {MAX_SUPPLIERS} suppliers.",
            errors={"suppliers": [f"At most {MAX_SUPPLIERS}."]},
            message=_l("A shop holds at most %(n)s suppliers.", n=MAX_SUPPLIERS),
        )
    _check_name_free(values["name"], None)
    secret = values.pop("secret", None)
    supplier = Supplier(id=uuid7(), **{"status": SUPPLIER_VETTING, **values})
    if secret is not None:
        _seal(supplier, secret)
    db.session.add(supplier)
    db.session.flush()
    _hold_deposit(supplier, 0)
    audit.record(actor, "supplier.created", f"supplier:{supplier.id}", **_detail(supplier))
    _commit()
    return get_supplier(supplier.id)


def update_supplier(supplier_id: uuid.UUID, data: Mapping[str, Any], *, actor: str) -> SupplierView:
    """Change the given fields of a supplier: vet it (``status`` active),
    suspend or blacklist it, change its address, credentials, deposit or
    note (a new ``secret`` replaces the sealed one; blank keeps it; a new
    ``deposit`` posts the difference to the supplier's deposit account in
    the ledger). A change that changes nothing writes nothing. Audited (a
    status change under its own action); commits."""
    supplier = find_supplier(supplier_id)
    values = _clean(data, supplier)
    if "name" in values:
        _check_name_free(values["name"], supplier.id)
    before = _detail(supplier)
    secret = values.pop("secret", None)
    for key, value in values.items():
        setattr(supplier, key, value)
    after = _detail(supplier)
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if secret is not None and secret != reveal_secret(supplier):
        _seal(supplier, secret)
        changed["secret"] = ["(sealed)", "(replaced)"]
    if not changed:
        db.session.rollback()
        return get_supplier(supplier_id)
    if "deposit" in changed:
        _hold_deposit(supplier, before["deposit"])
    subject = f"supplier:{supplier.id}"
    if "status" in changed:
        audit.record(
            actor, "supplier.status", subject, name=supplier.name, status=changed["status"]
        )
    rest = {k: v for k, v in changed.items() if k != "status"}
    if rest:
        audit.record(actor, "supplier.updated", subject, name=supplier.name, changed=rest)
    _commit()
    return get_supplier(supplier_id)


def set_status(supplier_id: uuid.UUID, status: str, *, actor: str) -> SupplierView:
    """Vet (active), suspend or blacklist a supplier (see ``update_supplier``)."""
    return update_supplier(supplier_id, {"status": status}, actor=actor)


def delete_supplier(supplier_id: uuid.UUID, *, actor: str) -> None:
    """Delete a supplier with its product sources. One that has supplied
    orders (supply attempts name it) is kept for their record: ``Conflict``
    (suspend or blacklist it instead). Audited; commits."""
    supplier = find_supplier(supplier_id)
    used = db.session.scalar(
        select(SupplyAttempt.id).where(SupplyAttempt.supplier_id == supplier.id).limit(1)
    )
    if used is not None:
        raise Conflict(
            "The supplier has supplied orders; suspend or blacklist it instead.",
            message=_l("This supplier has supplied orders: suspend or blacklist it instead."),
        )
    for source in db.session.scalars(
        select(ProductSource).where(ProductSource.supplier_id == supplier.id)
    ):
        db.session.delete(source)
    audit.record(actor, "supplier.deleted", f"supplier:{supplier.id}", **_detail(supplier))
    deposit, supplier.deposit = supplier.deposit, 0
    _hold_deposit(supplier, deposit)  # handed back with the supplier's record
    db.session.delete(supplier)
    db.session.commit()
