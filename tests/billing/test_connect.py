"""Stripe Connect onboarding from the settings: the owner connects the
shop's own Stripe account, comes back, and card payments go to it.

localstripe (1.15) has no Accounts or AccountLinks, so the Stripe side is
a small real HTTP server that records each request the real ``stripe``
library sends and answers as Stripe documents (``/v1/accounts``,
``/v1/account_links``). Where the account stands afterwards arrives as
Stripe's documented ``account.updated`` event, signed with the endpoint's
test secret and posted to the real endpoint.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from app.extensions import db
from tests.console.support import audit_trail, console, text_of
from tests.payments.support import sign, stripe_event

ACCOUNT = "acct_1KamengOnboard"
CONNECT_SECRET = "whsec_kameng_connect_test"


@dataclass
class FakeStripeConnect:
    url: str = ""
    requests: list[tuple[str, str, dict, dict]] = field(default_factory=list)
    account: dict = field(
        default_factory=lambda: {
            "id": ACCOUNT,
            "object": "account",
            "type": "express",
            "charges_enabled": False,
            "details_submitted": False,
            "payouts_enabled": False,
        }
    )

    def answer(self, method: str, path: str, form: dict) -> dict:
        if method == "POST" and path == "/v1/accounts":
            return self.account
        if method == "GET" and path == f"/v1/accounts/{ACCOUNT}":
            return self.account
        if method == "POST" and path == "/v1/account_links":
            return {
                "object": "account_link",
                "created": 1700000000,
                "expires_at": 1700000300,
                "url": f"https://connect.stripe.com/setup/e/{form['account']}/onboard",
            }
        return {"error": {"type": "invalid_request_error", "message": "not recorded"}}


@pytest.fixture
def stripe_connect(app, monkeypatch):
    fake = FakeStripeConnect()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            body = fake.answer(method, self.path.split("?")[0], form)
            fake.requests.append((method, self.path, dict(self.headers), form))
            payload = json.dumps(body).encode()
            self.send_response(400 if "error" in body else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self):  # noqa: N802 - http.server's name
            self._answer("POST")

        def do_GET(self):  # noqa: N802 - http.server's name
            self._answer("GET")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_connect")
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", fake.url)
    monkeypatch.setitem(app.config, "STRIPE_CONNECT_WEBHOOK_SECRET", CONNECT_SECRET)
    yield fake
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def _tenant_account(app, shop) -> str | None:
    from tenants.models import Tenant

    with app.app_context():
        value = db.session.scalar(select(Tenant.stripe_account_id).where(Tenant.id == shop.id))
        db.session.remove()
    return value


def _event(client, account: dict, secret: str = CONNECT_SECRET, event_type="account.updated"):
    body = stripe_event(event_type, account, account=account.get("id"))
    return client.post(
        "/api/v1/billing/stripe/connect-events",
        data=body,
        headers={"Stripe-Signature": sign(body, secret), "Content-Type": "application/json"},
    )


def test_the_owner_connects_a_stripe_account_and_card_payments_go_to_it(
    app, shop, browser_for, stripe_connect
):
    owner = console(browser_for, shop.host, shop.owner_email)
    settings = text_of(owner.get("/console/settings"))
    assert "Receive card payments" in settings and "taken by the platform" in settings

    started = owner.submit(
        "/console/settings/card-payments", {}, action="/console/settings/card-payments/onboard"
    )

    assert started.status_code == 303
    assert started.headers["Location"] == f"https://connect.stripe.com/setup/e/{ACCOUNT}/onboard"
    (_, _, headers, created), (_, _, _, link) = stripe_connect.requests
    assert created["type"] == "express"
    assert created["metadata[kameng_tenant_id]"] == str(shop.id)
    assert headers["Idempotency-Key"] == f"kameng-connect-{shop.id}"
    assert link["type"] == "account_onboarding"
    assert link["return_url"].endswith("/console/settings/card-payments/return")
    assert link["refresh_url"].endswith("/console/settings/card-payments/refresh")
    assert _tenant_account(app, shop) is None  # not before Stripe enables charges

    # Back from Stripe with the details given, charges not yet enabled.
    stripe_connect.account.update(details_submitted=True)
    back = owner.get("/console/settings/card-payments/return")
    page = text_of(owner.get(back.headers["Location"]))
    assert "Details submitted" in page and "Card payments not enabled yet" in page
    assert _tenant_account(app, shop) is None

    # Stripe enables charges and says so.
    answer = _event(app.test_client(), {**stripe_connect.account, "charges_enabled": True})
    assert answer.status_code == 200 and answer.get_json() == {"outcome": "account_updated"}
    assert _tenant_account(app, shop) == ACCOUNT
    page = text_of(owner.get("/console/settings/card-payments"))
    assert "Card payments enabled" in page and "Connect a Stripe account" not in page
    actions = [a for _, a, _, _ in audit_trail(app, shop)]
    assert "billing.connect_started" in actions and "billing.connect_status" in actions


def test_an_expired_link_gets_a_new_one_on_the_same_account(app, shop, browser_for, stripe_connect):
    owner = console(browser_for, shop.host, shop.owner_email)
    owner.submit(
        "/console/settings/card-payments", {}, action="/console/settings/card-payments/onboard"
    )

    again = owner.get("/console/settings/card-payments/refresh")

    assert again.status_code == 303
    paths = [(m, p) for m, p, _, _ in stripe_connect.requests]
    assert paths.count(("POST", "/v1/accounts")) == 1
    assert paths.count(("POST", "/v1/account_links")) == 2


def test_an_event_with_a_bad_signature_changes_nothing(app, shop, browser_for, stripe_connect):
    owner = console(browser_for, shop.host, shop.owner_email)
    owner.submit(
        "/console/settings/card-payments", {}, action="/console/settings/card-payments/onboard"
    )

    answer = _event(
        app.test_client(), {**stripe_connect.account, "charges_enabled": True}, secret="whsec_other"
    )

    assert answer.status_code == 400
    assert answer.get_json()["type"].endswith("webhook-signature-invalid")
    assert _tenant_account(app, shop) is None


def test_events_of_other_accounts_and_types_are_acknowledged_and_ignored(app, stripe_connect):
    client = app.test_client()
    other = {"id": "acct_someone_else", "object": "account", "charges_enabled": True}

    assert _event(client, other).get_json() == {"outcome": "unknown_account"}
    assert _event(client, other, event_type="account.application.deauthorized").get_json() == {
        "outcome": "ignored"
    }


def test_stripe_not_set_up_is_said_in_words(app, shop, browser_for, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")
    owner = console(browser_for, shop.host, shop.owner_email)

    answer = owner.submit(
        "/console/settings/card-payments", {}, action="/console/settings/card-payments/onboard"
    )

    assert answer.status_code == 302
    assert "Stripe is not configured" in text_of(owner.get(answer.headers["Location"]))


def test_a_stranger_is_sent_to_sign_in(shop, browser_for):
    answer = browser_for(shop.host).get("/console/settings/card-payments")

    assert answer.status_code == 302 and "/console/login" in answer.headers["Location"]


def test_staff_may_not_connect_an_account(app, shop, browser_for, make_member, stripe_connect):
    make_member(shop, "staff@example.com")
    staff = console(browser_for, shop.host, "staff@example.com")

    assert staff.get("/console/settings/card-payments").status_code == 403
    token = staff.csrf_token("/console/")  # a page staff may open (its sign-out form)
    answer = staff.post("/console/settings/card-payments/onboard", data={"csrf_token": token})
    assert answer.status_code == 403
    assert stripe_connect.requests == []


def test_another_shops_owner_cannot_onboard_this_shop(app, shops, browser_for, stripe_connect):
    bravo = console(browser_for, shops["bravo"].host, shops["bravo"].owner_email)

    at_alpha = bravo.on(shops["alpha"].host)

    assert at_alpha.get("/console/settings/card-payments").status_code == 302
    assert at_alpha.get("/console/settings/card-payments/refresh").status_code == 302
    assert stripe_connect.requests == []
