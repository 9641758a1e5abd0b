"""Configuration: embedded defaults in development, refusal in production."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app
from app.core.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]
GOOD_PRODUCTION = {
    "ENV": "production",
    "SECRET_KEY": "a-real-secret-from-the-vault",
    "CARD_KEY": "11" * 32,
    "CARD_HASH_KEY": "22" * 32,
    "DATABASE_URL": "postgresql+psycopg://kameng@db.internal/kameng",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "MAIL_SERVER": "smtp.internal",
    "PAYMENT_PROVIDERS": "wallet,stripe",
    # The suite's own environment opts in to both (tests/conftest.py).
    "PASSWORD_HASH_PROFILE": "default",
    "SANDBOX_PAYMENTS": "off",
}


@pytest.mark.parametrize(
    "missing, message",
    [
        ("SECRET_KEY", "SECRET_KEY must be set"),
        ("CARD_KEY", "CARD_KEY must be set"),
        ("CARD_HASH_KEY", "CARD_HASH_KEY must be set"),
        ("DATABASE_URL", "DATABASE_URL must point at PostgreSQL"),
        ("REDIS_URL", "REDIS_URL must be set"),
        ("MAIL_SERVER", "MAIL_SERVER must be set"),
    ],
)
def test_production_refuses_development_defaults(tmp_path, monkeypatch, missing, message):
    for name in GOOD_PRODUCTION:
        monkeypatch.delenv(name, raising=False)
    config = {k: v for k, v in GOOD_PRODUCTION.items() if k != missing}
    config["INSTANCE_PATH"] = str(tmp_path)
    with pytest.raises(ConfigurationError, match=message):
        create_app(config)
    assert not (tmp_path / "secret_key").exists()


def test_production_refuses_the_sandbox_payment_provider(tmp_path):
    config = {**GOOD_PRODUCTION, "PAYMENT_PROVIDERS": "sandbox,stripe"}
    with pytest.raises(ConfigurationError, match="sandbox"):
        create_app({**config, "INSTANCE_PATH": str(tmp_path)})


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"SANDBOX_PAYMENTS": "on"}, "SANDBOX_PAYMENTS must be off"),
        ({"WTF_CSRF_ENABLED": "false"}, "WTF_CSRF_ENABLED must not be false"),
        ({"WTF_CSRF_ENABLED": False}, "WTF_CSRF_ENABLED must not be false"),
        ({"RATELIMIT_ENABLED": "false"}, "RATELIMIT_ENABLED must not be false"),
        ({"PASSWORD_HASH_PROFILE": "fast"}, "PASSWORD_HASH_PROFILE=fast"),
        (
            {"STRIPE_SECRET_KEY": "sk_live_x", "STRIPE_WEBHOOK_SECRET": ""},
            "STRIPE_WEBHOOK_SECRET must be set",
        ),
    ],
)
def test_production_refuses_development_only_settings(tmp_path, setting, message):
    with pytest.raises(ConfigurationError, match=message):
        create_app({**GOOD_PRODUCTION, **setting, "INSTANCE_PATH": str(tmp_path)})


def test_production_names_every_problem_at_once(tmp_path):
    config = {
        **GOOD_PRODUCTION,
        "SECRET_KEY": "",
        "RATELIMIT_ENABLED": "off",
        "PAYMENT_PROVIDERS": "sandbox,wallet",
    }
    with pytest.raises(ConfigurationError) as refused:
        create_app({**config, "INSTANCE_PATH": str(tmp_path)})
    for part in ("SECRET_KEY must be set", "RATELIMIT_ENABLED", "sandbox payment provider"):
        assert part in str(refused.value)


def test_stripe_without_a_secret_key_needs_no_webhook_secret(tmp_path):
    app = create_app({**GOOD_PRODUCTION, "INSTANCE_PATH": str(tmp_path)})
    assert app.config["STRIPE_WEBHOOK_SECRET"] == ""


@pytest.mark.parametrize("name", ["Production", "prod", "PRODUCTION", "live", "production "])
def test_an_unknown_env_is_refused(tmp_path, name):
    with pytest.raises(ConfigurationError, match="is not one of development, test, production"):
        create_app({**GOOD_PRODUCTION, "ENV": name, "INSTANCE_PATH": str(tmp_path)})
    assert not (tmp_path / "secret_key").exists()


def test_an_unknown_env_in_the_environment_is_refused(tmp_path, monkeypatch):
    from app.config import load_config

    monkeypatch.setenv("ENV", "prod")
    with pytest.raises(ConfigurationError, match="ENV='prod'"):
        load_config(str(tmp_path))


def test_the_sandbox_is_off_by_default(tmp_path, monkeypatch):
    from app.config import load_config

    monkeypatch.delenv("SANDBOX_PAYMENTS", raising=False)
    monkeypatch.delenv("PAYMENT_PROVIDERS", raising=False)
    cfg = load_config(str(tmp_path))
    assert cfg["SANDBOX_PAYMENTS"] is False
    assert "sandbox" not in cfg["PAYMENT_PROVIDERS"]


def test_listing_the_sandbox_without_the_opt_in_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("SANDBOX_PAYMENTS", raising=False)
    monkeypatch.setenv("PAYMENT_PROVIDERS", "sandbox,wallet")
    with pytest.raises(ConfigurationError, match="SANDBOX_PAYMENTS is not on"):
        create_app({"INSTANCE_PATH": str(tmp_path), "RATELIMIT_ENABLED": False})


def test_the_opt_in_lists_the_sandbox_by_default_but_not_over_an_explicit_list(
    tmp_path, monkeypatch
):
    from app.config import load_config

    monkeypatch.setenv("SANDBOX_PAYMENTS", "on")
    monkeypatch.delenv("PAYMENT_PROVIDERS", raising=False)
    assert load_config(str(tmp_path))["PAYMENT_PROVIDERS"] == ["sandbox", "wallet", "stripe"]
    monkeypatch.setenv("PAYMENT_PROVIDERS", "wallet")
    assert load_config(str(tmp_path))["PAYMENT_PROVIDERS"] == ["wallet"]


def test_production_starts_with_real_settings(tmp_path):
    app = create_app({**GOOD_PRODUCTION, "INSTANCE_PATH": str(tmp_path)})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_DOMAIN"] is False
    assert app.config["SECRET_KEY"] == GOOD_PRODUCTION["SECRET_KEY"]


def test_development_generates_its_secrets_once(tmp_path):
    first = create_app({"INSTANCE_PATH": str(tmp_path), "RATELIMIT_ENABLED": False})
    second = create_app({"INSTANCE_PATH": str(tmp_path), "RATELIMIT_ENABLED": False})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_process_exits_with_a_clear_message(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "ENV": "production", "INSTANCE_PATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "tenants", "list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_wallet_recharge_max_is_read_from_the_environment(tmp_path, monkeypatch):
    from app.config import load_config

    monkeypatch.setenv("WALLET_RECHARGE_MAX", "5000")
    assert load_config(str(tmp_path))["WALLET_RECHARGE_MAX"] == 5000
    monkeypatch.delenv("WALLET_RECHARGE_MAX")
    assert load_config(str(tmp_path))["WALLET_RECHARGE_MAX"] == 10_000_000


def test_postgresql_connections_run_without_jit(tmp_path, app_ctx):
    """PostgreSQL compiles a query whose estimated cost is high enough, and
    for ours the compiling took longer than the query (``scripts/bench
    console``): every connection of the app turns JIT off."""
    from sqlalchemy import text

    from app.extensions import db

    production = create_app({**GOOD_PRODUCTION, "INSTANCE_PATH": str(tmp_path)})
    options = production.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["options"]
    assert "-c jit=off" in options
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the suite runs on SQLite here; scripts/test runs it on PostgreSQL")
    assert db.session.execute(text("SHOW jit")).scalar() == "off"
