"""Settings, read from the environment in one place.

Every setting has an embedded default that runs on a fresh machine: SQLite
under ``instance/``, an embedded Redis server (see ``app.core.redisconn``),
``PLATFORM_DOMAIN=localhost`` and development secrets generated into
``instance/``. ``ENV`` is one of ``ENVIRONMENTS`` (anything else, "prod" or
"Production" included, is refused rather than read as "not production"), and
``ENV=production`` refuses those development defaults and every setting that
only makes sense in development (see ``_production_problems``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from app.core.errors import ConfigurationError
from app.core.vendor import SWAGGER_UI_URL

DEV_SECRET_FILE = "secret_key"
DEV_CARD_KEY_FILE = "card_key"
DEV_CARD_HASH_KEY_FILE = "card_hash_key"
ENVIRONMENTS = ("development", "test", "production")


def _bool(value: str | bool | None, default: bool = False) -> bool:
    if isinstance(value, bool):
        return value
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _dev_secret(instance_path: Path, name: str, nbytes: int) -> str:
    """Return a development secret kept in ``instance/``, creating it once."""
    path = instance_path / name
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(nbytes))
        path.chmod(0o600)
    return path.read_text().strip()


def _optional_flag(value) -> bool | None:
    """A yes/no setting that may be left unset (None)."""
    if value is None or isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def load_config(instance_path: str, overrides: dict | None = None, checks=()) -> dict:
    """Build the Flask config dict from the environment plus ``overrides``.

    ``overrides`` (used by tests and scripts) win over the environment.
    ``checks`` are functions ``(cfg, production) -> [problem, ...]`` of the
    domains that own a setting (the payment registry); their problems are
    refused with the rest, in one ``ConfigurationError``.
    Raises ``ConfigurationError`` naming every problem when ``ENV`` is not
    one of ``ENVIRONMENTS``, when the sandbox payment provider is listed
    without ``SANDBOX_PAYMENTS``, or when ``ENV=production`` and a
    development default or development-only setting is still in force.
    """
    env = dict(os.environ)
    overrides = dict(overrides or {})
    inst = Path(instance_path)
    env_name = overrides.get("ENV") or env.get("ENV") or "development"
    if env_name not in ENVIRONMENTS:
        raise ConfigurationError(
            f"ENV={env_name!r} is not one of {', '.join(ENVIRONMENTS)} (spelled exactly)"
        )
    production = env_name == "production"

    def get(name: str, default=None):
        if name in overrides:
            return overrides[name]
        return env.get(name, default)

    secret_key = get("SECRET_KEY")
    card_key = get("CARD_KEY")
    card_hash_key = get("CARD_HASH_KEY")
    # The sandbox provider confirms every payment without money moving: it is
    # on only when asked for by name (scripts/run and the test suite do).
    sandbox = _bool(get("SANDBOX_PAYMENTS"), False)
    cfg: dict = {
        "ENV": env_name,
        "SECRET_KEY": secret_key,
        "CARD_KEY": card_key,
        "CARD_KEYS_OLD": get("CARD_KEYS_OLD", ""),
        "CARD_HASH_KEY": card_hash_key,
        "PASSWORD_HASH_PROFILE": get("PASSWORD_HASH_PROFILE", "default"),
        "CARD_IMPORT_SYNC_LIMIT": int(get("CARD_IMPORT_SYNC_LIMIT", "5000")),
        "UPLOAD_MAX_IMAGE_BYTES": int(get("UPLOAD_MAX_IMAGE_BYTES", str(2 * 1024 * 1024))),
        # The DNS servers that custom-domain verification asks (ip[:port],
        # comma-separated); empty: the system's resolver.
        "DNS_NAMESERVERS": get("DNS_NAMESERVERS", ""),
        "SQLALCHEMY_DATABASE_URI": get("DATABASE_URL") or f"sqlite:///{inst / 'kameng.sqlite3'}",
        "REDIS_URL": get("REDIS_URL") or "",
        # A Redis outage costs a request at most one connect timeout; then the
        # breaker fails fast for REDIS_BREAKER_SECONDS between probes
        # (app/core/redisconn.py). Seconds, decimals allowed (not money).
        "REDIS_CONNECT_TIMEOUT": float(get("REDIS_CONNECT_TIMEOUT", "0.5")),
        "REDIS_SOCKET_TIMEOUT": float(get("REDIS_SOCKET_TIMEOUT", "2")),
        "REDIS_BREAKER_SECONDS": float(get("REDIS_BREAKER_SECONDS", "1")),
        "PLATFORM_DOMAIN": (get("PLATFORM_DOMAIN") or "localhost").lower().strip("."),
        "PLATFORM_NAME": get("PLATFORM_NAME", "Kameng"),
        "SANDBOX_PAYMENTS": sandbox,
        "PAYMENT_PROVIDERS": [
            p.strip()
            for p in (
                get("PAYMENT_PROVIDERS")
                or ("sandbox,wallet,stripe" if sandbox else "wallet,stripe")
            ).split(",")
            if p.strip()
        ],
        # Reverse proxies in front of the app whose X-Forwarded-* headers are
        # believed (Werkzeug's ProxyFix, one hop each); 0 believes none.
        "TRUSTED_PROXIES": int(get("TRUSTED_PROXIES", "0")),
        "PREFERRED_URL_SCHEME": get("URL_SCHEME", "https" if production else "http"),
        "PUBLIC_PORT": get("PUBLIC_PORT", ""),
        "SESSION_COOKIE_SECURE": _bool(get("SESSION_COOKIE_SECURE"), production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "kameng_session",
        # Host-only cookies: a session on one shop's host is never sent to another.
        "SESSION_COOKIE_DOMAIN": False,
        "REMEMBER_COOKIE_SECURE": _bool(get("SESSION_COOKIE_SECURE"), production),
        "WTF_CSRF_ENABLED": _bool(get("WTF_CSRF_ENABLED"), True),
        "WTF_CSRF_TIME_LIMIT": 3600 * 8,
        "RATELIMIT_ENABLED": _bool(get("RATELIMIT_ENABLED"), True),
        "LOGIN_RATE_LIMIT": get("LOGIN_RATE_LIMIT", "10 per minute"),
        # "Forgot password": requests per client address and site, and how
        # long a mailed link works (app/accounts/resets.py).
        "PASSWORD_RESET_RATE_LIMIT": get("PASSWORD_RESET_RATE_LIMIT", "5 per hour"),
        "PASSWORD_RESET_SECONDS": int(get("PASSWORD_RESET_SECONDS", "3600")),
        # Opening shops (platform sign-up and "new shop"), per client address.
        "SHOP_CREATE_RATE_LIMIT": get("SHOP_CREATE_RATE_LIMIT", "5 per hour"),
        # Shops one platform account may own; platform admins are exempt.
        "SHOPS_PER_ACCOUNT": int(get("SHOPS_PER_ACCOUNT", "3")),
        # The plan (its code) of a shop with no subscription; empty: unlimited.
        "BILLING_DEFAULT_PLAN": (get("BILLING_DEFAULT_PLAN") or "").strip() or None,
        # No commission on a new shop's sales for its first days (the launch offer).
        "BILLING_LAUNCH_OFFER_DAYS": int(get("BILLING_LAUNCH_OFFER_DAYS", "30")),
        # Plans sold through Stripe Billing (app/billing/stripe_billing.py):
        # "on" sends operators to Stripe Checkout and the customer portal;
        # "off" (or a Stripe double without Checkout) takes a card on the page.
        "BILLING_CHECKOUT": (get("BILLING_CHECKOUT") or "on").strip().lower() != "off",
        # The signing secret of the /billing/stripe/webhook endpoint (the
        # payments endpoint's STRIPE_WEBHOOK_SECRET when unset).
        "STRIPE_BILLING_WEBHOOK_SECRET": get("STRIPE_BILLING_WEBHOOK_SECRET", ""),
        # Days after a failed payment on which the owners get a reminder.
        "BILLING_REMINDER_DAYS": [
            int(d) for d in (get("BILLING_REMINDER_DAYS") or "0,3,7").split(",") if d.strip()
        ],
        "BABEL_DEFAULT_LOCALE": get("DEFAULT_LOCALE", "zh_CN"),
        "LANGUAGES": ["zh_CN", "en"],
        "TENANT_CACHE_SECONDS": int(get("TENANT_CACHE_SECONDS", "300")),
        # Anonymous storefront answers kept in Redis (app/storefront/pagecache.py);
        # 0 turns the cache off.
        "PAGE_CACHE_SECONDS": int(get("PAGE_CACHE_SECONDS", "30")),
        # No pre-ping: it cost a round trip per request. A connection the
        # server dropped fails one statement, and SQLAlchemy then discards the
        # whole pool (a disconnect invalidates it), so the next request
        # reconnects. The pool holds a connection per gunicorn thread
        # (WEB_THREADS, default 4) plus room for the odd extra one.
        # PostgreSQL's JIT compiles a query whose estimated cost passes
        # jit_above_cost; a correlated count beside each row (stock beside
        # products) passes it while running in ~15 ms, and the compiling
        # took 30-60 ms more (the dashboard's stock lists, scripts/bench
        # console). No query of ours runs long enough to gain from it.
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_size": int(get("DB_POOL_SIZE", "10")),
            "max_overflow": 10,
            "pool_recycle": 1800,
            "connect_args": {"options": "-c jit=off"},
        },
        "MAX_CONTENT_LENGTH": int(get("MAX_CONTENT_LENGTH", str(64 * 1024 * 1024))),
        "API_TITLE": "Kameng API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        # Served by the platform itself (app/core/vendor.py), never a CDN.
        "OPENAPI_SWAGGER_UI_URL": SWAGGER_UI_URL,
        # No MAIL_SERVER: development and tests write each message to a file
        # in MAIL_FOLDER (app/core/mail.py); production refuses to start.
        "MAIL_SERVER": get("MAIL_SERVER", ""),
        "MAIL_FOLDER": get("MAIL_FOLDER") or str(inst / "mail"),
        "MAIL_PORT": int(get("MAIL_PORT", "25")),
        "MAIL_FROM": get("MAIL_FROM", "Kameng <no-reply@localhost>"),
        "MAIL_USERNAME": get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": get("MAIL_PASSWORD", ""),
        "MAIL_STARTTLS": _bool(get("MAIL_STARTTLS"), False),
        "ORDER_HOLD_MINUTES": int(get("ORDER_HOLD_MINUTES", "15")),
        # Nobody holds a shop's stock without paying (app/orders/checkout.py):
        # a new order holds its stock this long until a payment starts; unpaid
        # orders are capped per buyer, email and client address (0: no cap);
        # creating orders is rate-limited per client address and shop.
        "ORDER_INITIAL_HOLD_MINUTES": int(get("ORDER_INITIAL_HOLD_MINUTES", "3")),
        "ORDER_UNPAID_PER_BUYER": int(get("ORDER_UNPAID_PER_BUYER", "3")),
        "ORDER_UNPAID_PER_EMAIL": int(get("ORDER_UNPAID_PER_EMAIL", "3")),
        "ORDER_UNPAID_PER_ADDRESS": int(get("ORDER_UNPAID_PER_ADDRESS", "5")),
        "ORDER_CREATE_RATE_LIMIT": get("ORDER_CREATE_RATE_LIMIT", "10 per minute"),
        # How often the scheduler (``flask cron``) enqueues each periodic job.
        "ORDER_EXPIRY_INTERVAL_SECONDS": int(get("ORDER_EXPIRY_INTERVAL_SECONDS", "30")),
        "ORDER_SWEEP_INTERVAL_SECONDS": int(get("ORDER_SWEEP_INTERVAL_SECONDS", "15")),
        "BILLING_DUNNING_INTERVAL_SECONDS": int(get("BILLING_DUNNING_INTERVAL_SECONDS", "3600")),
        "COMMISSION_SETTLE_INTERVAL_SECONDS": int(get("COMMISSION_SETTLE_INTERVAL_SECONDS", "300")),
        "PLATFORM_COMMISSION_INTERVAL_SECONDS": int(
            get("PLATFORM_COMMISSION_INTERVAL_SECONDS", "60")
        ),
        "BILLING_INVOICE_INTERVAL_SECONDS": int(get("BILLING_INVOICE_INTERVAL_SECONDS", "3600")),
        "HOLD_RELEASE_INTERVAL_SECONDS": int(get("HOLD_RELEASE_INTERVAL_SECONDS", "60")),
        "SUPPLY_SYNC_INTERVAL_SECONDS": int(get("SUPPLY_SYNC_INTERVAL_SECONDS", "300")),
        "SUPPLY_SYNC_MAX_BACKOFF_SECONDS": int(get("SUPPLY_SYNC_MAX_BACKOFF_SECONDS", "21600")),
        "HEARTBEAT_INTERVAL_SECONDS": int(get("HEARTBEAT_INTERVAL_SECONDS", "30")),
        # How long a fulfilment may run before another worker may take the
        # order over (a worker killed mid-delivery holds it this long).
        "ORDER_FULFIL_LEASE_SECONDS": int(get("ORDER_FULFIL_LEASE_SECONDS", "60")),
        # Buying from suppliers: the connect and read timeouts of one request
        # (seconds), how often one source is asked again after an unknown
        # outcome (a timeout, an unreadable answer) and the first pause
        # between those asks (doubling), and how often pending purchases are
        # asked for their status.
        "SUPPLY_CONNECT_TIMEOUT": float(get("SUPPLY_CONNECT_TIMEOUT", "3")),
        # Whether requests to addresses someone typed (a supplier's API, a
        # callback URL) may reach private addresses (``app.core.outbound``):
        # unset, only outside production.
        "OUTBOUND_PRIVATE_ALLOWED": _optional_flag(get("OUTBOUND_PRIVATE_ALLOWED")),
        "SUPPLY_READ_TIMEOUT": float(get("SUPPLY_READ_TIMEOUT", "10")),
        "SUPPLY_RETRIES": int(get("SUPPLY_RETRIES", "3")),
        "SUPPLY_RETRY_BACKOFF": float(get("SUPPLY_RETRY_BACKOFF", "0.5")),
        "SUPPLY_POLL_INTERVAL_SECONDS": int(get("SUPPLY_POLL_INTERVAL_SECONDS", "15")),
        # Requests one supply credential may make to /supply/v1 a minute.
        "SUPPLY_RATE_PER_MINUTE": int(get("SUPPLY_RATE_PER_MINUTE", "600")),
        # How long an order waits on a source that stays silent or pending
        # before it fails with a ticket for the operator (retry, switch
        # source, refund).
        "SUPPLY_GIVE_UP_SECONDS": int(get("SUPPLY_GIVE_UP_SECONDS", "1800")),
        # A refund claimed this long ago and never finished (a crash between the
        # provider's refund and our books) is finished by the periodic job.
        "ORDER_REFUND_RECOVERY_SECONDS": int(get("ORDER_REFUND_RECOVERY_SECONDS", "300")),
        "PLATFORM_FEE_BPS": int(get("PLATFORM_FEE_BPS", "300")),
        # The largest single wallet recharge, in minor units (100 000.00 in a
        # two-decimal currency).
        "WALLET_RECHARGE_MAX": int(get("WALLET_RECHARGE_MAX", "10000000")),
        # /metrics: readable from these networks, or with this bearer token.
        "METRICS_ALLOW": get("METRICS_ALLOW", "127.0.0.0/8,::1/128"),
        "METRICS_TOKEN": get("METRICS_TOKEN", ""),
        "STRIPE_SECRET_KEY": get("STRIPE_SECRET_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": get("STRIPE_WEBHOOK_SECRET", ""),
        # Connect: the account type shops get, and the secret of the endpoint
        # that receives their accounts' events (account.updated).
        "STRIPE_CONNECT_ACCOUNT_TYPE": get("STRIPE_CONNECT_ACCOUNT_TYPE", "express"),
        "STRIPE_CONNECT_WEBHOOK_SECRET": get("STRIPE_CONNECT_WEBHOOK_SECRET", ""),
        "STRIPE_API_BASE": get("STRIPE_API_BASE", ""),
        "STRIPE_PAYMENT_METHODS": [
            m.strip()
            for m in (get("STRIPE_PAYMENT_METHODS") or "card,alipay,wechat_pay").split(",")
            if m.strip()
        ],
    }
    for key, value in overrides.items():
        if key not in {"DATABASE_URL"}:
            cfg[key] = value
    if "DATABASE_URL" in overrides:
        cfg["SQLALCHEMY_DATABASE_URI"] = overrides["DATABASE_URL"]
    if isinstance(cfg["PAYMENT_PROVIDERS"], str):  # an override written as in the environment
        cfg["PAYMENT_PROVIDERS"] = [
            p.strip() for p in cfg["PAYMENT_PROVIDERS"].split(",") if p.strip()
        ]
    if (
        cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
        and "SQLALCHEMY_ENGINE_OPTIONS" not in overrides
    ):
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {}  # SQLite's own pool; one writer at a time anyway

    for key in ("SANDBOX_PAYMENTS", "WTF_CSRF_ENABLED", "RATELIMIT_ENABLED"):
        cfg[key] = _bool(cfg[key], key != "SANDBOX_PAYMENTS")
    cfg["TRUSTED_PROXIES"] = int(cfg["TRUSTED_PROXIES"])
    domain_problems = [problem for check in checks for problem in check(cfg, production)]
    if domain_problems and not production:
        raise ConfigurationError("; ".join(domain_problems))

    if production:
        problems = []
        if not secret_key:
            problems.append("SECRET_KEY must be set")
        if not card_key:
            problems.append("CARD_KEY must be set")
        if not card_hash_key:
            problems.append("CARD_HASH_KEY must be set")
        if cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            problems.append("DATABASE_URL must point at PostgreSQL")
        if not cfg["REDIS_URL"]:
            problems.append("REDIS_URL must be set")
        problems += _production_problems(cfg) + domain_problems
        if problems:
            raise ConfigurationError("ENV=production: " + "; ".join(problems))
    else:
        cfg["SECRET_KEY"] = secret_key or _dev_secret(inst, DEV_SECRET_FILE, 32)
        cfg["CARD_KEY"] = card_key or _dev_secret(inst, DEV_CARD_KEY_FILE, 32)
        cfg["CARD_HASH_KEY"] = card_hash_key or _dev_secret(inst, DEV_CARD_HASH_KEY_FILE, 32)
    return cfg


def _production_problems(cfg: dict) -> list[str]:
    """Settings that weaken a live platform: each is refused by name."""
    problems = []
    if cfg["SANDBOX_PAYMENTS"]:
        problems.append("SANDBOX_PAYMENTS must be off")
    if not cfg["WTF_CSRF_ENABLED"]:
        problems.append("WTF_CSRF_ENABLED must not be false")
    if not cfg["RATELIMIT_ENABLED"]:
        problems.append("RATELIMIT_ENABLED must not be false")
    if cfg["PASSWORD_HASH_PROFILE"] == "fast":
        problems.append("PASSWORD_HASH_PROFILE=fast is for tests only")
    if not cfg["MAIL_SERVER"]:
        # Without it mail would only be written to files: buyers would never
        # get their codes by mail, nor anyone a password-reset link.
        problems.append("MAIL_SERVER must be set (outgoing mail)")
    return problems
