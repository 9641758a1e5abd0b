"""Fixtures for the tenancy tests: shops and accounts as ORM rows with no
password (``bare_shop``, ``bare_account``) for the tests that hand a
``Tenant`` to provisioning or the guard, a second app on the same services,
and the ``tenants`` command line in its own process. Shops that sign in
come from the shared ``make_shop`` (``tests/factories.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.extensions import db
from tests.conftest import ROOT, end_outer_transaction

EN = {"Accept-Language": "en"}


def detach_loaded(*objs) -> None:
    for obj in objs:
        db.session.refresh(obj)
    db.session.expunge_all()


@pytest.fixture
def bare_shop(app):
    """bare_shop(slug, name=None) -> tenant: a shop whose owner has no
    password, for tests that never sign in (Argon2 costs ~0.3 s a hash)."""
    from app.accounts import shops
    from app.accounts.models import PlatformUser

    def make(slug: str, name: str | None = None):
        end_outer_transaction()
        with app.app_context():
            owner = PlatformUser(email=f"owner@{slug}.example.com", password_hash="!")
            db.session.add(owner)
            db.session.commit()
            tenant = shops.open_shop(slug, name or f"Shop {slug}", owner)
            detach_loaded(tenant)
            return tenant

    return make


@pytest.fixture
def bare_account(app):
    """bare_account(tenant, email, role='customer') -> ShopAccount that
    cannot sign in (no password hash to compute)."""
    from app.accounts.models import ShopAccount
    from tenants.context import tenant_context

    def make(tenant, email: str, role: str = "customer"):
        end_outer_transaction()
        with app.app_context(), tenant_context(tenant):
            account = ShopAccount(email=email, password_hash="!", role=role)
            db.session.add(account)
            db.session.commit()
            detach_loaded(account)
            return account

    return make


@pytest.fixture
def second_app(app, app_config):
    """Another app on the same database and Redis: its own host cache, as a
    second web process has."""
    from app import create_app

    other = create_app(app_config)
    yield other
    with other.app_context():
        db.session.remove()


@pytest.fixture
def tenants_cli(app, app_config):
    """tenants_cli(*args): run ``flask --app wsgi tenants ARGS`` in a new
    process on the test database and Redis; returns its stdout."""
    from app.core.redisconn import get_redis

    with app.app_context():
        redis_url = app.config["REDIS_URL"] or get_redis(app).connection_pool.connection_kwargs
    env = dict(os.environ)
    env.update({k: v for k, v in app_config.items() if isinstance(v, str) and v})
    if isinstance(redis_url, str) and redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)  # the embedded server in INSTANCE_PATH

    def run(*args: str) -> str:
        end_outer_transaction()
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "tenants", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run
