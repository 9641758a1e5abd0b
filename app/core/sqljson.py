"""Rows gathered into one JSON value inside a statement, written once per
dialect: ``json_rows(a, b, ...)`` is an aggregate whose value is the
group's rows as a JSON array of arrays (NULL over no rows), read back as
Python lists.

It lets a page read a small side list (the price rules that may touch its
products) in the same statement as its main rows, instead of a statement
of its own. Values come back as JSON gives them: ids and times as text,
booleans as ``true``/``false`` (PostgreSQL) or ``1``/``0`` (SQLite); the
reader turns them back (``app.pricing.rules.rules_from_rows``).
"""

from __future__ import annotations

from sqlalchemy import JSON
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class json_rows(FunctionElement):  # noqa: N801 (a SQL function, named as one)
    """``json_rows(col, ...)``: the group's rows as a JSON array of arrays."""

    type = JSON()
    name = "json_rows"
    inherit_cache = True


@compiles(json_rows)
def _postgresql(element, compiler, **kw) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


@compiles(json_rows, "sqlite")
def _sqlite(element, compiler, **kw) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"
