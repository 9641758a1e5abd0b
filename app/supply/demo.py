"""The demo's docking pair (对接演示): a second shop, ``supply``, that opens
its catalogue for docking, and the demo shop docking one card product and
one top-up product from it, so docking works out of the box.

- ``supply`` (its own owner) sells a card product with generated codes and
  a phone top-up that its operator confirms by hand (console › Orders ›
  deliver by hand): the platform has no top-up carrier of its own, and a
  shop's top-up without sources waits for its operator. Its supply API is
  open; the demo shop's account there is an agent of a docking tier (its
  tier prices are what the demo shop pays), with a funded wallet and a
  supply credential.
- The demo shop holds an active ``platform`` supplier at
  ``http://supply.<PLATFORM_DOMAIN>:<PUBLIC_PORT>/supply/v1`` with that
  credential, and two products with no stock of their own, each with one
  source at ``supply`` (the SKU is the upstream's product id): a guest's
  order is bought from ``supply`` over the signed HTTP API.

``seed_docking`` is idempotent: what exists is kept; only the supplier's
address follows a changed port. Refused with ``ENV=production`` by its
caller (the demo's passwords are public).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from app.accounts import services as accounts
from app.accounts.models import ROLE_AGENT, PlatformUser, ShopAccount
from app.accounts.shops import open_shop
from app.catalog.imports import start_import
from app.catalog.models import KIND_CARD, KIND_TOPUP, STATUS_ON_SALE, Product
from app.core.links import shop_url
from app.extensions import db
from app.ledger.adjustments import adjust_wallet
from app.pricing.models import UPGRADE_MANUAL, AgentTier, PriceRule
from app.supply import credentials, sources, suppliers
from app.supply.models import (
    KIND_PLATFORM,
    SUPPLIER_ACTIVE,
    ProductSource,
    Supplier,
    SupplyCredential,
)
from tenants.context import tenant_context
from tenants.models import Tenant, current_shop_currency

ACTOR = "demo seed"
SUPPLY_SLUG = "supply"
SUPPLY_NAME = "Kameng Supply 货源站"
SUPPLY_OWNER = ("supply@example.com", "supply-password")
#: the demo shop's account at ``supply``
PARTNER = ("partner@example.com", "partner-password")
PARTNER_FUNDS = 1_000_000  # 10,000.00 in the partner's wallet at supply
DOCKING_TIER = "对接商 Docking partner"
SUPPLIER_NAME = "Kameng Supply 货源站"
CARD_STOCK = 100
PHONE_FIELD = [{"name": "phone", "label": "手机号 Phone number", "required": True}]


@dataclass(frozen=True)
class DemoGoods:
    """One product sold at ``supply`` and docked by the demo shop."""

    name: str
    kind: str
    supply_price: int  # retail at supply
    partner_price: int  # the docking tier's price at supply: the demo shop's cost
    demo_price: int  # what a buyer pays at the demo shop
    description: str


CARD = DemoGoods(
    "Google Play 礼品卡 $10",
    KIND_CARD,
    7_500,
    6_800,
    7_900,
    "Google Play 礼品卡，由货源站对接供货，付款后自动发货。"
    "A Google Play gift card, docked from the supply shop and delivered on payment.",
)
TOPUP = DemoGoods(
    "手机话费直充 ¥50",
    KIND_TOPUP,
    5_000,
    4_850,
    4_980,
    "话费直充，由货源站办理。A phone top-up, fulfilled by the supply shop.",
)


@dataclass(frozen=True)
class Seeded:
    """What the pair is made of (ids in their own shops)."""

    supply_id: uuid.UUID
    supplier_id: uuid.UUID
    card_id: uuid.UUID
    topup_id: uuid.UUID
    upstream_card_id: uuid.UUID
    upstream_topup_id: uuid.UUID


def supply_api_url() -> str:
    """The supply shop's API, as the demo shop reaches it."""
    return shop_url(SUPPLY_SLUG, "/supply/v1")


def seed_docking(demo: Tenant) -> Seeded:
    """Seed ``supply`` and dock two of its products into ``demo``.
    Idempotent; commits."""
    supply = _supply_shop()
    with tenant_context(supply):
        upstream_card = _product(CARD, CARD.supply_price, stock=True)
        upstream_topup = _product(TOPUP, TOPUP.supply_price)
        key_id, secret = _partner_credential(upstream_card, upstream_topup)
    with tenant_context(demo):
        supplier_id = _supplier(key_id, secret)
        card = _product(CARD, CARD.demo_price)
        topup = _product(TOPUP, TOPUP.demo_price)
        _source(card, supplier_id, upstream_card, CARD.partner_price)
        _source(topup, supplier_id, upstream_topup, TOPUP.partner_price)
    return Seeded(supply.id, supplier_id, card, topup, upstream_card, upstream_topup)


def _supply_shop() -> Tenant:
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == SUPPLY_SLUG))
    if tenant is not None:
        return tenant
    email, password = SUPPLY_OWNER
    owner = db.session.scalar(select(PlatformUser).where(PlatformUser.email == email))
    if owner is None:
        owner = accounts.create_platform_user(email, password, display_name="Supply owner")
    return open_shop(SUPPLY_SLUG, SUPPLY_NAME, owner)


def _product(goods: DemoGoods, price: int, *, stock: bool = False) -> uuid.UUID:
    """The current shop's product named ``goods.name``, made on sale when
    missing (with ``CARD_STOCK`` generated codes when ``stock``)."""
    found = db.session.scalar(select(Product.id).where(Product.name == goods.name))
    if found is not None:
        return found
    product = Product(
        name=goods.name,
        kind=goods.kind,
        price=price,
        status=STATUS_ON_SALE,
        min_quantity=1,
        max_quantity=5,
        description=goods.description,
        input_fields=PHONE_FIELD if goods.kind == KIND_TOPUP else [],
    )
    db.session.add(product)
    db.session.commit()
    if stock:
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
        codes = [
            "GP-" + "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))
            for _ in range(CARD_STOCK)
        ]
        start_import(product.id, "\n".join(codes).encode(), "supply-codes.txt", ACTOR)
    return product.id


def _partner_credential(card_id: uuid.UUID, topup_id: uuid.UUID) -> tuple[str, str]:
    """The supply shop open for docking, the demo shop's agent account there
    on the docking tier with a funded wallet, and its credential: (key id,
    secret)."""
    credentials.set_supply_open(True, actor=ACTOR)
    email, password = PARTNER
    partner = db.session.scalar(select(ShopAccount).where(ShopAccount.email == email))
    if partner is None:
        partner = accounts.create_shop_account(
            email, password, role=ROLE_AGENT, display_name="Kameng Demo 卡盟"
        )
    tier = db.session.scalar(select(AgentTier).where(AgentTier.name == DOCKING_TIER))
    if tier is None:
        tier = AgentTier(name=DOCKING_TIER, rank=1, upgrade_kind=UPGRADE_MANUAL)
        db.session.add(tier)
        db.session.flush()
        db.session.add_all(
            [
                PriceRule(product_id=card_id, tier_id=tier.id, price=CARD.partner_price),
                PriceRule(product_id=topup_id, tier_id=tier.id, price=TOPUP.partner_price),
            ]
        )
        partner.role, partner.tier_id = ROLE_AGENT, tier.id
        db.session.commit()
    adjust_wallet(
        partner.id,
        PARTNER_FUNDS,
        "Demo: the docking partner's float",
        actor=ACTOR,
        form_key="demo-seed-docking-partner",
        currency=current_shop_currency(),
    )
    credential = db.session.scalar(
        select(SupplyCredential)
        .where(SupplyCredential.account_id == partner.id, SupplyCredential.revoked_at.is_(None))
        .order_by(SupplyCredential.created_at)
        .limit(1)
    )
    if credential is None:
        issued = credentials.issue_credential(email=email, name="Kameng Demo 卡盟", actor=ACTOR)
        return issued.credential.key_id, issued.secret
    return credential.key_id, credentials.secret_of(credential)


def _supplier(key_id: str, secret: str) -> uuid.UUID:
    """The current shop's platform supplier for ``supply``, active, with the
    credential; its address follows the supply shop's URL."""
    supplier = db.session.scalar(select(Supplier).where(Supplier.name == SUPPLIER_NAME))
    url = supply_api_url()
    if supplier is None:
        return suppliers.create_supplier(
            {
                "name": SUPPLIER_NAME,
                "kind": KIND_PLATFORM,
                "status": SUPPLIER_ACTIVE,
                "base_url": url,
                "key_id": key_id,
                "secret": secret,
                "note": "The demo's second shop, docked over its supply API.",
            },
            actor=ACTOR,
        ).id
    if supplier.base_url != url or supplier.key_id != key_id:
        suppliers.update_supplier(
            supplier.id, {"base_url": url, "key_id": key_id, "secret": secret}, actor=ACTOR
        )
    return supplier.id


def _source(product_id: uuid.UUID, supplier_id: uuid.UUID, sku: uuid.UUID, cost: int) -> None:
    held = db.session.scalar(
        select(ProductSource.id).where(
            ProductSource.product_id == product_id, ProductSource.supplier_id == supplier_id
        )
    )
    if held is None:
        sources.add_source(
            product_id,
            {"supplier_id": str(supplier_id), "sku": str(sku), "cost": cost, "priority": 100},
            actor=ACTOR,
        )
