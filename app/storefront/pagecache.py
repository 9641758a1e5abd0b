"""Anonymous storefront answers served from copies, made stale by every
write that could change them.

What is cached: a ``GET`` with no cookie but ``lang`` and no
``Authorization`` header, to one of the public read endpoints
(``CACHEABLE_ENDPOINTS``: the shop's home page, a category's page, the
search page, a product page, the public product list and one product from
the API), whose answer is a 200 that sets
no cookie, read by a visitor who is not signed in. Anything else — a buyer
with a session, an operator, an agent with an API key, a POST, an error —
goes to the app as before and is never stored.

What the key holds (:func:`app.storefront.pagekeys.request_part`): the
host, the scheme, the page, the query parameters that page reads and the
language the app resolves, each in one spelling, so no header or query
string a visitor makes up adds a copy.

How a cached answer stays true:

- **Writes.** ``install_invalidation`` watches the session: any INSERT,
  UPDATE or DELETE of a table that a storefront shows (``WATCHED_TABLES``:
  products, categories, their images, cards — the stock —, the price rules
  that make a guest's price, and the shop row)
  marks the shop, whether it goes through the unit of work or a bulk
  statement, and after the commit the shop's version in Redis is bumped
  (``kameng:pages:v:<shop>``). A write with no shop in context (a platform
  job) bumps the epoch, which every key holds. Code that writes around the
  session (the card import's ``COPY``) calls :func:`touch` itself.
- **Order.** The middleware reads the versions *before* the app reads the
  database and stores the answer under them. A write bumps the version only
  after it commits, so an answer built from data older than a write is
  stored under a version that is already gone, and never served.
- **Hosts.** Any change to a shop or a domain (``tenants.resolve.
  invalidate_resolution``, announced on its ``resolution_changed`` signal,
  to which :func:`install_page_cache` subscribes) bumps the epoch, so no
  copy survives a host moving to another shop, or to none.
- **Time.** Stock also changes without a write: a buyer's hold lapses after
  its minutes, a sale price starts or ends. Every entry lives
  ``PAGE_CACHE_SECONDS`` (30 s by default), which bounds that (checkout
  prices at its own moment, so a page at most that old never changes what
  is charged). ``0`` turns caching off.
- **Whose price.** Only guests' answers are kept, and a guest's price is
  the same for every guest; a signed-in buyer's page carries their own
  prices (an agent's tier) and is never stored. Sub-shop pages
  (``/s/<code>``) are not among the cached paths.

What Redis keeps is bounded: a shop stores at most ``SHOP_BYTES_PER_WINDOW``
of answers per ``PAGE_CACHE_SECONDS`` (a counter that expires with the
window; past it, answers are served by the app and not kept), so no visitor
can fill the Redis instance that also holds sign-out markers, rate-limit
counters and the job queues. Every page key has a TTL, as have sign-out
markers: under a ``volatile-*`` or ``allkeys-*`` eviction policy page copies
would compete with the markers, so production Redis should run
``maxmemory-policy noeviction`` (the budget keeps the pages far below it).

Two tiers, neither of which starts a Flask request: each process keeps the
answers it served lately (:class:`LocalPages`, a few microseconds a hit,
kept true by a Redis pub/sub channel on which every bump is announced), and
behind it Redis holds every process's answers (one round trip: one Lua script
reads the versions and the entry). That is the point: the storefront's cost
was the ORM and the templates. Any Redis failure means the request goes to
the app. A cached answer carries ``X-Cache: hit``, a stored one
``X-Cache: miss``.

Why one module past 400 lines: the key layout (the request's share of it
is in ``pagekeys.py``), the version counters, the
Lua lookup, both tiers and the write tracking that bumps the versions are
one protocol; each half is only correct against the other, so they are
read and changed together.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from itertools import chain
from typing import Any

from flask import Flask, current_app, g, has_app_context, request, session
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from app.core.redisconn import RedisUnavailable
from app.storefront.pagekeys import request_part
from app.storefront.visits import count_cacheable_request
from tenants.context import current_tenant_id
from tenants.resolve import resolution_changed

log = logging.getLogger(__name__)

CACHEABLE_ENDPOINTS = frozenset(
    {
        "index",
        "storefront.product",
        "storefront.category",
        "storefront.search",
        "catalog_api.Products",
        "catalog_api.ProductItem",
    }
)
WATCHED_TABLES = frozenset(
    {"products", "categories", "product_images", "cards", "tenants", "price_rules"}
    | {"subscriptions"}  # a shop paused for non-payment (app.billing.views), or open again
)
#: Bytes of answers a shop may store in Redis per ``PAGE_CACHE_SECONDS``.
SHOP_BYTES_PER_WINDOW = 8 * 1024 * 1024
MAX_STORED_BODY = 1024 * 1024
EPOCH_KEY = "kameng:pages:epoch"
_VERSION = "kameng:pages:v:"
_HOST = "kameng:pages:host:"
_BUDGET = "kameng:pages:bytes:"
_PAGE = "kameng:page:"
_ENVIRON_FLAG = "kameng.page_cache"
_MARKS = "kameng_pages_touched"
CHANNEL = "kameng:pages:changed"
LOCAL_MAX_BYTES = 8 * 1024 * 1024  # per process

# KEYS: epoch, host map. ARGV: the request part of the key.
# Returns {epoch, shop, version, entry}; a missing part is false (None).
_LOOKUP = """
local epoch = redis.call('GET', KEYS[1]) or '0'
local shop = redis.call('GET', KEYS[2])
if not shop then return {epoch, false, false, false} end
local version = redis.call('GET', '@VERSION@' .. shop) or '0'
local key = '@PAGE@' .. shop .. ':' .. version .. ':' .. epoch .. ':' .. ARGV[1]
return {epoch, shop, version, redis.call('GET', key)}
""".replace("@VERSION@", _VERSION).replace("@PAGE@", _PAGE)


# KEYS: host map, the shop's byte budget, the page key. ARGV: shop, ttl,
# entry, budget. Records the host's shop; stores the entry only while the
# shop's budget for this window lasts. Returns 1 when stored.
_STORE = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if #KEYS < 3 then return 0 end
local used = redis.call('INCRBY', KEYS[2], string.len(ARGV[3]))
if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
if used > tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[2])
return 1
"""


def page_key(shop: str, version: str, epoch: str, request_part: str) -> str:
    return f"{_PAGE}{shop}:{version}:{epoch}:{request_part}"


# --- this process's copies ---------------------------------------------------------


class LocalPages:
    """The answers this process served lately, in front of Redis.

    A hit here costs no round trip at all. It is kept true by the
    invalidation channel: :func:`bump` publishes each changed shop on
    ``CHANNEL`` (``*`` for every shop) and one listener thread per process
    applies it, bumping the shop's local counter; an entry is only served
    while the counters it was stored under are still current, and for at
    most ``PAGE_CACHE_SECONDS``. The counters are read *before* the answer is
    looked up in Redis or made, so an answer older than a change can only be
    stored under counters the change has already moved. While the listener
    is not subscribed (starting, Redis down, reconnecting) nothing is served
    or stored here, and every (re)subscription starts from empty.
    ``LOCAL_MAX_BYTES`` bounds the bodies kept (least recently used go first).
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.entries: OrderedDict[str, tuple] = OrderedDict()
        self.size = 0
        self.hosts: dict[str, str] = {}  # host -> shop id, as Redis last said
        self.versions: dict[str, int] = {}
        self.epoch = 0
        self.live = False
        self.pid: int | None = None

    def stamp(self, shop: str | None) -> tuple[int, int] | None:
        """The counters an answer for ``shop`` is stored under (``None``: do not store)."""
        if not self.live or shop is None:
            return None
        return (self.epoch, self.versions.get(shop, 0))

    def get(self, request_part: str):
        self._ensure_listener()
        if not self.live:
            return None
        with self.lock:
            entry = self.entries.get(request_part)
            if entry is None:
                return None
            shop, stamp, expires, status, headers, body = entry
            if stamp != (self.epoch, self.versions.get(shop, 0)) or expires < time.monotonic():
                self._drop(request_part)
                return None
            self.entries.move_to_end(request_part)
        return status, headers, body

    def put(self, request_part: str, shop: str, stamp, status, headers, body: bytes) -> None:
        if stamp is None or len(body) > LOCAL_MAX_BYTES // 8:
            return
        expires = time.monotonic() + int(self.app.config["PAGE_CACHE_SECONDS"])
        with self.lock:
            if stamp != self.stamp(shop):
                return  # a change came in meanwhile: the answer may predate it
            self._drop(request_part)
            self.entries[request_part] = (shop, stamp, expires, status, headers, body)
            self.size += len(body)
            while self.size > LOCAL_MAX_BYTES:
                self._drop(next(iter(self.entries)))

    def learn_host(self, host: str, shop: str) -> None:
        if len(self.hosts) > 50_000:
            self.hosts.clear()
        self.hosts[host] = shop

    def _drop(self, request_part: str) -> None:
        entry = self.entries.pop(request_part, None)
        if entry is not None:
            self.size -= len(entry[5])

    def apply(self, shop: str) -> None:
        """A shop changed (``*``: every shop)."""
        with self.lock:
            if shop == "*":
                self._clear()
            else:
                self.versions[shop] = self.versions.get(shop, 0) + 1

    def _clear(self) -> None:
        self.epoch += 1
        self.entries.clear()
        self.size = 0

    def _set_live(self, live: bool) -> None:
        with self.lock:
            self.live = live
            self._clear()

    def _ensure_listener(self) -> None:
        if self.pid == os.getpid():
            return
        with self.lock:
            if self.pid == os.getpid():
                return
            self.pid = os.getpid()  # a new process (after a fork): its own listener
            self.live = False
            self._clear()
        threading.Thread(target=self._listen, name="page-cache-listener", daemon=True).start()

    def _listen(self) -> None:
        import redis as redis_lib

        from app.core.redisconn import make_pool, resolve_redis_url

        pid = self.pid
        url = resolve_redis_url(self.app)
        client = redis_lib.Redis(
            connection_pool=make_pool(url, self.app.config, health_check_interval=15)
        )
        lost = False
        while self.pid == pid:
            try:
                with client.pubsub() as channel:
                    channel.subscribe(CHANNEL)
                    while self.pid == pid:
                        # Wakes every few seconds, so the connection is
                        # pinged (health_check_interval) even when quiet.
                        message = channel.get_message(timeout=5)
                        if message is None:
                            continue
                        if message["type"] == "subscribe":
                            self._set_live(True)
                            lost = False
                        elif message["type"] == "message":
                            self.apply(message["data"].decode())
            except Exception as exc:  # noqa: BLE001 - whatever broke, stop trusting copies
                # One line per outage, no traceback: Redis going away is an
                # event, not a bug.
                if not lost:
                    log.warning(
                        "page cache: invalidation channel lost (%s); local copies off",
                        type(exc).__name__,
                    )
                lost = True
            self._set_live(False)
            time.sleep(1)


# --- the middleware -------------------------------------------------------------


class PageCache:
    """WSGI middleware in front of the Flask app (see the module text)."""

    def __init__(self, app: Flask, wsgi_app) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.local = LocalPages(app)
        self._script = None
        self._store_script = None

    def __call__(self, environ: dict, start_response):
        request_part = self._request_part(environ)
        if request_part is None:
            return self.wsgi_app(environ, start_response)
        count_cacheable_request(self.app, environ, request_part)  # a hit never reaches Flask
        found = self.local.get(request_part)
        if found is not None:
            return _answer(environ, start_response, *found)
        host = request_part.split("|", 1)[0]
        known = self.local.hosts.get(host)
        stamp = self.local.stamp(known)  # before Redis or the app read anything
        try:
            redis = self._redis()
            epoch, shop, version, entry = self._lookup(redis, host, request_part)
        except Exception as exc:  # noqa: BLE001 - no cache is better than no page
            if not isinstance(exc, RedisUnavailable):  # else the breaker said it, once
                log.warning("page cache: Redis unavailable; answering without it")
            return self.wsgi_app(environ, start_response)
        if shop is not None:
            shop = shop.decode()
            self.local.learn_host(host, shop)
        if shop != known:
            stamp = None
        if entry is not None:
            status, headers, body = _decode(entry)
            self.local.put(request_part, shop, stamp, status, headers, body)
            return _answer(environ, start_response, status, headers, body)
        captured: dict[str, Any] = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            if exc_info is None and _storable(environ, headers):
                return start_response(status, [*headers, ("X-Cache", "miss")], exc_info)
            return start_response(status, headers, exc_info)

        answer = self.wsgi_app(environ, capture)
        if not _storable(environ, captured.get("headers", [])):
            return answer
        marked = environ[_ENVIRON_FLAG]
        try:
            body = b"".join(answer)
        finally:
            if hasattr(answer, "close"):
                answer.close()
        status, headers = captured["status"], list(captured["headers"])
        if shop == marked:
            self.local.put(request_part, shop, stamp, status, headers, body)
        self._store(redis, marked, host, request_part, status, headers, body, epoch, shop, version)
        return [body]

    def _request_part(self, environ: dict) -> str | None:
        """The request's share of the key, or ``None`` when it may not be cached."""
        if not self.app.config.get("PAGE_CACHE_SECONDS"):
            return None
        return request_part(environ, self.app.config["LANGUAGES"])

    def _redis(self):
        from app.core.redisconn import get_redis

        return get_redis(self.app)

    def _lookup(self, redis, host: str, request_part: str):
        if self._script is None:
            self._script = redis.register_script(_LOOKUP)
            self._store_script = redis.register_script(_STORE)
        return self._script(keys=[EPOCH_KEY, _HOST + host], args=[request_part], client=redis)

    def _store(
        self,
        redis,
        marked: str,
        host: str,
        request_part: str,
        status: str,
        headers: list,
        body: bytes,
        epoch: bytes,
        shop: str | None,
        version: bytes | None,
    ) -> None:
        """Keep the answer in Redis under the versions read before it was
        made, within the shop's ``SHOP_BYTES_PER_WINDOW``. The first answer
        for a host only records which shop it is: without the shop, no
        version was read, so the answer cannot be kept."""
        ttl = int(self.app.config["PAGE_CACHE_SECONDS"])
        keys, entry = [_HOST + host], b""
        if shop == marked and version is not None and len(body) <= MAX_STORED_BODY:
            entry = _encode(status, headers, body)
            keys += [_BUDGET + shop, page_key(shop, version.decode(), epoch.decode(), request_part)]
        try:
            self._store_script(
                keys=keys, args=[marked, ttl, entry, SHOP_BYTES_PER_WINDOW], client=redis
            )
        except Exception:  # noqa: BLE001
            log.warning("page cache: could not store an answer")


def _answer(environ: dict, start_response, status: str, headers: list, body: bytes):
    start_response(status, [*headers, ("X-Cache", "hit")])
    return [body] if environ.get("REQUEST_METHOD") != "HEAD" else [b""]


def _storable(environ: dict, headers: list[tuple[str, str]]) -> bool:
    """The app flagged the answer, and it sets no cookie."""
    return bool(environ.get(_ENVIRON_FLAG)) and not any(
        k.lower() == "set-cookie" for k, _ in headers
    )


def _encode(status: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    return json.dumps([status, headers], ensure_ascii=False).encode() + b"\n" + body


def _decode(entry: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    head, body = entry.split(b"\n", 1)
    status, headers = json.loads(head)
    return status, [(k, v) for k, v in headers], body


# --- the app's side -------------------------------------------------------------


def mark_cacheable(response):
    """``after_request``: flag an answer the middleware may keep. Only the
    public endpoints, a 200 on a shop's host, a visitor not signed in whose
    session stayed empty."""
    from flask_login import current_user

    if (
        request.method == "GET"
        and request.endpoint in CACHEABLE_ENDPOINTS
        and response.status_code == 200
        and getattr(g, "site", None) == "shop"
        and g.shop is not None
        and not response.is_streamed
        and not session.modified
        and not current_user.is_authenticated
    ):
        request.environ[_ENVIRON_FLAG] = str(g.shop.id)
    return response


def install_page_cache(app: Flask) -> None:
    """Put the cache in front of ``app`` and have it hear of host changes."""
    app.after_request(mark_cacheable)
    cache = PageCache(app, app.wsgi_app)
    app.extensions["kameng_page_cache"] = cache
    app.wsgi_app = cache
    resolution_changed.connect(_hosts_changed, sender=app)


def _hosts_changed(sender: Flask, **_) -> None:
    """A host may now be another shop's, or no shop's: no cached page holds."""
    bump([None])


# --- invalidation ---------------------------------------------------------------


def _mark(session: Session, tenant_id: uuid.UUID | None) -> None:
    session.info.setdefault(_MARKS, set()).add(tenant_id)


def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name in WATCHED_TABLES:
        # A bulk statement on the shop row names no shop we can trust: the epoch.
        _mark(state.session, None if name == "tenants" else current_tenant_id())


def _on_flush(session: Session, flush_context, instances) -> None:
    for obj in chain(session.new, session.dirty, session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table in WATCHED_TABLES:
            _mark(session, obj.id if table == "tenants" else getattr(obj, "tenant_id", None))


def _after_commit(session: Session) -> None:
    marks = session.info.pop(_MARKS, None)
    if marks:
        bump(marks)


def _after_rollback(session: Session) -> None:
    session.info.pop(_MARKS, None)


def touch(session: Session, tenant_id: uuid.UUID | None) -> None:
    """Mark a write made around the session (a raw ``COPY``); it counts at commit."""
    _mark(session, tenant_id)


def bump(tenant_ids) -> None:
    """Make every cached answer of these shops (``None``: of every shop)
    stale: in Redis, in this process at once, and in every other process
    through ``CHANNEL``."""
    from app.core.redisconn import get_redis

    names = ["*" if t is None else str(t) for t in tenant_ids]
    cache = current_app.extensions.get("kameng_page_cache") if has_app_context() else None
    if cache is not None:
        for name in names:
            cache.local.apply(name)
    try:
        pipe = get_redis().pipeline(transaction=False)
        for name in names:
            pipe.incr(EPOCH_KEY if name == "*" else f"{_VERSION}{name}")
            pipe.publish(CHANNEL, name)
        pipe.execute()
    except Exception:  # noqa: BLE001 - entries still expire after PAGE_CACHE_SECONDS
        log.warning("page cache: could not publish a change; entries expire by TTL")


def install_invalidation() -> None:
    if not event.contains(Session, "do_orm_execute", _on_execute):
        event.listen(Session, "do_orm_execute", _on_execute)
        event.listen(Session, "before_flush", _on_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
