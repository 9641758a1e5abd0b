"""Fixtures of the console page tests: the order tests' real SMTP server
(``mail_server``) and the rate limiter bound to the session's app
(``rate_limits``), shared rather than copied."""

from __future__ import annotations

from tests.orders.conftest import Inbox, mail_server, rate_limits  # noqa: F401 - fixtures
