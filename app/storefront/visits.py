"""Storefront visits (访问量): page views per shop per day, counted off the
hot path.

What counts: a ``GET`` of a storefront page (the home page, a product
page, and any page a storefront view counts with :func:`count_page_view`:
category and search pages when they exist). Assets, images, the API and
the console do not count; bots do, as they would in a server log.

Where it is counted: each process keeps a tally (a dict under a lock, one
per app) and adds one per view in about a microsecond, with no I/O:

- :func:`count_cacheable_request` is called by the page cache
  (``app/storefront/pagecache.py``) for every anonymous page it takes, hit
  or not, because a hit never reaches Flask. It knows the host, not yet the
  shop. It marks the request so the view does not count it again; a page
  the cache takes but the app answers with an error (a missing product)
  still counts as a visit of that shop.
- :func:`count_page_view` is called by the storefront's views for every
  other view (signed-in buyers, pages the cache does not keep).

Where it goes: every ``FLUSH_SECONDS`` a background thread of the process
empties the tally into Redis, one pipeline of ``HINCRBY`` on one hash per
shop and day (``kameng:visits:<shop id>:<yyyy-mm-dd>``, a field per kind of
page: ``home``, ``product``, …), each key kept ``KEEP_DAYS``. Hosts are
turned into shops there, through the cached host resolution, and each view
lands on the day of its minute in the shop's time zone (a shop that moves
zone keeps its past days as counted). A process that exits normally
flushes what it holds.

What an outage costs: a flush that cannot reach Redis drops what it took
(at most ``FLUSH_SECONDS`` of views of that process) and logs one line per
outage; a page view never waits on Redis or fails because of it, and never
logs anything.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app, g, request

from app.core.redisconn import get_redis, redis_is_down

log = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
KEEP_DAYS = 40
_KEY = "kameng:visits:"
#: The request was counted by the page cache (the view leaves it alone).
_COUNTED = "kameng.visit_counted"
_TALLY = "kameng_visits"


def visits_key(shop_id: uuid.UUID | str, day: date) -> str:
    """The Redis hash of one shop's views on one day (its fields: page kinds)."""
    return f"{_KEY}{shop_id}:{day.isoformat()}"


class Tally:
    """This process's views since the last flush (one per app).

    ``by_host`` holds the page cache's counts: (host, kind, minute) → views;
    ``by_shop`` the views': (shop id, time zone, kind, minute) → views. A
    minute is ``int(time.time() // 60)``. ``flush_lock`` is held for a whole
    flush, so whoever empties the tally waits for a flush in progress. The
    flushing thread starts with the first view; a child process (after a
    fork) starts from empty with its own thread.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._fresh()
        os.register_at_fork(after_in_child=self._fresh)
        atexit.register(_flush_at_exit, app)

    def _fresh(self) -> None:
        # After a fork only the forking thread exists: locks another thread
        # held would stay locked, and the parent's counts are the parent's.
        self.lock = threading.Lock()
        self.flush_lock = threading.Lock()
        self.by_host: dict[tuple[str, str, int], int] = {}
        self.by_shop: dict[tuple[str, str, str, int], int] = {}
        self.flushing = False
        self.outage = False

    def add_host(self, host: str, kind: str) -> None:
        if not self.flushing:
            self._start_flusher()
        key = (host, kind, int(time.time() // 60))
        with self.lock:
            self.by_host[key] = self.by_host.get(key, 0) + 1

    def add_shop(self, shop_id: str, timezone: str, kind: str) -> None:
        if not self.flushing:
            self._start_flusher()
        key = (shop_id, timezone, kind, int(time.time() // 60))
        with self.lock:
            self.by_shop[key] = self.by_shop.get(key, 0) + 1

    def take(self) -> tuple[dict, dict]:
        """Everything counted so far; the tally starts again from empty."""
        with self.lock:
            taken = self.by_host, self.by_shop
            self.by_host, self.by_shop = {}, {}
        return taken

    def _start_flusher(self) -> None:
        with self.lock:
            if self.flushing:
                return
            self.flushing = True
        threading.Thread(target=self._run, name="visit-flusher", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                flush(self.app)
            except Exception:  # noqa: BLE001 - the thread must outlive any one flush
                log.exception("visits: a flush failed; its counts are lost")


def _flush_at_exit(app: Flask) -> None:
    """A process that exits normally (a gunicorn worker told to stop) keeps
    what it counted since the last flush, if Redis takes it."""
    try:
        flush(app)
    except Exception as exc:  # noqa: BLE001 - the process is going away either way
        log.warning("visits: could not flush at exit (%s)", type(exc).__name__)


def tally_of(app: Flask) -> Tally:
    """The app's tally in this process."""
    tally = app.extensions.get(_TALLY)
    if tally is None:
        tally = app.extensions.setdefault(_TALLY, Tally(app))
    return tally


# --- counting (the hot path: no I/O, no logging) ------------------------------------


def count_cacheable_request(app: Flask, environ: dict, request_part: str) -> None:
    """Count an anonymous ``GET`` the page cache takes, if it is a storefront
    page (the cache's own API answers are not). ``request_part`` is the
    cache's key part: ``host|port|scheme|path?query|language``."""
    if environ.get("REQUEST_METHOD") != "GET":
        return
    host, _port, _scheme, page, _language = request_part.split("|", 4)
    if page.startswith("/?"):
        kind = "home"
    elif page.startswith("/p/"):
        kind = "product"
    elif page.startswith("/c/"):
        kind = "category"
    elif page.startswith(("/search?", "/search|")) or page == "/search":
        kind = "search"
    else:
        return
    environ[_COUNTED] = True
    tally_of(app).add_host(host, kind)


def count_page_view(kind: str) -> None:
    """Count the current request as a view of a storefront page of ``kind``
    (``home``, ``product``, ``category``, ``search``): a ``GET`` on a shop's
    host that the page cache did not count already. Call it from the view,
    once the page is found."""
    shop = getattr(g, "shop", None)
    if shop is None or request.method != "GET" or request.environ.get(_COUNTED):
        return
    request.environ[_COUNTED] = True
    tally_of(current_app._get_current_object()).add_shop(str(shop.id), shop.timezone, kind)


# --- flushing (the background thread) -----------------------------------------------


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _day_of(minute: int, timezone: str) -> date:
    return datetime.fromtimestamp(minute * 60, _zone(timezone)).date()


def _shops_of_hosts(hosts: set[str]) -> dict[str, tuple[str, str]]:
    """host → (shop id, time zone) for the hosts that are shops now."""
    from tenants.resolve import resolve_host

    found = {}
    for host in hosts:
        try:
            resolution = resolve_host(host)
        except Exception:  # noqa: BLE001 - a host that no longer resolves counts for nobody
            continue
        if resolution.kind == "shop" and resolution.shop is not None:
            found[host] = (str(resolution.shop.id), resolution.shop.timezone)
    return found


def _by_shop_day(by_host: dict, by_shop: dict) -> dict[tuple[str, date], dict[str, int]]:
    shops = _shops_of_hosts({host for host, _kind, _minute in by_host})
    rows = [
        (*shops[host], kind, minute, n)
        for (host, kind, minute), n in by_host.items()
        if host in shops
    ]
    rows += [(shop, zone, kind, minute, n) for (shop, zone, kind, minute), n in by_shop.items()]
    days: dict[tuple[str, date], dict[str, int]] = {}
    for shop, zone, kind, minute, n in rows:
        kinds = days.setdefault((shop, _day_of(minute, zone)), {})
        kinds[kind] = kinds.get(kind, 0) + n
    return days


def flush(app: Flask) -> int:
    """Move this process's tally for ``app`` into Redis; returns the views
    written. What it takes is written once or, if Redis fails, dropped
    (never retried: a retry after an unknown outcome could count twice).
    Safe to call from any thread, at any time."""
    tally = tally_of(app)
    with tally.flush_lock:
        by_host, by_shop = tally.take()
        if not by_host and not by_shop:
            return 0
        with app.app_context():
            if redis_is_down(app):
                return 0  # the breaker is open: nothing would get through
            days = _by_shop_day(by_host, by_shop)
            if not days:
                return 0
            keep = KEEP_DAYS * 86_400
            try:
                pipe = get_redis(app).pipeline(transaction=False)
                for (shop, day), kinds in days.items():
                    key = visits_key(shop, day)
                    for kind, n in kinds.items():
                        pipe.hincrby(key, kind, n)
                    pipe.expire(key, keep)
                pipe.execute()
            except Exception as exc:  # noqa: BLE001 - views are worth less than pages
                if not tally.outage:
                    log.warning(
                        "visits: Redis unavailable (%s); dropping counts", type(exc).__name__
                    )
                tally.outage = True
                return 0
            if tally.outage:
                log.warning("visits: counting again")
            tally.outage = False
            return sum(n for kinds in days.values() for n in kinds.values())


def discard(app: Flask) -> None:
    """Forget what this process counted and has not flushed (waits for a
    flush in progress)."""
    tally = tally_of(app)
    with tally.flush_lock:
        tally.take()


# --- reading ------------------------------------------------------------------------


def daily_visits(shop_id: uuid.UUID, days: Sequence[date]) -> list[int] | None:
    """The shop's page views on each of ``days`` (its own time zone's days),
    as flushed so far; ``None`` when Redis cannot be asked. One round trip."""
    try:
        pipe = get_redis().pipeline(transaction=False)
        for day in days:
            pipe.hvals(visits_key(shop_id, day))
        answers = pipe.execute()
    except Exception:  # noqa: BLE001 - figures without visits are better than no page
        return None
    return [sum(int(n) for n in values) for values in answers]
