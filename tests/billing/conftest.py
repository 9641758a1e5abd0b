"""Fixtures of the Stripe Billing tests: localstripe and Stripe switched on
(the payment tests' fixtures, shared), and a real SMTP server for the
dunning mails (the order tests' ``mail_server``)."""

from __future__ import annotations

from tests.orders.conftest import mail_server  # noqa: F401 - a fixture
from tests.payments.conftest import live_server, localstripe, stripe_on  # noqa: F401 - fixtures
