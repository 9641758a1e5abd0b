"""Host name → shop.

``<slug>.<PLATFORM_DOMAIN>`` or a verified custom domain is a shop; the apex
and ``www.`` are the platform site; anything else is unknown. Resolution is
cached per process (per app); every change to a shop or a domain stores a new,
random generation token in Redis (``invalidate_resolution``), and a process
that sees a different token drops its cache, so all web processes agree
within one request. A token is never reused (a counter would be, after a
Redis restart or flush, and a cache filled before it would be trusted
again). Without Redis the cache is bypassed, never trusted stale.

Whatever else was derived from a host (the storefront's page cache) learns
of a change through ``resolution_changed``: tenants owns the signal and
knows nobody who listens to it.

A new shop changes one host only, from unknown to a shop: ``invalidate_host``
drops that host's answer and no other. A cached "unknown" answer is kept with
the host's own token (``HOST_KEY``) read before the look-up, and trusted only
while that token is unchanged; that costs one Redis read per hit on an
unknown host, and nothing on a shop's host.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass

from blinker import Namespace
from flask import current_app
from sqlalchemy import select

from app.core.errors import BadHost
from app.core.themes import is_hex_color, stored_settings
from app.extensions import db
from tenants.context import all_tenants
from tenants.models import TENANT_SUSPENDED, CustomDomain, Tenant

log = logging.getLogger(__name__)

_signals = Namespace()
#: Sent by :func:`invalidate_resolution` after a shop or domain changed, with
#: the Flask app as sender: a host may now be another shop's, or no shop's.
#: Subscribe with ``resolution_changed.connect(receiver, sender=app)``.
resolution_changed = _signals.signal("kameng.tenants.resolution-changed")

GENERATION_KEY = "kameng:tenants:generation"
HOST_KEY = "kameng:tenants:host:"
_UNTRUSTED = object()  # a host token Redis could not give: equal to nothing
MAX_HOST_HEADER = 300
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_PORT = re.compile(r"^[0-9]{1,5}$")


@dataclass(frozen=True)
class ShopSnapshot:
    """What a request needs to know of its shop; safe to cache and share."""

    id: uuid.UUID
    slug: str
    name: str
    status: str
    theme: str
    locale: str
    currency: str
    timezone: str = "UTC"
    #: always ``#rrggbb`` (safe to write into a style sheet)
    brand_color: str = "#e4572e"
    announcement: str = ""
    logo_file: str | None = None
    banner_file: str | None = None
    #: the settings stored for the shop's current theme, as sorted
    #: ``(name, value)`` pairs; read them through ``app.core.themes``
    #: (``theme_setting``: manifest defaults fill what is missing)
    theme_settings: tuple = ()
    #: the storefront is paused for an unpaid plan (``app.billing.pause``)
    billing_paused: bool = False

    @property
    def is_suspended(self) -> bool:
        return self.status == TENANT_SUSPENDED

    @classmethod
    def of(cls, t: Tenant) -> ShopSnapshot:
        return cls(
            t.id,
            t.slug,
            t.name,
            t.status,
            t.theme,
            t.locale,
            t.currency,
            t.timezone,
            t.brand_color if is_hex_color(t.brand_color) else ShopSnapshot.brand_color,
            t.announcement or "",
            t.logo_file,
            t.banner_file,
            tuple(sorted(stored_settings(t.theme_settings, t.theme).items())),
            bool(t.billing_paused),
        )


@dataclass(frozen=True)
class Resolution:
    kind: str  # "platform" | "shop" | "unknown"
    host: str
    shop: ShopSnapshot | None = None


def normalize_host(raw: str | None) -> str:
    """Return the lower-case ASCII host name of a Host header, without port.

    Raises ``BadHost`` for an empty, over-long or malformed header. Unicode
    (IDN) names are converted to their punycode form; a trailing dot is
    dropped.
    """
    if not raw or len(raw) > MAX_HOST_HEADER:
        raise BadHost("The Host header is missing or too long.")
    value = raw.strip()
    if value.startswith("["):  # IPv6 literal, never a shop
        end = value.find("]")
        if end == -1:
            raise BadHost()
        host, rest = value[1:end], value[end + 1 :]
        if rest and not (rest.startswith(":") and _PORT.match(rest[1:])):
            raise BadHost()
        return "[" + host.lower() + "]"
    host, sep, port = value.rpartition(":")
    if not sep:
        host = value
    elif not _PORT.match(port) or int(port) > 65535:
        raise BadHost("The port in the Host header is not a number.")
    host = host.rstrip(".").lower()
    if not host:
        raise BadHost()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise BadHost("The host name is not a valid international domain name.") from exc
    if len(host) > 253:
        raise BadHost("The host name is longer than 253 characters.")
    for label in host.split("."):
        if not _LABEL.match(label):
            raise BadHost("The host name has an invalid label.")
    return host


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        #: host -> (answer, expiry, the host's token when an unknown host was looked up)
        self.entries: dict[str, tuple[Resolution, float, object]] = {}
        self.generation: bytes | None = None


def _cache() -> _Cache:
    """The current app's host cache (per app, so two apps in one process,
    as in tests, behave like two processes)."""
    extensions = current_app.extensions
    cache = extensions.get("kameng_host_cache")
    if cache is None:
        cache = extensions.setdefault("kameng_host_cache", _Cache())
    return cache


def _new_token() -> str:
    return secrets.token_hex(16)


def _generation() -> bytes | None:
    """The current generation token; ``None`` when Redis cannot be asked."""
    from app.core.redisconn import RedisUnavailable, get_redis

    try:
        r = get_redis()
        token = r.get(GENERATION_KEY)
        if token is None:  # first use, or Redis lost its data: start a new generation
            r.set(GENERATION_KEY, _new_token(), nx=True)
            token = r.get(GENERATION_KEY)
        return token
    except Exception as exc:  # noqa: BLE001 - any Redis failure means "do not trust the cache"
        if not isinstance(exc, RedisUnavailable):  # else the breaker said it, once
            log.warning("tenant cache: Redis unavailable, resolving from the database")
        return None


def invalidate_resolution() -> None:
    """Tell every process that a shop or domain changed. Call after commit."""
    from app.core.redisconn import get_redis

    cache = _cache()
    with cache.lock:
        cache.entries.clear()
    try:
        get_redis().set(GENERATION_KEY, _new_token())
    except Exception:  # noqa: BLE001
        log.warning("tenant cache: could not publish invalidation; caches expire by TTL")
    resolution_changed.send(current_app._get_current_object())


def invalidate_host(host: str) -> None:
    """Tell every process that ``host`` alone changed from no shop to a shop
    (a shop opened under a new name). Every other host's cached answer, and
    everything derived from hosts (``resolution_changed`` is not sent: no
    page was cached for a host that answered no shop), stays. Call after
    commit."""
    from app.core.redisconn import get_redis

    cache = _cache()
    with cache.lock:
        cache.entries.pop(host, None)
    # Outlives every answer cached before it (those live TENANT_CACHE_SECONDS).
    keep = current_app.config["TENANT_CACHE_SECONDS"] + 60
    try:
        get_redis().set(HOST_KEY + host, _new_token(), ex=keep)
    except Exception:  # noqa: BLE001
        log.warning("tenant cache: could not publish a new host; caches expire by TTL")


def _host_token(host: str) -> object:
    from app.core.redisconn import get_redis

    try:
        return get_redis().get(HOST_KEY + host)
    except Exception:  # noqa: BLE001 - any Redis failure means "do not trust the cache"
        return _UNTRUSTED


def _same_token(host: str, kept: object) -> bool:
    """Whether ``host`` has not changed since its answer was kept with ``kept``."""
    return kept is not _UNTRUSTED and _host_token(host) == kept


def _lookup(host: str) -> Resolution:
    domain = current_app.config["PLATFORM_DOMAIN"]
    if host in (domain, "www." + domain):
        return Resolution("platform", host)
    with all_tenants():
        if host.endswith("." + domain):
            slug = host[: -len(domain) - 1]
            if "." in slug:
                return Resolution("unknown", host)
            tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
        else:
            tenant = db.session.scalar(
                select(Tenant)
                .join(CustomDomain, CustomDomain.tenant_id == Tenant.id)
                .where(CustomDomain.host == host, CustomDomain.verified_at.is_not(None))
            )
        if tenant is None:
            return Resolution("unknown", host)
        return Resolution("shop", host, ShopSnapshot.of(tenant))


def resolve_host(raw_host: str | None) -> Resolution:
    """Resolve a raw Host header. Raises ``BadHost``; never touches the request."""
    host = normalize_host(raw_host)
    generation = _generation()
    now = time.monotonic()
    cache = _cache()
    if generation is not None:
        with cache.lock:
            if generation != cache.generation:
                cache.entries.clear()
                cache.generation = generation
            hit = cache.entries.get(host)
        if hit and hit[1] > now and (hit[0].kind != "unknown" or _same_token(host, hit[2])):
            return hit[0]
        # Read before the look-up: a shop opened after it changes the token.
        token = _host_token(host)
    result = _lookup(host)
    if generation is not None:
        ttl = current_app.config["TENANT_CACHE_SECONDS"]
        with cache.lock:
            if cache.generation == generation:
                if len(cache.entries) > 50_000:
                    cache.entries.clear()
                cache.entries[host] = (result, now + ttl, token)
    return result
