"""Account tests use the factories that return loaded rows (see factories.py)."""

from tests.accounts.factories import make_account, make_shop  # noqa: F401
