"""The current tenant (shop), held in a context variable.

Three states:

- a tenant is current (``tenant_context(t)`` or a request on a shop host):
  every query of a tenant-owned model is filtered to it and every write is
  checked against it;
- ``all_tenants()``: code that states it works across shops (platform
  console, host resolution, periodic sweeps) sees every shop's rows;
- neither: querying or writing tenant-owned data raises
  ``TenantContextMissing``. Forgetting the context is a loud bug, not a leak.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

ALL = object()  # marker: explicitly across tenants

_current: contextvars.ContextVar[object | None] = contextvars.ContextVar(
    "kameng_tenant", default=None
)


def _tenant_id_of(tenant) -> uuid.UUID:
    if isinstance(tenant, uuid.UUID):
        return tenant
    if isinstance(tenant, str):
        return uuid.UUID(tenant)
    tid = getattr(tenant, "id", None)
    if not isinstance(tid, uuid.UUID):
        raise TypeError(f"not a tenant: {tenant!r}")
    return tid


@contextmanager
def tenant_context(tenant) -> Iterator[uuid.UUID]:
    """Make ``tenant`` (a Tenant, snapshot, UUID or UUID string) current.

    Nests: the previous state comes back on exit, even on error.
    """
    tid = _tenant_id_of(tenant)
    token = _current.set(tid)
    try:
        yield tid
    finally:
        _current.reset(token)


@contextmanager
def all_tenants() -> Iterator[None]:
    """Declare that the enclosed code reads and writes across all shops."""
    token = _current.set(ALL)
    try:
        yield
    finally:
        _current.reset(token)


def current_tenant_id() -> uuid.UUID | None:
    """The current shop's id, or ``None`` (no context, or ``all_tenants``)."""
    value = _current.get()
    return value if isinstance(value, uuid.UUID) else None


def is_all_tenants() -> bool:
    return _current.get() is ALL


def set_request_tenant(tenant_id: uuid.UUID | None):
    """Enter the tenant for a request; returns a token for ``reset_request_tenant``.

    ``None`` (the platform site) enters no shop: platform views that need
    shop data say ``all_tenants()`` themselves.
    """
    return _current.set(tenant_id)


def reset_request_tenant(token) -> None:
    _current.reset(token)
