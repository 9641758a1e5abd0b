"""Kameng: one Flask application serving every shop by host name."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from flask import Flask, abort, g, request

from app.config import load_config

ROOT = Path(__file__).resolve().parent.parent

#: Each domain's module that registers its periodic jobs
#: (``app.core.queues.register_periodic``); the scheduler imports them.
JOB_MODULES = (
    "app.agents.jobs",
    "app.billing.jobs",
    "app.catalog.jobs",
    "app.orders.jobs",
    "app.supply.jobs",
)
#: Each domain's module that registers its encrypted columns
#: (``app.core.crypto.register_sealed_column``); imported at app creation so
#: key rotation covers them all.
SECRET_MODULES = ("app.catalog.secrets", "app.orders.secrets", "app.supply.secrets")
#: Each domain's module that adds its figures to ``/metrics``
#: (``app.core.metrics.register_collector``).
METRICS_MODULES = ("app.orders.metrics", "app.payments.metrics")


class KamengFlask(Flask):
    """Flask, remembering which functions are plain (not coroutines):
    ``ensure_sync`` runs for every before- and after-request function of
    every request, and Flask asks ``inspect`` each time (about 30 times a
    request). Remembered by code object, so a closure made per request
    (``after_this_request``) adds nothing: one entry per ``def``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._plain: dict = {}

    def ensure_sync(self, func):
        code = getattr(func, "__code__", None)
        if code is None:
            return super().ensure_sync(func)
        plain = self._plain.get(code)
        if plain is None:
            plain = self._plain[code] = super().ensure_sync(func) is func
        return func if plain else super().ensure_sync(func)


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app. ``overrides`` win over the environment (tests, scripts)."""
    import os

    instance = (overrides or {}).get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH")
    app = KamengFlask(
        __name__, instance_path=str(instance or ROOT / "instance"), static_folder=None
    )
    from app.payments.registry import configuration_problems

    app.config.update(load_config(app.instance_path, overrides, checks=(configuration_problems,)))
    from app.core.requestlog import configure_logging, install_request_ids

    configure_logging(logging.INFO if app.debug else logging.WARNING)
    install_request_ids(app)

    from app.core.themes import init_themes
    from app.extensions import (
        api,
        babel,
        configure_sqlite,
        csrf,
        db,
        limiter,
        login_manager,
    )
    from tenants.guard import install_guard

    init_themes(app)  # first: it replaces the Jinja environment others extend
    install_guard()
    from app.storefront.pagecache import install_invalidation, install_page_cache

    install_invalidation()
    configure_sqlite()
    _import_models()
    for module in SECRET_MODULES:
        importlib.import_module(module)
    app.extensions["kameng_job_modules"] = JOB_MODULES
    from app.core.security import configure_password_hashing

    configure_password_hashing(app.config["PASSWORD_HASH_PROFILE"])
    db.init_app(app)
    app.teardown_appcontext(_end_session)
    _init_migrate(app, db)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    _init_babel(app, babel)
    _init_limiter(app, limiter)

    from tenants.web import install_request_hooks

    install_request_hooks(app)
    from app.core.request_input import install_request_input_check

    # After the shop is known (a refused page is shown in its theme), before
    # anything reads the request's text: the page cache, the API gate, views.
    install_request_input_check(app)
    install_page_cache(app)

    from app.core import health

    app.register_blueprint(health.bp)

    from app.core import vendor

    app.register_blueprint(vendor.bp)

    from app.core.security_headers import install_security_headers

    install_security_headers(app)

    from app.core.metrics import install_metrics

    install_metrics(app)
    for module in METRICS_MODULES:
        importlib.import_module(module)

    from app.accounts.views import bp as accounts_bp
    from app.agents.centre_views import bp as agent_centre_bp
    from app.agents.withdrawals_views import bp as withdrawals_pages_bp
    from app.billing.views import register as register_billing
    from app.console import register_console
    from app.orders.views import bp as orders_pages_bp
    from app.platform.admin_views import bp as platform_admin_bp
    from app.platform.billing_views import bp as platform_billing_bp
    from app.platform.dunning_views import bp as platform_dunning_bp
    from app.platform.plans_views import bp as platform_plans_bp
    from app.platform.views import bp as platform_bp
    from app.storefront.views import bp as storefront_bp
    from app.supply.portal_views import bp as supplier_portal_bp

    app.register_blueprint(platform_bp)
    app.register_blueprint(platform_admin_bp)
    app.register_blueprint(platform_plans_bp)
    app.register_blueprint(platform_dunning_bp)
    app.register_blueprint(platform_billing_bp)
    app.register_blueprint(storefront_bp)
    register_console(app)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(agent_centre_bp)
    app.register_blueprint(orders_pages_bp)
    app.register_blueprint(withdrawals_pages_bp)
    app.register_blueprint(supplier_portal_bp)
    register_billing(app)

    @app.route("/")
    @app.route("/s/<code>")  # a sub-shop's home (分站): app.storefront.views
    def index(code: str | None = None):
        """The one URL both sites share: dispatch on the site of the host."""
        from app.platform.views import landing
        from app.storefront.views import home

        if g.site == "platform":
            return landing() if code is None else abort(404)
        return home(code)

    from app.api import init_api

    init_api(app, api, csrf)

    from app.core.problems import register_error_handlers

    register_error_handlers(app)

    _register_cli(app)

    @app.context_processor
    def _globals():
        from flask_babel import get_locale

        from app.core.links import platform_url, shop_url
        from app.payments.registry import sandbox_on

        return {
            "sandbox_payments": sandbox_on(),
            "get_locale": get_locale,
            "shop": getattr(g, "shop", None),
            "site": getattr(g, "site", None),
            "platform_name": app.config["PLATFORM_NAME"],
            "shop_url": shop_url,
            "platform_url": platform_url,
        }

    @app.after_request
    def _remember_language(response):
        wanted = request.args.get("lang")
        if wanted in app.config["LANGUAGES"] and request.cookies.get("lang") != wanted:
            response.set_cookie("lang", wanted, max_age=365 * 24 * 3600, samesite="Lax")
        return response

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response

    _trust_proxies(app)  # last: outside the page cache, which keys on the host
    return app


def _trust_proxies(app: Flask) -> None:
    """Believe ``TRUSTED_PROXIES`` hops of X-Forwarded-For/-Proto/-Host/-Port
    (Werkzeug's ``ProxyFix``), so the client address the rate limits key on
    and the scheme and host of the links the app builds are the client's,
    not the proxy's. With 0 (the default) those headers are ignored: a
    client talking to the app directly could write any of them."""
    hops = app.config["TRUSTED_PROXIES"]
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=0
        )


def _register_cli(app: Flask) -> None:
    """Every command group. The ``tenants`` group is tenants' own commands
    plus the shop commands that involve accounts (``create``, ``list``,
    ``api-key``), which live with accounts so tenants import no domain."""
    from app.accounts.cli import SHOP_COMMANDS
    from app.billing.cli import billing_cli
    from app.catalog.cli import cards_cli
    from app.cli import admin_cli, cron_command, demo_cli, worker_command
    from app.ledger.cli import ledger_cli
    from tenants.cli import tenants_cli

    for command in SHOP_COMMANDS:
        tenants_cli.add_command(command)
    app.cli.add_command(tenants_cli)
    app.cli.add_command(cards_cli)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(billing_cli)
    app.cli.add_command(admin_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(cron_command)


def _init_migrate(app: Flask, db) -> None:
    """``flask db ...`` (Flask-Migrate). A gunicorn web process never runs
    migrations, and leaving Alembic (with Mako and Pygments) unimported
    there keeps about 11 MB out of every web worker."""
    import sys

    if "gunicorn" in sys.modules:
        return
    from flask_migrate import Migrate

    Migrate(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)


def _import_models() -> None:
    """Every model module, so metadata (and Alembic) sees every table."""
    import app.accounts.models  # noqa: F401
    import app.agents.models  # noqa: F401
    import app.audit.models  # noqa: F401
    import app.billing.models  # noqa: F401
    import app.catalog.models  # noqa: F401
    import app.ledger.models  # noqa: F401
    import app.orders.models  # noqa: F401
    import app.payments.models  # noqa: F401
    import app.pricing.models  # noqa: F401
    import app.supply.models  # noqa: F401
    import tenants.models  # noqa: F401


_LOCALES: dict[str, object] = {}


def _locale(identifier: str):
    """The parsed ``babel.Locale``, once per process: parsing scans Babel's
    locale data folder, which cost more than the rest of a page's i18n."""
    found = _LOCALES.get(identifier)
    if found is None:
        from babel import Locale

        found = _LOCALES.setdefault(identifier, Locale.parse(identifier))
    return found


def _select_locale():
    from flask import current_app

    return _locale(_locale_name(current_app.config))


def _locale_name(config) -> str:
    from app.core.locales import asked_language

    languages = config["LANGUAGES"]
    asked = asked_language(
        languages,
        request.args.get("lang"),
        request.cookies.get("lang"),
        request.headers.get("Accept-Language"),
    )
    if asked is not None:
        return asked
    shop = getattr(g, "shop", None)
    if shop is not None and shop.locale in languages:
        return shop.locale
    return config["BABEL_DEFAULT_LOCALE"]


def _init_babel(app: Flask, babel) -> None:
    from app.core.dates import TIME_FILTERS, shop_timezone, zone_label
    from app.core.locales import install_template_gettext

    babel.init_app(
        app,
        locale_selector=_select_locale,
        timezone_selector=shop_timezone,
        default_translation_directories=str(ROOT / "app" / "translations"),
    )
    app.jinja_env.filters.update(TIME_FILTERS)
    app.jinja_env.globals["zone_label"] = zone_label
    install_template_gettext(app.jinja_env)


def _end_session(exc: BaseException | None) -> None:
    """End the request's database session (before Flask-SQLAlchemy's own
    teardown, which then has nothing left to do). Its rollback on a
    connection the database cut (a restart) fails; the connection is already
    thrown away, so that failure must not replace the request's answer (the
    503 it already has) with a bare 500."""
    from sqlalchemy.exc import DBAPIError

    from app.extensions import db

    try:
        db.session.remove()
    except DBAPIError as err:
        db.session.registry.clear()
        logging.getLogger(__name__).warning(
            "database: a session ended on a lost connection (%s)", type(err.orig).__name__
        )


def _init_limiter(app: Flask, limiter) -> None:
    """Rate limits live in Redis, on the app's pool (short retries, the
    breaker). They fail closed: while Redis is down a limited endpoint
    answers 503 (``app.core.problems``) instead of going unlimited."""
    from app.core.redisconn import make_pool, resolve_redis_url

    storage = "memory://"
    if app.config.get("RATELIMIT_ENABLED", True):
        url = resolve_redis_url(app)
        storage = url
        if url.startswith("unix://"):  # the limits library's name for it
            storage = "redis+unix://" + url[len("unix://") :].split("?", 1)[0]
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", {"connection_pool": make_pool(url, app.config)}
        )
    app.config.setdefault("RATELIMIT_STORAGE_URI", storage)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", False)
    limiter.init_app(app)
