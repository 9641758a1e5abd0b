"""The ORM tenant guard.

Every model that mixes in ``TenantOwned`` gets a non-null, indexed
``tenant_id``. Two session events enforce isolation for all of them:

- ``do_orm_execute``: every ORM SELECT, UPDATE and DELETE that involves a
  tenant-owned model gets ``with_loader_criteria(TenantOwned, tenant_id ==
  current)``; the criteria also apply to relationship and lazy loads, joins
  and aliases. With no context at all the statement is refused.
- ``before_flush``: a new row without ``tenant_id`` gets the current one; a
  new, changed or deleted row of another shop, or any tenant-owned write with
  no context, raises ``CrossTenantWrite``.

What the guard does not see: raw SQL through ``text()`` or Core statements
on ``Table`` objects. Such code must filter by ``tenant_id`` itself, and is
kept to benchmarks, migrations and the stock module's locked queries.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Uuid, event
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)

from app.core.errors import CrossTenantWrite, TenantContextMissing
from tenants.context import current_tenant_id, is_all_tenants


class TenantOwned:
    """Mixin for every table that belongs to one shop."""

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True
        )


def _involves_tenant_owned(state: ORMExecuteState) -> bool:
    for mapper in state.all_mappers:
        if issubclass(mapper.class_, TenantOwned):
            return True
    return False


def _on_execute(state: ORMExecuteState) -> None:
    if state.is_column_load:
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if is_all_tenants():
        return
    tid = current_tenant_id()
    if tid is None:
        if _involves_tenant_owned(state):
            names = sorted(
                m.class_.__name__ for m in state.all_mappers if issubclass(m.class_, TenantOwned)
            )
            raise TenantContextMissing(
                f"query of {', '.join(names)} with no tenant context; "
                "use tenant_context(t) or all_tenants()"
            )
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantOwned,
            lambda cls: cls.tenant_id == tid,
            include_aliases=True,
        )
    )


def _on_flush(session: Session, flush_context, instances) -> None:
    if is_all_tenants():
        return
    tid = current_tenant_id()
    for obj in list(session.new):
        if not isinstance(obj, TenantOwned):
            continue
        if tid is None:
            raise CrossTenantWrite(f"new {type(obj).__name__} with no tenant context")
        if obj.tenant_id is None:
            obj.tenant_id = tid
        elif obj.tenant_id != tid:
            raise CrossTenantWrite(f"new {type(obj).__name__} belongs to another shop")
    for obj in list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantOwned):
            continue
        if tid is None:
            raise CrossTenantWrite(f"write to {type(obj).__name__} with no tenant context")
        committed = session.identity_key(instance=obj) and _committed_tenant(obj)
        if obj.tenant_id != tid or (committed is not None and committed != tid):
            raise CrossTenantWrite(f"write to {type(obj).__name__} of another shop")


def _committed_tenant(obj) -> uuid.UUID | None:
    """The tenant_id the row had when loaded (catches a moved row)."""
    from sqlalchemy import inspect

    hist = inspect(obj).attrs.tenant_id.history
    if hist.deleted:
        return hist.deleted[0]
    return None


_installed = False


def install_guard() -> None:
    """Register the guard's session events once per process."""
    global _installed
    if _installed:
        return
    event.listen(Session, "do_orm_execute", _on_execute)
    event.listen(Session, "before_flush", _on_flush)
    _installed = True
