"""A gunicorn web process carries only what serving requests needs."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_a_web_process_does_not_load_the_migration_tools(tmp_path):
    code = (
        "import sys, gunicorn\n"
        "from app import create_app\n"
        "app = create_app()\n"
        "assert 'alembic' not in sys.modules, 'alembic imported'\n"
        "assert 'migrate' not in app.extensions\n"
    )
    # A Redis URL of its own, so the app starts no embedded Redis that would
    # outlive the test (nothing here talks to Redis).
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:9/0"
    env = {"INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin", "REDIS_URL": redis_url}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_command_line_keeps_the_migrations(app):
    assert "migrate" in app.extensions
