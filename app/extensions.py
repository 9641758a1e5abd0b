"""Flask extensions, created once and bound to an app in ``create_app``."""

from __future__ import annotations

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from app.core.openapi import ProblemApi

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _limit_key() -> str:
    # Limits are per client address and per host, so one shop's abuse does
    # not lock buyers out of another shop.
    return f"{request.remote_addr or '-'}|{request.host.lower()}"


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# No X-RateLimit headers on every answer: writing them asks Redis twice more
# per limited request (the window's count and its expiry), on the purchase
# path too. A refused request gets them, with Retry-After, from the 429
# handler (``app.core.problems.rate_limit_headers``).
limiter = Limiter(key_func=_limit_key, default_limits=[], headers_enabled=False)
api = ProblemApi()


def configure_sqlite() -> None:
    """Make the embedded SQLite default behave for a multi-process app.

    pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT;
    we take it over (SQLAlchemy's documented recipe) and begin every
    transaction with ``BEGIN IMMEDIATE``: SQLite then serialises writers at
    the start of a transaction, so a read-then-write (reserving stock) can
    never interleave with another writer. Foreign keys are enforced and a
    locked database is waited for rather than failed.
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if getattr(configure_sqlite, "done", False):
        return

    @event.listens_for(Engine, "connect")
    def _on_connect(dbapi_connection, _record):
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    @event.listens_for(Engine, "begin")
    def _on_begin(connection):
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    configure_sqlite.done = True
