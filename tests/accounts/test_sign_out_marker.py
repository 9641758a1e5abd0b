"""Sign-outs are recorded in Redis against the sign-in's id: a session whose
marker cannot be read is treated as signed out, never as still valid.
(That a copy of the cookies is worthless after sign-out is
``test_platform_signup.test_signing_out_makes_copies_of_the_cookies_worthless``.)"""

from __future__ import annotations

from tests.conftest import PASSWORD


def _signed_in_buyer(shop, browser_for, make_account):
    make_account(shop.tenant_id, "buyer@example.com")
    buyer = browser_for(shop.host)
    answer = buyer.submit("/account/login", {"email": "buyer@example.com", "password": PASSWORD})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert buyer.get("/account/").status_code == 200
    return buyer


def test_a_session_is_refused_while_its_sign_out_marker_cannot_be_read(
    app, shop, browser_for, make_account, monkeypatch
):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    buyer = _signed_in_buyer(shop, browser_for, make_account)
    down = redis.Redis(host="127.0.0.1", port=1, socket_timeout=1, retry=Retry(NoBackoff(), 0))
    monkeypatch.setitem(app.extensions, "kameng_redis", down)

    refused = buyer.get("/account/")

    assert refused.status_code == 302 and "/account/login" in refused.headers["Location"]
