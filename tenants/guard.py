"""The ORM tenant guard.

Every model that mixes in ``TenantOwned`` gets a non-null, indexed
``tenant_id``. The guard enforces isolation for all of them:

- ``do_orm_execute``: every ORM SELECT, UPDATE and DELETE that involves a
  tenant-owned model gets ``with_loader_criteria(TenantOwned, tenant_id ==
  current)``; the criteria also apply to relationship and lazy loads, joins
  and aliases. A tenant-owned table that a statement reaches only through
  its WHERE clause (``select(func.count()).where(Account.role == ...)``),
  which those criteria do not see, is filtered by an explicit WHERE at the
  top level and refused inside a subquery. A bulk UPDATE by primary key is
  limited to the current shop's rows; an UPDATE may not move rows to another
  shop; an INSERT may only name the current shop. With no context at all a
  statement touching a tenant-owned table is refused.
- identity map: ``session.get()`` and many-to-one lazy loads answer from the
  identity map without a query; an object of another shop found there is
  ignored, so the lookup goes to the database, where the criteria apply.
- ``before_flush``: a new row without ``tenant_id`` gets the current one; a
  new, changed or deleted row of another shop, or any tenant-owned write with
  no context, raises ``CrossTenantWrite``.

What the guard does not see: raw SQL through ``text()`` or Core statements
on ``Table`` objects. Such code must filter by ``tenant_id`` itself, and is
kept to benchmarks, migrations and the stock module's locked queries.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, Uuid, event, inspect, select, tuple_
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql.dml import Insert, UpdateBase
from sqlalchemy.sql.elements import BindParameter, ColumnClause
from sqlalchemy.sql.selectable import Alias, Join, Select, TableClause

from app.core.errors import CrossTenantWrite, TenantContextMissing
from tenants.context import current_tenant_id, is_all_tenants

_owned_classes: list[type] = []


class TenantOwned:
    """Mixin for every table that belongs to one shop."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        _owned_classes.append(cls)

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True
        )


class UnguardedStatement(TenantContextMissing):
    """A statement the guard cannot put in the tenant's context (a
    tenant-owned table reached only through a subquery's WHERE clause).
    A programming error: name the model in the subquery's columns or FROM."""


_tables_cache: tuple[int, dict[int, TableClause]] = (-1, {})


def _tenant_tables() -> dict[int, TableClause]:
    """Tables of every ``TenantOwned`` model, keyed by hash (an ORM-annotated
    copy of a table hashes like the table)."""
    global _tables_cache
    count, tables = _tables_cache
    if count != len(_owned_classes):
        count = len(_owned_classes)
        tables = {}
        for cls in _owned_classes[:count]:
            table = getattr(cls, "__table__", None)
            if table is not None:
                tables[hash(table)] = table
        _tables_cache = (count, tables)
    return tables


def _owned_from(from_, tables: dict[int, TableClause]):
    """``from_`` if it is a tenant-owned table or an alias of one."""
    base = from_.element if isinstance(from_, Alias) else from_
    if isinstance(base, TableClause) and hash(base) in tables:
        return from_
    return None


def _flatten(froms) -> list:
    out = []
    stack = list(froms)
    while stack:
        f = stack.pop()
        if f is None:
            continue
        if isinstance(f, Join):
            stack.extend((f.left, f.right))
        out.append(f)
    return out


def _explicit_froms(element) -> list:
    """FROMs an element names itself (columns, select_from, joins, DML target)."""
    if isinstance(element, UpdateBase):
        return _flatten([element.table])
    froms = list(element.columns_clause_froms) + list(element._from_obj)
    for target, _onclause, left, _flags in element._setup_joins:
        froms.extend(f for f in (target, left) if isinstance(f, (TableClause, Alias, Join)))
    return _flatten(froms)


class _Scan:
    """What a statement touches: any tenant-owned table, and tenant-owned
    tables reached only through a WHERE clause (top level, or nested)."""

    def __init__(self, statement) -> None:
        self.tables = _tenant_tables()
        self.mentions: set[str] = set()
        self.top_implicit: list = []
        self.nested_implicit: list = []
        self._seen: set[int] = set()
        self._visit(statement, frozenset(), top=True)

    def _visit(self, element, covered: frozenset, top: bool = False) -> None:
        if id(element) in self._seen:
            return
        self._seen.add(id(element))
        if isinstance(element, TableClause):
            if hash(element) in self.tables:
                self.mentions.add(element.name)
            return
        if isinstance(element, (Select, UpdateBase)) and not isinstance(element, Insert):
            own = _explicit_froms(element)
            covered = covered | {hash(f) for f in own}
            for clause in element._where_criteria:
                for f in clause._from_objects:
                    if hash(f) in covered or _owned_from(f, self.tables) is None:
                        continue
                    covered = covered | {hash(f)}
                    (self.top_implicit if top else self.nested_implicit).append(f)
        if isinstance(element, ColumnClause) and element.table is not None:
            self._visit(element.table, covered)
        if isinstance(element, UpdateBase):
            self._visit(element.table, covered)
        for child in element.get_children():
            self._visit(child, covered)


#: What ``_Scan`` found in each statement marked ``built_once``, by identity.
_scans: dict[int, tuple[Any, _Scan]] = {}
#: A ``built_once`` SELECT as guarded for one shop: (id, shop) → (it, guarded).
_guarded: dict[tuple[int, uuid.UUID], tuple[Any, Any]] = {}
#: Shops' guarded copies kept at most (a bound on memory; past it, they
#: start over). Each copy holds its compiled cache key: at 4,096 the
#: ``tenants`` scenario (10,000 shops, a random one per request) grew web
#: workers to ~164 MB; the busy shops of a platform fit in far fewer.
MAX_GUARDED = 256
_BUILT_ONCE = "kameng_built_once"


def built_once(statement):
    """``statement`` marked as built once for the process's life (a module
    constant or a cached builder's result): the guard walks it once and
    remembers what it found, and keeps its guarded copy for each shop (the
    same criteria as any statement's: every tenant-owned table bound to the
    shop), so SQLAlchemy finds the copy's cache key already worked out
    instead of walking the statement again on every execution. The
    statement must not be built anew per call (each copy would be kept)."""
    return statement.execution_options(**{_BUILT_ONCE: True})


def _scan_of(statement) -> _Scan:
    if not statement._execution_options.get(_BUILT_ONCE):
        return _Scan(statement)
    known = _scans.get(id(statement))
    if known is not None and known[0] is statement:
        return known[1]
    scan = _Scan(statement)
    _scans[id(statement)] = (statement, scan)
    return scan


def _involves_tenant_owned(state: ORMExecuteState) -> bool:
    return any(issubclass(m.class_, TenantOwned) for m in state.all_mappers)


def _as_uuid(value) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _param_sets(state: ORMExecuteState) -> list[dict]:
    params = state.parameters
    if params is None:
        return []
    if isinstance(params, dict):
        return [params]
    return [p for p in params if isinstance(p, dict)]


def _is_tenant_key(key) -> bool:
    return (key if isinstance(key, str) else getattr(key, "key", None)) == "tenant_id"


def _values_given(statement, state: ORMExecuteState) -> list[Any]:
    """Every value a DML statement gives ``tenant_id`` (``values()`` and
    parameter sets); a SQL expression the guard cannot evaluate is returned
    as itself, and so refused."""
    found: list[Any] = []
    params = _param_sets(state)
    pairs = list((statement._values or {}).items()) + list(
        getattr(statement, "_ordered_values", None) or []
    )
    for row in getattr(statement, "_multi_values", ()) or ():
        for item in row:
            if isinstance(item, dict):
                pairs.extend(item.items())
            else:  # positional: one value per table column, in order
                pairs.extend(zip(statement.table.c, item, strict=False))
    for key, value in pairs:
        if not _is_tenant_key(key):
            continue
        if isinstance(value, BindParameter):
            if value.callable is None and value.value is not None:
                found.append(value.value)
            elif params and all(value.key in p for p in params):
                found.extend(p[value.key] for p in params)
            else:
                found.append(value)
        else:
            found.append(value)
    found.extend(p["tenant_id"] for p in params if "tenant_id" in p)
    return found


def _refuse_foreign_tenant_values(statement, state: ORMExecuteState, tid: uuid.UUID) -> None:
    for value in _values_given(statement, state):
        if _as_uuid(value) != tid:
            verb = "INSERT" if state.is_insert else "UPDATE"
            raise CrossTenantWrite(
                f"{verb} sets tenant_id to {value!r}, not the current shop {tid}"
            )


def _refuse_foreign_primary_keys(state: ORMExecuteState) -> None:
    """A bulk UPDATE by primary key (a list of parameter sets) ignores loader
    criteria: check, under the guard, that every row it names is the
    current shop's."""
    mapper = state.bind_mapper
    if mapper is None or not issubclass(mapper.class_, TenantOwned):
        return
    attrs = [mapper.get_property_by_column(c) for c in mapper.primary_key]
    wanted = {tuple(p.get(a.key) for a in attrs) for p in _param_sets(state)}
    if not wanted:
        return
    cols = [getattr(mapper.class_, a.key) for a in attrs]
    key = cols[0] if len(cols) == 1 else tuple_(*cols)
    values = [w[0] for w in wanted] if len(cols) == 1 else list(wanted)
    found = {
        tuple(row) for row in state.session.execute(select(*cols).where(key.in_(values))).all()
    }
    if wanted - found:
        raise CrossTenantWrite(
            f"bulk UPDATE of {mapper.class_.__name__} names rows that are not the current shop's"
        )


def _on_execute(state: ORMExecuteState) -> None:
    if state.is_column_load:
        return
    if not (state.is_select or state.is_insert or state.is_update or state.is_delete):
        return
    if is_all_tenants():
        return
    statement = state.statement
    scan = _scan_of(statement)
    tid = current_tenant_id()
    if tid is None:
        models = {m.class_.__name__ for m in state.all_mappers if issubclass(m.class_, TenantOwned)}
        if scan.mentions or models:
            raise TenantContextMissing(
                f"statement on {', '.join(sorted(models or scan.mentions))} with no tenant "
                "context; use tenant_context(t) or all_tenants()"
            )
        return
    if scan.nested_implicit:
        names = ", ".join(sorted({str(f.name) for f in scan.nested_implicit}))
        raise UnguardedStatement(
            f"a subquery reaches {names} only through its WHERE clause, where the tenant "
            "filter cannot reach; select a column of the model in the subquery "
            "(select(Model.id).where(...).exists()) or use select_from(Model)"
        )
    if state.is_insert:
        if scan.mentions or _involves_tenant_owned(state):
            if getattr(statement, "select", None) is not None:
                raise CrossTenantWrite(
                    "INSERT … FROM SELECT into a tenant-owned table cannot be checked; "
                    "insert rows with values, or state all_tenants()"
                )
            _refuse_foreign_tenant_values(statement, state, tid)
        return
    if state.is_update and (scan.mentions or _involves_tenant_owned(state)):
        _refuse_foreign_tenant_values(statement, state, tid)
    if scan.top_implicit:
        statement = statement.where(*(f.c.tenant_id == tid for f in scan.top_implicit))
    if state.is_update and state.is_executemany:
        _refuse_foreign_primary_keys(state)
    keep = (
        state.is_select
        and statement is state.statement
        and _BUILT_ONCE in (statement._execution_options)
    )
    if keep:
        known = _guarded.get((id(statement), tid))
        if known is not None and known[0] is statement:
            state.statement = known[1]
            return
    guarded = statement.options(
        with_loader_criteria(
            TenantOwned,
            lambda cls: cls.tenant_id == tid,
            include_aliases=True,
        )
    )
    if keep:
        if len(_guarded) >= MAX_GUARDED:
            _guarded.clear()
        _guarded[(id(statement), tid)] = (statement, guarded)
    state.statement = guarded


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
        elif _as_uuid(obj.tenant_id) != tid:
            raise CrossTenantWrite(f"new {type(obj).__name__} belongs to another shop")
    for obj in list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantOwned):
            continue
        if tid is None:
            raise CrossTenantWrite(f"write to {type(obj).__name__} with no tenant context")
        if _as_uuid(obj.tenant_id) != tid or _loaded_tenant(obj) not in (None, tid):
            raise CrossTenantWrite(f"write to {type(obj).__name__} of another shop")


def _loaded_tenant(obj) -> uuid.UUID | None:
    """The tenant_id the row had when loaded, if changed since (a moved row)."""
    hist = inspect(obj).attrs.tenant_id.history
    if hist.deleted:
        return _as_uuid(hist.deleted[0])
    return None


def _identity_tenant(obj) -> uuid.UUID | None:
    """The tenant_id of an object as the database has it, without a query
    (``None`` when not loaded)."""
    state = inspect(obj)
    if "tenant_id" in state.committed_state:
        return _as_uuid(state.committed_state["tenant_id"])
    return _as_uuid(state.dict.get("tenant_id"))


class TenantIdentityMixin:
    """Session mixin: identity-map lookups never hand out another shop's row.

    ``Session.get()`` and many-to-one lazy loads look in the identity map
    first, with no query and so no ``do_orm_execute``. An object found there
    that is tenant-owned but not provably the current shop's is treated as a
    miss; the lookup then queries, under the guard. ``_identity_lookup`` is
    the hook SQLAlchemy documents for overriding subclasses (its horizontal
    sharding extension overrides it the same way).
    """

    def _identity_lookup(self, mapper, *args, **kwargs):
        instance = super()._identity_lookup(mapper, *args, **kwargs)
        if not isinstance(instance, TenantOwned) or is_all_tenants():
            return instance
        tid = current_tenant_id()
        if tid is None or _identity_tenant(instance) != tid:
            return None
        return instance


_installed = False


def install_guard() -> None:
    """Register the guard once per process: session events for every
    session, and the identity-map check on the app's session class."""
    global _installed
    if _installed:
        return
    event.listen(Session, "do_orm_execute", _on_execute)
    event.listen(Session, "before_flush", _on_flush)
    from app.extensions import db

    factory = db.session.session_factory
    if not issubclass(factory.class_, TenantIdentityMixin):
        base = factory.class_
        factory.class_ = type(base.__name__, (TenantIdentityMixin, base), {})
    _installed = True
