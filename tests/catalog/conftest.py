"""Fixtures of the catalogue tests, built on the shared factories
(``tests/factories.py``, as fixtures in ``tests/conftest.py``).

- ``api_for(shop, key=shop.key)`` / ``api``: an API client on a shop's host
  sending one key (or none); ``console_api(shop)``: the owner's console
  session with the CSRF header API writes need.
- ``card_shop`` / ``other_card_shop``: shops with an owner and a staff key
  for the card stock tests (import, stock, secrets, CLI); ``card_product``:
  a card product of ``card_shop`` (an ORM row: the products API is tested
  elsewhere).
- ``in_card_shop(shop)``: the shop's context as a context manager.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest

from app.extensions import db
from tests.catalog.support import Api
from tests.factories import PASSWORD, Shop, add_product, end_outer_transaction


@pytest.fixture
def card_shop(make_shop) -> Shop:
    return make_shop("cards", key_role="owner", staff_key=True)


@pytest.fixture
def other_card_shop(make_shop) -> Shop:
    return make_shop("othercards", key_role="owner", staff_key=True)


@pytest.fixture
def card_product(app, card_shop) -> uuid.UUID:
    return add_product(app, card_shop, name="Game card ¥100", cost=9_000)


@pytest.fixture
def api_for(browser_for):
    """api_for(shop, key=shop.key) -> Api on the shop's host (key=None: anonymous)."""
    _unset = object()

    def make(shop: Shop, key=_unset) -> Api:
        return Api(browser_for(shop.host), shop.key if key is _unset else key)

    return make


@pytest.fixture
def api(api_for, shop) -> Api:
    return api_for(shop)


@pytest.fixture
def console_api(browser_for):
    """console_api(shop) -> Api of a browser signed in to the shop's console as
    its owner (a session, no key), sending the CSRF header API writes need."""

    def sign_in(shop: Shop) -> Api:
        browser = browser_for(shop.host)
        response = browser.submit(
            "/console/login", {"email": shop.owner_email, "password": PASSWORD}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        session = Api(browser, None)
        session.headers = {"X-CSRFToken": browser.csrf_token("/console/login")}
        return session

    return sign_in


@pytest.fixture
def in_card_shop(app):
    """in_card_shop(shop): a context manager: app context + the shop's tenant context."""
    from tenants.context import tenant_context

    @contextmanager
    def enter(shop: Shop):
        end_outer_transaction()
        with app.app_context(), tenant_context(shop.tenant_id):
            try:
                yield
            finally:
                db.session.remove()

    return enter


@pytest.fixture
def empty_imports_queue(app):
    """Jobs a test enqueues without a worker do not outlive it."""
    yield
    from app.core.queues import get_queue

    with app.app_context():
        get_queue("imports", app).empty()


@pytest.fixture
def verbose_worker(app, app_config, tmp_path):
    """A real ``flask worker`` process like the shared ``worker`` fixture, but
    logging everything (every SQL statement with its parameters and result
    rows, through a ``sitecustomize`` that opens SQLAlchemy's loggers before
    SQLAlchemy is imported) to a file the test reads: ``(process, log path)``."""
    import os
    import subprocess
    import sys
    import time

    from rq import Worker

    from app.core.redisconn import get_redis
    from tests.conftest import CARD_HASH_KEY, CARD_KEY, ROOT, SECRET

    with app.app_context():
        redis_url = app.config["REDIS_URL"]
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": app_config["DATABASE_URL"],
            "INSTANCE_PATH": app_config["INSTANCE_PATH"],
            "SECRET_KEY": SECRET,
            "CARD_KEY": CARD_KEY,
            "CARD_HASH_KEY": CARD_HASH_KEY,
            "FLASK_DEBUG": "1",
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)  # the embedded server in INSTANCE_PATH
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import logging\n"
        "logging.getLogger('sqlalchemy').setLevel(logging.DEBUG)\n"
        "logging.getLogger('app').setLevel(logging.DEBUG)\n"
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--queues", "imports"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    with app.app_context():
        while not any(w.pid == proc.pid for w in Worker.all(connection=get_redis(app))):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(log_path.read_text(errors="replace"))
            time.sleep(0.1)
    yield proc, log_path
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
