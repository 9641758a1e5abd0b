"""Fixtures of the console page tests: the order tests' real SMTP server
(``mail_server``), shared rather than copied."""

from __future__ import annotations

from tests.orders.conftest import Inbox, mail_server  # noqa: F401 - a fixture, used by name
