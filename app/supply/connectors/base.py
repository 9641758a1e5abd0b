"""One interface for every source of goods, like the payment adapters: the
fulfilment router (``app.supply.routing``) and the stock sync
(``app.supply.sync``) talk to a ``Connector`` and never know which kind it
is. Kinds (``app.supply.connectors.registry``):

- ``account``: a supplier account of this shop that uploads codes (its
  pool, ``app.supply.pool``; no HTTP);
- ``platform``: another Kameng shop, through its ``/supply/v1/`` HTTP API;
- ``http``: an external API speaking the same protocol.

Every call that leaves the machine has a connect and a read timeout
(``SUPPLY_CONNECT_TIMEOUT``, ``SUPPLY_READ_TIMEOUT``). ``purchase`` is
idempotent by ``key``: asking again with the same key (after a timeout, a
crash, from another worker) answers the purchase the first ask made and
never buys twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

DELIVERED = "delivered"
PENDING = "pending"
FAILED = "failed"


@dataclass(frozen=True)
class Offer:
    """One of the upstream's products as the caller may buy it."""

    sku: str
    name: str
    kind: str  # card | topup | manual
    price: int  # what the caller pays upstream, minor units
    currency: str
    stock: int | None  # None: not counted (top-ups)
    on_sale: bool = True


@dataclass(frozen=True)
class Purchase:
    """The upstream's answer about one purchase."""

    status: str  # delivered | pending | failed
    ref: str | None = None  # the upstream's reference (its order number)
    codes: list[str] = field(default_factory=list)  # card codes, when delivered
    price: int | None = None  # what it cost, minor units
    detail: str = ""


class SupplyError(Exception):
    """The upstream could not be asked or answered nonsense: ``outcome`` is
    ``timeout`` (ask again with the same key), ``failed`` (refused: try the
    next source) or ``garbage`` (unreadable: ask again, then move on)."""

    def __init__(self, outcome: str, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail[:300]


class Connector(Protocol):
    kind: str

    def catalogue(self) -> list[Offer]: ...

    def offer(self, sku: str) -> Offer: ...

    def purchase(self, sku: str, quantity: int, inputs: dict, key: str) -> Purchase: ...

    def status(self, key: str) -> Purchase: ...
