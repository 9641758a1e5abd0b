"""Helpers of the API tests: a shop's API keys as the database holds them and
the CSRF header of session callers (``assert_problem``, ``bearer`` and
``shop_rows`` are in ``tests/factories.py``)."""

from __future__ import annotations

from tests.factories import shop_rows


def api_key_rows(app, tenant_id) -> list[dict]:
    return shop_rows(app, tenant_id)["api_keys"]


def csrf_header(browser, page: str = "/console/login") -> dict:
    """The header a session caller's API writes carry; the token comes from a form page."""
    return {"X-CSRFToken": browser.csrf_token(page)}
