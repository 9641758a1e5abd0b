"""Shop and account factories with one precomputed password hash.

The same as the shared ``make_shop`` and ``make_account`` of
``tests/conftest.py``, except that users and accounts get one argon2id hash
of ``PASSWORD`` computed once per run (``password_hash()``) instead of a
fresh hash each. Other test packages install them from their conftest
(``from tests.accounts.factories import make_account, make_shop``) or use
``password_hash()`` for rows they build themselves. Sign-in still verifies
against a real argon2id hash.
"""

from __future__ import annotations

import functools

import pytest

from app.extensions import db
from tests.conftest import PASSWORD, end_outer_transaction


@functools.cache
def password_hash() -> str:
    from app.core.security import hash_password

    return hash_password(PASSWORD)


def _detach_loaded(*rows) -> None:
    for row in rows:
        db.session.refresh(row)
    db.session.expunge_all()


@pytest.fixture
def make_shop(app):
    """make_shop(slug) -> (tenant, owner): a shop with its owner, committed."""
    from app.accounts import shops
    from app.accounts.models import PlatformUser

    def make(slug: str, name: str | None = None, owner_email: str | None = None):
        end_outer_transaction()
        with app.app_context():
            owner = PlatformUser(
                email=owner_email or f"owner@{slug}.example.com", password_hash=password_hash()
            )
            db.session.add(owner)
            db.session.flush()
            tenant = shops.open_shop(slug, name or f"Shop {slug}", owner)
            _detach_loaded(tenant, owner)
            return tenant, owner

    return make


@pytest.fixture
def make_account(app):
    """make_account(tenant, email, role='customer') -> ShopAccount."""
    from app.accounts.models import ShopAccount
    from tenants.context import tenant_context

    def make(tenant, email: str, role: str = "customer"):
        end_outer_transaction()
        with app.app_context(), tenant_context(tenant):
            account = ShopAccount(email=email, password_hash=password_hash(), role=role)
            db.session.add(account)
            db.session.commit()
            _detach_loaded(account)
            return account

    return make
