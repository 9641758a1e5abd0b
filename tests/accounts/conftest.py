"""Account tests build users with one precomputed password hash (see factories.py)."""

from tests.accounts.factories import make_account, make_shop  # noqa: F401
