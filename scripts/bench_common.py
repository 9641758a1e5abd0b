"""What every ``scripts/bench`` scenario shares.

``scripts/bench`` (the shell entry) starts one throwaway PostgreSQL and one
Redis and runs ``scripts/bench_run.py``, which calls each chosen scenario's
``run(ctx)`` with a :class:`Context`. A scenario makes its own database
(``ctx.new_database``), starts the servers it needs with the production
settings (:func:`app_env`, :func:`gunicorn`, :func:`rq_worker`), measures its
figure and a ceiling in the same run, and returns a :class:`Outcome`: rows for
the table and the raw data for the JSON file.

Load comes from ``wrk`` (Debian's package), never from a loop written here,
wherever the traffic is plain requests; :func:`wrk` runs it and parses its
``--latency`` report. (``bench_console`` measures no load: it times one
operator's requests one at a time, page by page, with ``requests``.)
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent

#: The production web settings (``scripts/gunicorn.conf.py`` reads the same
#: environment variables): the bench runs what the README tells operators to run.
GUNICORN_CONF = ROOT / "scripts" / "gunicorn.conf.py"


# --- results ------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table: a figure beside its ceiling from the same run."""

    scenario: str
    figure: str  # what is measured, e.g. "product page"
    value: str  # e.g. "812 req/s, p99 61 ms"
    ceiling: str  # e.g. "bare Flask 1,402 req/s"
    ratio: float | None  # figure / ceiling (None when the figure has no ceiling)
    target: str  # e.g. ">= 60 %"
    met: bool | None = None


@dataclass
class Outcome:
    rows: list[Row]
    data: dict = field(default_factory=dict)
    ok: bool = True  # False when a correctness check failed (oversold, errors)


@dataclass
class Context:
    quick: bool
    pg_port: int
    redis_port: int
    work: Path
    results: Path
    options: dict = field(default_factory=dict)
    _databases: int = 0

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres"

    def dsn(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/{name}"

    def sqlalchemy_url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.pg_port}/{name}"

    def redis_url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/{db}"

    def new_database(self, name: str) -> str:
        """Create an empty database ``name`` (dropped first if it exists) and
        return its SQLAlchemy URL. Not migrated: see :func:`migrate`."""
        import psycopg

        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.sqlalchemy_url(name)

    def flush_redis(self, db: int = 0) -> None:
        import redis

        redis.Redis.from_url(self.redis_url(db)).flushdb()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    at = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[at]


def git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine() -> dict:
    def first(path: str, prefix: str) -> str:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return ""

    return {
        "host": socket.gethostname(),
        "cpu": first("/proc/cpuinfo", "model name"),
        "cpus": os.cpu_count(),
        "memory": first("/proc/meminfo", "MemTotal"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


# --- the app under production settings ---------------------------------------


def app_env(ctx: Context, database_url: str, **extra: str) -> dict:
    """The environment a web or worker process of the benchmark runs with.

    ``ENV=production`` with real secrets, PostgreSQL and Redis, so the app
    takes its production code paths. One setting differs, for a reason
    that does not touch what is timed: ``SESSION_COOKIE_SECURE=false``
    (the bench speaks plain HTTP on loopback, and a secure cookie would not
    come back). Passwords are hashed as in production (production refuses
    the tests' fast profile); sign-ins happen during set-up, which is not
    timed. Mail goes to a local sink when a scenario
    starts one (``MAIL_SERVER``, ``MAIL_PORT``), else to a closed port on
    loopback.
    """
    env = dict(os.environ)
    env.update(
        {
            "ENV": "production",
            "DATABASE_URL": database_url,
            "REDIS_URL": ctx.redis_url(0),
            "SECRET_KEY": ctx.options.setdefault("secret_key", secrets.token_hex(32)),
            "CARD_KEY": ctx.options.setdefault("card_key", secrets.token_hex(32)),
            "CARD_HASH_KEY": ctx.options.setdefault("card_hash_key", secrets.token_hex(32)),
            "SESSION_COOKIE_SECURE": "false",
            "PAYMENT_PROVIDERS": "wallet",
            "PLATFORM_DOMAIN": "bench.localhost",
            # The benchmark's buyers all come from 127.0.0.1, where real ones
            # would come from 32 addresses: the per-address limits and the
            # cap of unpaid orders per address are lifted (the per-buyer
            # cap stays).
            "LOGIN_RATE_LIMIT": "1000000 per minute",
            "ORDER_CREATE_RATE_LIMIT": "1000000 per minute",
            "ORDER_UNPAID_PER_ADDRESS": "0",
            # Production needs a mail server; a scenario with a sink names its own.
            "MAIL_SERVER": "127.0.0.1",
            "INSTANCE_PATH": str(ctx.work / "instance"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(extra)
    return env


@contextmanager
def app_in(env: dict):
    """A Flask app built from ``env`` (for seeding and checks in this process)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        from app import create_app

        yield create_app()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def migrate(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))


@contextmanager
def migrated_app(env: dict):
    """:func:`app_in` on a database brought to the newest migration."""
    with app_in(env) as app:
        migrate(app)
        yield app


def open_shop(slug: str, name: str = "Bench", owner_email: str | None = None):
    """A new shop with its own owner, through ``app.accounts.shops.open_shop``;
    call inside an app context. Returns the ``Tenant``."""
    from app.accounts import shops
    from app.accounts.services import create_platform_user

    owner = create_platform_user(
        owner_email or f"owner@{slug}.bench.example.com", secrets.token_hex(12)
    )
    return shops.open_shop(slug, name, owner)


def add_card_product(codes: int, *, price: int, name: str = "Bench card"):
    """An on-sale card product of the current shop with ``codes`` generated
    codes, stocked through the real import (``imports.import_now``); call
    inside ``tenant_context``. Returns the product id."""
    from app.catalog import imports
    from app.catalog.models import KIND_CARD, STATUS_ON_SALE, Product
    from app.extensions import db

    product = Product(kind=KIND_CARD, name=name, price=price, status=STATUS_ON_SALE)
    db.session.add(product)
    db.session.commit()
    product_id = product.id
    salt = secrets.token_hex(4)
    raw = "\n".join(f"{salt}{i:012d}----{secrets.token_hex(8)}" for i in range(codes))
    record = imports.import_now(product_id, raw.encode(), "bench.txt", "bench")
    assert record.imported == codes, imports.report_of(record)
    return product_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A started process (gunicorn or an RQ worker) with its log file."""

    def __init__(self, name: str, proc: subprocess.Popen, log: Path) -> None:
        self.name, self.proc, self.log = name, proc, log

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def gunicorn(
    env: dict,
    work: Path,
    *,
    app: str = "wsgi:app",
    name: str = "gunicorn",
    port: int = 0,
    pythonpath: Path | None = None,
):
    """gunicorn with the production settings (``scripts/gunicorn.conf.py``)
    on a free loopback port; yields ``(server, base_url)`` once ``/healthz``
    (or, for another app, ``/``) answers. ``pythonpath``: a folder to import
    ``app`` from besides ROOT (``scripts/`` for ``bench_bare:app``)."""
    port = port or free_port()
    log = work / f"{name}-{port}.log"
    extra = ["--pythonpath", str(pythonpath)] if pythonpath else []
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "--config",
            str(GUNICORN_CONF),
            *extra,
            "--bind",
            f"127.0.0.1:{port}",
            app,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),  # noqa: SIM115 - closed with the process
    )
    server = Server(name, proc, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz" if app == "wsgi:app" else f"{base}/", server)
        yield server, base
    finally:
        server.stop()


@contextmanager
def rq_worker(env: dict, work: Path, *, name: str = "worker", queues: str | None = None):
    """One ``flask --app wsgi worker`` (the production worker)."""
    log = work / f"{name}.log"
    args = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"]
    if queues:
        args += ["--queues", queues]
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),  # noqa: SIM115
    )
    server = Server(name, proc, log)
    try:
        yield server
    finally:
        server.stop()


def wait_http(url: str, server: Server, timeout: float = 60) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.check_alive()
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status < 500:
                    return
        except urllib.error.HTTPError as err:
            if err.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer {url} within {timeout:.0f} s")


# --- mail -----------------------------------------------------------------------


class SmtpSink:
    """What :func:`smtp_sink` received: ``port`` to send to, ``messages`` taken."""

    def __init__(self) -> None:
        self.port = 0
        self.messages = 0


async def _smtp_session(reader, writer, sink: SmtpSink) -> None:
    writer.write(b"220 bench sink ESMTP\r\n")
    try:
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"DATA":
                writer.write(b"354 end with <CRLF>.<CRLF>\r\n")
                await writer.drain()
                while (body := await reader.readline()) and body != b".\r\n":
                    pass
                sink.messages += 1
                writer.write(b"250 accepted\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                return
            else:  # EHLO, HELO, MAIL, RCPT, RSET, NOOP
                writer.write(b"250 ok\r\n")
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@contextmanager
def smtp_sink():
    """A local SMTP server (standard library only, in a thread of this
    process) that accepts every message and keeps none, so the ``mail``
    queue's jobs really send (connect, EHLO, MAIL, RCPT, DATA, QUIT) without
    an outside server. Yields a :class:`SmtpSink`; pass its port as
    ``MAIL_SERVER=127.0.0.1 MAIL_PORT=<port>`` through :func:`app_env`."""
    import asyncio
    import threading

    sink = SmtpSink()
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        asyncio.start_server(lambda r, w: _smtp_session(r, w, sink), "127.0.0.1", 0)
    )
    sink.port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, name="smtp-sink", daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        server.close()
        loop.close()


# --- memory -------------------------------------------------------------------


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _status_mb(pid: int, field: str) -> float:
    """A memory field of ``/proc/<pid>/status`` in MiB; 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    """The process's resident set now (VmRSS), in MiB."""
    return _status_mb(pid, "VmRSS")


def web_worker_peaks(server: Server) -> list[float]:
    """Peak RSS of each gunicorn worker (the arbiter's children)."""
    return [peak_rss_mb(p) for p in children(server.pid)]


# --- load generation ----------------------------------------------------------


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed: apt-get install wrk (scripts/bench does it)")
    return found


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(
    url: str,
    *,
    host: str | None = None,
    connections: int = 32,
    seconds: float = 10,
    threads: int = 2,
    script: Path | None = None,
    headers: dict | None = None,
    script_args: list[str] | None = None,
) -> dict:
    """Run wrk against ``url`` and return requests/s, latency percentiles (ms),
    request and error counts. Non-2xx/3xx answers count as errors."""
    args = [
        wrk_binary(),
        "--latency",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "10s",
    ]
    if host:
        args += ["-H", f"Host: {host}"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    if script:
        args += ["-s", str(script)]
    args.append(url)
    if script_args:
        args += ["--", *script_args]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


def parse_wrk(out: str) -> dict:
    result: dict = {"raw": out}
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    result["rps"] = float(rps.group(1)) if rps else 0.0
    total = re.search(r"([0-9]+) requests in ([0-9.]+\w+)", out)
    result["requests"] = int(total.group(1)) if total else 0
    for pct in ("50", "75", "90", "99"):
        found = re.search(rf"^\s+{pct}(?:\.000)?%\s+([0-9.]+\w+)", out, re.MULTILINE)
        result[f"p{pct}_ms"] = _ms(found.group(1)) if found else float("nan")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+([0-9]+)", out)
    socket_errors = re.search(
        r"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)", out
    )
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    result["errors"] = errors
    return result


# --- output -------------------------------------------------------------------


def fmt_rate(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"


def print_table(rows: list[Row]) -> None:
    headers = ("scenario", "figure", "measured", "ceiling (same run)", "ratio", "target", "")
    cells = [
        (
            r.scenario,
            r.figure,
            r.value,
            r.ceiling,
            "" if r.ratio is None else f"{r.ratio:.1%}",
            r.target,
            "" if r.met is None else ("met" if r.met else "NOT MET"),
        )
        for r in rows
    ]
    widths = [
        max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))


def markdown_table(rows: list[Row]) -> str:
    out = [
        "| scenario | figure | measured | ceiling (same run) | ratio | target |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.1%}"
        mark = "" if r.met is None else (" ✓" if r.met else " ✗")
        out.append(
            f"| {r.scenario} | {r.figure} | {r.value} | {r.ceiling} | {ratio} | {r.target}{mark} |"
        )
    return "\n".join(out)


def write_json(results: Path, name: str, payload: dict) -> Path:
    from datetime import UTC, datetime

    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = results / f"{name}-{stamp}-{secrets.token_hex(3)}.json"
    payload = {
        **payload,
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--", "app", "tenants", "scripts")),
        "machine": machine(),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path
