"""Statements of the hot paths, compiled once and sent straight to the driver.

``Connection.execute`` does a lot of work per call besides sending the SQL:
it walks the statement to compute its cache key, looks the compiled form
up, processes the parameters, builds an execution context and the result's
metadata. For the few statements a purchase runs hundreds of times a second
that work cost more CPU than psycopg itself (a profile of the web workers
under ``scripts/bench checkout``: about 15 % of a purchase).

``Prepared(statement)`` compiles a SQLAlchemy Core statement once per
process. On PostgreSQL it keeps the SQL text, the bind processors of its
typed parameters (JSON, the UTC datetimes) and the result processors of its
columns, and sends it through the psycopg connection under the session's
own connection, as a server-side prepared statement (``prepare=True``):
the same connection and transaction as the rest of the request, and the
server plans it once per connection. The engine's ``before_cursor_execute``
and ``after_cursor_execute`` listeners still hear every statement (the
statement-count tests count them). Other dialects (the embedded SQLite)
take ``Connection.execute``.

What it refuses to prepare, by construction: a statement with an
"expanding" ``IN`` parameter (its SQL depends on the values), and one whose
bind names the compiler escaped. Both raise at the first run, so a test
catches them.

It is for statements that bind the shop themselves (``app.orders.wallet_purchase``
puts ``:p_tenant_id`` in every one): the ORM tenant guard does not see Core
statements.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection


class Rows(list):
    """A statement's rows, read in full, with the result methods the callers
    use (``all``, ``first``, ``one``, ``scalar``)."""

    def all(self) -> list:
        return list(self)

    def first(self):
        return self[0] if self else None

    def one(self):
        if len(self) != 1:
            raise ValueError(f"expected one row, got {len(self)}")
        return self[0]

    def scalar(self):
        return self[0][0] if self else None


class _Plan:
    """A statement compiled for PostgreSQL: its SQL, how to turn the caller's
    parameters into the driver's, and how to make its rows."""

    def __init__(self, statement, dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("an expanding IN parameter cannot be prepared once")
        if getattr(compiled, "escaped_bind_names", None):
            raise ValueError("escaped bind names cannot be prepared once")
        self.compiled = compiled
        self.sql = compiled.string
        self.binds = dict(compiled._bind_processors or {})
        columns = compiled._result_columns
        self.returns_rows = bool(columns)
        self.row = namedtuple("Row", [c[0] for c in columns], rename=True) if columns else None
        processors = [c[3]._cached_result_processor(dialect, None) for c in columns]
        self.results = [(i, p) for i, p in enumerate(processors) if p is not None]

    def parameters(self, given: Mapping[str, Any]) -> dict:
        values = self.compiled.construct_params(given, _check=False)
        for name, process in self.binds.items():
            if name in values and values[name] is not None:
                values[name] = process(values[name])
        return values

    def make_rows(self, raw: list[tuple]) -> Rows:
        if self.results:
            fixed = []
            for row in raw:
                row = list(row)
                for index, process in self.results:
                    row[index] = process(row[index])
                fixed.append(row)
            raw = fixed
        return Rows(self.row._make(r) for r in raw)


class Prepared:
    """A Core statement run with as little per-call work as the driver
    allows (see the module doc)."""

    def __init__(self, statement) -> None:
        self.statement = statement
        self._plan: _Plan | None = None
        self._lock = threading.Lock()

    def run(self, connection: Connection, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]):
        """Execute with ``params`` (one parameter set, or several for an
        INSERT of many rows) on ``connection``; its rows (``Rows``) on
        PostgreSQL, SQLAlchemy's result elsewhere."""
        if connection.dialect.name != "postgresql":
            return connection.execute(self.statement, params)
        plan = self._plan or self._compile(connection)
        many = not isinstance(params, Mapping)
        values = [plan.parameters(p) for p in params] if many else plan.parameters(params)
        driver = connection.connection.driver_connection
        listening = connection._has_events or connection.engine._has_events
        with driver.cursor() as cursor:
            if listening:
                connection.dispatch.before_cursor_execute(
                    connection, cursor, plan.sql, values, None, many
                )
            if many:
                cursor.executemany(plan.sql, values)
            else:
                cursor.execute(plan.sql, values, prepare=True)
            # (``cursor.description`` would build its column objects anew.)
            raw = cursor.fetchall() if plan.returns_rows else []
            if listening:
                connection.dispatch.after_cursor_execute(
                    connection, cursor, plan.sql, values, None, many
                )
        return plan.make_rows(raw) if plan.returns_rows else Rows()

    def _compile(self, connection: Connection) -> _Plan:
        with self._lock:
            if self._plan is None:
                self._plan = _Plan(self.statement, connection.dialect)
            return self._plan
