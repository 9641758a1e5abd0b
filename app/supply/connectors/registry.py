"""Which connector speaks for a supplier: the only place that maps a
supplier's kind to its module (adding a kind is one module and one line)."""

from __future__ import annotations

import importlib

from app.supply.connectors.base import Connector

#: kind → "module:factory"; the factory takes the ``Supplier`` row. A kind
#: missing here is refused by ``connector_for`` with a ``ValueError``, which
#: routing and the stock sync record as a failed source and pass over.
CONNECTORS = {
    "account": "app.supply.connectors.account:AccountConnector",
    "http": "app.supply.connectors.http:HttpConnector",
    "platform": "app.supply.connectors.http:HttpConnector",
}


def connector_for(supplier) -> Connector:
    """The connector of ``supplier`` (a ``Supplier`` row of the current shop)."""
    target = CONNECTORS.get(supplier.kind)
    if target is None:
        raise ValueError(f"no connector for suppliers of kind {supplier.kind!r}")
    module, _, factory = target.partition(":")
    return getattr(importlib.import_module(module), factory)(supplier)
