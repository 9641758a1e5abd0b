"""Sign-outs are recorded in Redis against the sign-in's id: while a
session's marker cannot be read, the session is not trusted: the request is
answered 503 (never served as signed in), and the session works again once
Redis answers.
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

    assert refused.status_code == 503
    assert refused.headers["Retry-After"]
    page = refused.get_data(as_text=True)
    assert "buyer@example.com" not in page  # not served as the signed-in buyer
    api = buyer.get("/api/v1/me", headers={"Accept": "application/json"})
    assert api.status_code == 503
    assert api.get_json()["type"].endswith("/unavailable")

    # Redis answers again: the same session is trusted again.
    monkeypatch.delitem(app.extensions, "kameng_redis")
    assert buyer.get("/account/").status_code == 200


def test_signing_out_while_redis_is_down_keeps_the_session_and_says_so(
    app, shop, browser_for, make_account, monkeypatch
):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    buyer = _signed_in_buyer(shop, browser_for, make_account)
    from app.accounts import auth

    real = redis.Redis  # the marker check passes, recording the sign-out fails
    down = real(host="127.0.0.1", port=1, socket_timeout=1, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(auth, "_signed_out", lambda sign_in_id: False)
    monkeypatch.setitem(app.extensions, "kameng_redis", down)

    answer = buyer.submit("/account/logout", {})
    assert answer.status_code == 503

    monkeypatch.undo()
    assert buyer.get("/account/").status_code == 200  # still signed in, to try again
