"""Opening a shop flushes nothing of any other shop: only the new host's
cached answer (possibly "unknown host") is dropped, in every process."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.storefront.pagecache import EPOCH_KEY
from tenants.resolve import GENERATION_KEY
from tests.conftest import HostClient
from tests.tenants.conftest import EN


def redis_value(app, key):
    from app.core.redisconn import get_redis

    with app.app_context():
        return get_redis(app).get(key)


def warm(browser, path="/"):
    for _ in range(3):
        if browser.get(path, headers=EN).headers.get("X-Cache") == "hit":
            return
    raise AssertionError(f"{browser.host}{path} never came from the page cache")


@pytest.mark.critical
def test_opening_a_shop_keeps_every_other_shops_cached_host_and_pages(app, bare_shop, platform):
    bare_shop("alpha")
    alpha = HostClient(app, "alpha.localhost")
    warm(alpha)
    generation = redis_value(app, GENERATION_KEY)
    epoch = redis_value(app, EPOCH_KEY)

    bare_shop("gamma")

    assert redis_value(app, GENERATION_KEY) == generation
    assert redis_value(app, EPOCH_KEY) == epoch
    assert alpha.get("/", headers=EN).headers.get("X-Cache") == "hit"
    assert platform.get("/api/v1/shop", headers={"Host": "gamma.localhost"}).status_code == 200


@pytest.mark.critical
def test_a_new_shop_answers_at_once_where_another_process_cached_its_host_as_unknown(
    app, second_app, bare_shop
):
    other = HostClient(second_app, "gamma.localhost")
    assert other.get("/api/v1/shop").status_code == 404  # unknown, cached there
    assert other.get("/api/v1/shop").status_code == 404  # and served from that cache

    bare_shop("gamma")

    assert other.get("/api/v1/shop").status_code == 200


def test_an_unknown_host_stays_cached_until_a_shop_opens_there(app_ctx, monkeypatch):
    from tenants import resolve

    assert resolve.resolve_host("delta.localhost").kind == "unknown"
    looked_up = []
    monkeypatch.setattr(resolve, "_lookup", lambda host: looked_up.append(host))
    assert resolve.resolve_host("delta.localhost").kind == "unknown"
    assert looked_up == []
    db.session.remove()
