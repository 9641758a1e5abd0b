"""A live server and a real Chromium for the tests in this folder.

``live_server`` serves the session's test ``app`` (same database and Redis
as every other test) over HTTP on a free loopback port, from a background
thread. ``page`` is a fresh Chromium tab with its own cookies for each test.
Chromium resolves ``*.localhost`` to loopback by itself, so a shop is simply
``http://<slug>.localhost:<port>/``: the real host-based routing, CSRF,
cookies and redirects, no stubs.

The browser is Debian's ``chromium`` (``scripts/test`` installs it), driven
by playwright; playwright never downloads its own browsers here.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class LiveServer:
    port: int

    def url(self, path: str = "/", slug: str | None = None) -> str:
        """The platform site's URL, or the shop ``slug``'s, for ``path``."""
        host = f"{slug}.localhost" if slug else "localhost"
        return f"http://{host}:{self.port}{path}"


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(server.server_port)
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import expect, sync_playwright

    # An assertion waits as long as an action does: on a loaded 2-core
    # machine a large upload's answer can take longer than playwright's
    # default 5 seconds (conditions are awaited, never slept on).
    expect.set_options(timeout=TIMEOUT_MS)

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not on PATH: apt-get install chromium (scripts/test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server):
    """A new tab in a fresh browser profile (no cookies), English UI."""
    context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def worker_later(app, app_config):
    """``worker_later()`` starts the real worker at the moment the test
    chooses (say, once a page shows a queued job waiting), where the
    ``worker`` fixture starts it before the test; it is stopped after the
    test. The queues are emptied first, as ``worker`` does."""
    from app.core.queues import QUEUE_NAMES, get_queue
    from tests.conftest import start_worker, stop_worker

    with app.app_context():
        for name in QUEUE_NAMES:
            get_queue(name, app).empty()
    started = []
    yield lambda: started.append(start_worker(app, app_config))
    for proc in started:
        stop_worker(proc)
