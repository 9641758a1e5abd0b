"""Fixtures on real services.

``scripts/test`` starts PostgreSQL and Redis and passes ``DATABASE_URL`` and
``REDIS_URL``; run bare (``pytest``), the suite uses the embedded defaults:
a SQLite file and the embedded Redis server, both in a temporary folder.
The schema is built by the Alembic migrations (so they are tested too);
after each test every table is emptied and our Redis keys are deleted.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.extensions import db
from tests import factories
from tests.factories import PASSWORD, Shop, end_outer_transaction  # noqa: F401 (re-exported)

ROOT = Path(__file__).resolve().parent.parent
# Every app the suite builds (and its worker processes) hashes passwords with
# argon2id's cheap test parameters; see app.core.security.
os.environ.setdefault("PASSWORD_HASH_PROFILE", "fast")
# The suite pays with the sandbox provider, which is off unless asked for; the
# environment carries the opt-in to the worker processes too.
os.environ.setdefault("SANDBOX_PAYMENTS", "on")
SECRET = "test-secret-key-not-for-production"
CARD_KEY = "00" * 32
CARD_HASH_KEY = "ab" * 32


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    # Unix socket paths are short-limited: keep the folder name small.
    path = Path(tmp_path_factory.mktemp("inst"))
    return path


@pytest.fixture(scope="session")
def app_config(instance_dir) -> dict:
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance_dir),
        "DATABASE_URL": os.environ.get("DATABASE_URL")
        or f"sqlite:///{instance_dir / 'test.sqlite3'}",
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "SECRET_KEY": SECRET,
        "CARD_KEY": CARD_KEY,
        "CARD_HASH_KEY": CARD_HASH_KEY,
        "PASSWORD_HASH_PROFILE": "fast",
        "SANDBOX_PAYMENTS": True,
        "PLATFORM_DOMAIN": "localhost",
        "SERVER_NAME": None,
    }


@pytest.fixture(scope="session")
def embedded_redis(app_config):
    """Without ``REDIS_URL`` the suite owns an embedded Redis in its instance
    folder, as the run command does for the platform (an app process never
    starts one itself)."""
    from app.core.redisconn import start_embedded_redis, stop_embedded_redis

    started = not app_config["REDIS_URL"] and start_embedded_redis(app_config["INSTANCE_PATH"])
    yield
    if started:
        stop_embedded_redis(app_config["INSTANCE_PATH"])


@pytest.fixture(scope="session")
def app(app_config, embedded_redis):
    app = create_app(app_config)
    with app.app_context():
        _fresh_schema(app)
    app.extensions["kameng_test_limiter"] = _limiter_state()
    yield app
    with app.app_context():
        db.engine.dispose()


def _fresh_schema(app) -> None:
    from flask_migrate import upgrade

    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(directory=str(ROOT / "migrations"))


def _empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":
        # The page-view flusher (app.storefront.visits, a thread of this
        # process) may be writing when a test ends; PostgreSQL then picks
        # one of the two as a deadlock's victim. When it is the TRUNCATE,
        # the flusher's transaction has ended by the time it runs again.
        for attempt in range(3):
            try:
                with db.engine.begin() as conn:
                    conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
                return
            except OperationalError as exc:
                if "deadlock detected" not in str(exc) or attempt == 2:
                    raise
                time.sleep(0.2)
    with db.engine.begin() as conn:
        # Self-references (categories) and row order make per-row checks
        # fail mid-way; checked once at commit, the empty tables pass.
        conn.execute(text("PRAGMA defer_foreign_keys=ON"))
        # A category's parent is RESTRICT, which SQLite checks at once
        # even with deferred keys: cut the tree first.
        conn.execute(text("UPDATE categories SET parent_id = NULL"))
        for name in tables:
            conn.execute(text(f"DELETE FROM {name}"))


def _limiter_state() -> tuple:
    """The rate limiter's storage as the session's app set it. The limiter is
    one object per process (its decorators are module-level), so a test that
    builds another app re-points it; ``_clean`` points it back before each
    test that uses the session's app."""
    from app.extensions import limiter

    return limiter._storage, limiter._limiter, dict(limiter._storage_options)


@pytest.fixture(autouse=True)
def _clean(request):
    if "app" in request.fixturenames:
        from app.extensions import limiter

        state = request.getfixturevalue("app").extensions["kameng_test_limiter"]
        limiter._storage, limiter._limiter, limiter._storage_options = state
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        _empty_tables()
        from app.core.redisconn import get_redis

        r = get_redis(app)
        keys = list(r.scan_iter("kameng:*")) + list(r.scan_iter("LIMITS*"))
        if keys:
            r.delete(*keys)
        # The shops were deleted behind the caches' backs, and the next test
        # may open one under the same name: forget every cached host and page
        # (opening a shop no longer flushes them).
        from tenants.resolve import invalidate_resolution

        invalidate_resolution()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app
        db.session.remove()


# --- clients bound to a host ---------------------------------------------


class HostClient(factories.HttpVerbs):
    """A Flask test client whose requests go to one host name.

    Cookies are kept per host by the underlying client, as a browser does.
    """

    def __init__(self, app, host: str, client=None) -> None:
        self.app = app
        self.host = host
        self.client = client or app.test_client()

    def open(self, method: str, path: str, **kwargs):
        end_outer_transaction()
        kwargs.setdefault("base_url", f"http://{self.host}")
        return self.client.open(path, method=method, **kwargs)

    def csrf_token(self, page: str) -> str:
        """Fetch ``page`` and return the CSRF token of its first form."""
        html = self.get(page).get_data(as_text=True)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', html
        )
        assert match, f"no CSRF token on {page}"
        return match.group(1)

    def submit(self, page: str, data: dict, action: str | None = None, **kw):
        """Post a form the way a browser does: token from the page first."""
        data = {"csrf_token": self.csrf_token(page), **data}
        return self.post(action or page, data=data, **kw)

    def on(self, host: str) -> HostClient:
        """The same browser (cookie jar), another host."""
        return HostClient(self.app, host, self.client)


@pytest.fixture
def platform(app) -> HostClient:
    return HostClient(app, "localhost")


@pytest.fixture
def browser_for(app):
    def make(host: str) -> HostClient:
        return HostClient(app, host)

    return make


# --- factories (tests/factories.py) as fixtures --------------------------


@pytest.fixture
def make_shop(app):
    """make_shop(slug, name=None, *, owner_email=None, currency=None,
    stripe_account=None, key_role=None, staff_key=False) -> Shop."""
    return functools.partial(factories.open_shop, app)


@pytest.fixture
def make_account(app):
    """make_account(shop, email, role='customer') -> ShopAccount (detached, loaded)."""
    return functools.partial(factories.add_account, app)


@pytest.fixture
def make_api_key(app):
    """make_api_key(shop, role='owner', name='test key', made_by=None) -> plaintext key."""
    return functools.partial(factories.add_api_key, app)


@pytest.fixture
def make_member(app):
    """make_member(shop, email, role='staff') -> Member (ids and email)."""
    return functools.partial(factories.add_member, app)


@pytest.fixture
def make_product(app):
    """make_product(shop, *, name, price, kind, stock, ...) -> product id."""
    return functools.partial(factories.add_product, app)


@pytest.fixture
def in_shop(app):
    """in_shop(shop, fn, *args, **kw): ``fn``'s result, run in the shop's context."""
    return functools.partial(factories.run_in_shop, app)


@pytest.fixture
def shop(make_shop) -> Shop:
    """The shop ``alpha`` with an owner API key."""
    return make_shop("alpha", key_role="owner")


@pytest.fixture
def shops(make_shop) -> dict[str, Shop]:
    """The shops ``alpha`` and ``bravo``, each with an owner API key."""
    return {slug: make_shop(slug, key_role="owner") for slug in ("alpha", "bravo")}


@pytest.fixture
def two_shops(make_shop, make_account):
    """The shops ``alpha`` and ``bravo`` as dicts: its ``Shop`` (also as
    ``tenant``), owner email, owner ``key``, a ``buyer`` and an ``agent``."""
    made = {slug: make_shop(slug, key_role="owner") for slug in ("alpha", "bravo")}
    return {
        slug: {
            "shop": shop,
            "tenant": shop,
            "owner_email": shop.owner_email,
            "key": shop.key,
            "buyer": make_account(shop, f"buyer@{slug}.example.com"),
            "agent": make_account(shop, f"agent@{slug}.example.com", "agent"),
        }
        for slug, shop in made.items()
    }


# --- a real RQ worker ----------------------------------------------------


def start_worker(app, app_config) -> subprocess.Popen:
    """Start a real ``flask worker --cron`` process (its own process group,
    so a kill reaches its scheduler child too) and wait until it registers."""
    from rq import Worker

    from app.core.redisconn import get_redis

    with app.app_context():
        redis_url = app.config["REDIS_URL"] or get_redis(app).connection_pool.connection_kwargs
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": app_config["DATABASE_URL"],
            "INSTANCE_PATH": app_config["INSTANCE_PATH"],
            "SECRET_KEY": SECRET,
            "CARD_KEY": CARD_KEY,
            "CARD_HASH_KEY": CARD_HASH_KEY,
        }
    )
    if isinstance(redis_url, str) and redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)  # the embedded server in INSTANCE_PATH
    # The worker's log goes to a file: a pipe nobody reads fills up after
    # 64 KiB of log lines (failed jobs log tracebacks) and then blocks the
    # worker in the middle of a job.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--cron"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    with app.app_context():
        while time.monotonic() < deadline:
            if any(w.pid == proc.pid for w in Worker.all(connection=get_redis(app))):
                return proc
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(log.read().decode(errors="replace"))
            time.sleep(0.1)
    stop_worker(proc, signal.SIGKILL)
    raise RuntimeError("worker did not register in 30 s")


def stop_worker(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal the worker's whole process group and reap it."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)
    if sig != signal.SIGKILL:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the scheduler child, if it lingers
        except ProcessLookupError:
            pass


@pytest.fixture
def worker(app, app_config):
    """A real ``flask worker`` process on the test database and Redis.

    The queues are emptied first: jobs an earlier test left behind (a
    stampede's thousand delivery mails) must not run in this test's worker."""
    from app.core.queues import QUEUE_NAMES, get_queue

    with app.app_context():
        for name in QUEUE_NAMES:
            get_queue(name, app).empty()
    proc = start_worker(app, app_config)
    yield proc
    stop_worker(proc)
