"""``scripts/bench import``: the card import against a plain COPY.

Run by ``scripts/bench`` with ``DATABASE_URL`` (a throwaway PostgreSQL) and
``REDIS_URL`` set. Steps:

1. migrate a fresh database, open a shop and a card product;
2. generate N distinct codes (``16-digit number----16-hex password``, UTF-8,
   LF) and time ``imports.import_now`` on them: parse, fingerprint, duplicate
   check against the shop, AES-GCM, binary COPY into ``cards``, stock counter,
   commit: the path the job and the CLI run;
3. read back the very rows that import stored (same columns, ciphertexts
   and fingerprints), encode them as one binary COPY stream beforehand, and
   time sending that stream into a fresh table shaped like ``cards`` (``LIKE
   cards INCLUDING ALL``: the same indexes and unique rule, plus the same two
   foreign keys), with its commit: the server's own ingest rate, with no
   client work at all;
4. repeat from empty tables (``--rounds``; 3, or 2 for a million codes) and
   keep the fastest time of each side: on a shared machine other work only
   adds time, so the best round is the closest to what each side costs;
5. print codes/second for both and the ratio; write JSON (every round, the
   git commit, the machine and its load average) to ``--results``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import struct
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": socket.gethostname(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def generate_codes(n: int) -> bytes:
    """``n`` distinct ``number----password`` lines."""
    salt = secrets.token_hex(4)
    pool = secrets.token_hex(8 * n)
    lines = [f"{salt}{i:012d}----{pool[i * 16 : i * 16 + 16]}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def encode_copy_stream(rows) -> bytes:
    """The complete binary COPY stream of ``rows`` (uuid x4, text x2, bytea x2,
    timestamptz), built before the clock starts: the baseline pays for
    nothing but sending and storing."""
    pg_epoch = datetime(2000, 1, 1, tzinfo=UTC)
    pack_len = struct.Struct("!i").pack
    parts = [b"PGCOPY\n\xff\r\n\x00" + bytes(8)]
    for row in rows:
        parts.append(struct.pack("!h", len(row)))
        for value in row:
            if isinstance(value, uuid.UUID):
                value = value.bytes
            elif isinstance(value, str):
                value = value.encode()
            elif isinstance(value, datetime):
                value = struct.pack("!q", (value - pg_epoch) // timedelta(microseconds=1))
            else:
                value = bytes(value)
            parts.append(pack_len(len(value)))
            parts.append(value)
    parts.append(b"\xff\xff")
    return b"".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 codes instead of 1,000,000")
    parser.add_argument("--codes", type=int, help="how many codes (overrides --quick)")
    parser.add_argument(
        "--rounds", type=int, help="rounds of both measurements (default 3, or 2 without --quick)"
    )
    parser.add_argument("--results", default=str(ROOT / "bench-results"))
    parser.add_argument(
        "--profile", action="store_true", help="profile the first import (needs pyinstrument)"
    )
    args = parser.parse_args()
    n = args.codes or (100_000 if args.quick else 1_000_000)
    rounds = args.rounds or (3 if args.quick or args.codes else 2)

    from flask_migrate import upgrade
    from sqlalchemy import select, text

    from app import create_app
    from app.accounts import services
    from app.catalog import imports
    from app.catalog.models import KIND_CARD, STATUS_ON_SALE, Card, Product
    from app.extensions import db
    from tenants import provisioning
    from tenants.context import tenant_context

    app = create_app(
        {
            "SECRET_KEY": secrets.token_hex(32),
            "CARD_KEY": secrets.token_hex(32),
            "CARD_HASH_KEY": secrets.token_hex(32),
        }
    )
    timings: list[dict] = []
    with app.app_context():
        assert db.engine.dialect.name == "postgresql", "the benchmark runs on PostgreSQL"
        upgrade(directory=str(ROOT / "migrations"))
        server_version = db.session.execute(text("SHOW server_version")).scalar()
        owner = services.create_platform_user("bench@example.com", secrets.token_hex(12))
        tenant = provisioning.create_shop("bench", "Bench", owner)
        tenant_id = tenant.id
        with tenant_context(tenant_id):
            product = Product(kind=KIND_CARD, name="Bench card", price=100, status=STATUS_ON_SALE)
            db.session.add(product)
            db.session.commit()
            product_id = product.id

        def quiet() -> None:
            db.session.commit()
            db.session.execute(text("CHECKPOINT"))
            db.session.commit()

        for number in range(1, rounds + 1):
            # Each round starts from empty tables, so neither side inherits
            # the other's rows, dirty pages or index size.
            db.session.execute(text("DROP TABLE IF EXISTS bench_copy"))
            db.session.execute(text("TRUNCATE cards, card_imports"))
            db.session.execute(text("UPDATE products SET stock_available = 0"))
            quiet()
            print(f"==> round {number}/{rounds}: generating {n:,} codes")
            raw = generate_codes(n)

            print("    import through app.catalog.imports.import_now")
            profiler = None
            if args.profile and number == 1:
                from pyinstrument import Profiler

                profiler = Profiler()
                profiler.start()
            with tenant_context(tenant_id):
                started = time.perf_counter()
                record = imports.import_now(product_id, raw, "bench.txt", "bench")
                import_seconds = time.perf_counter() - started
                if profiler is not None:
                    profiler.stop()
                    print(profiler.output_text(unicode=True, color=False, show_all=False))
                assert record.status == "done", imports.report_of(record)
                assert record.imported == n, imports.report_of(record)
                stock = db.session.scalar(
                    select(Product.stock_available).where(Product.id == product_id)
                )
                assert stock == n, stock
                # The same rows, already encrypted: what a plain COPY would load.
                rows = db.session.execute(
                    select(
                        Card.id,
                        Card.tenant_id,
                        Card.product_id,
                        Card.import_id,
                        Card.status,
                        Card.key_id,
                        Card.secret,
                        Card.fingerprint,
                        Card.created_at,
                    ).where(Card.import_id == record.id)
                ).all()
            del raw
            stream = encode_copy_stream(sorted(tuple(r) for r in rows))
            del rows
            db.session.execute(
                text(
                    "CREATE TABLE bench_copy (LIKE cards INCLUDING ALL);"
                    "ALTER TABLE bench_copy ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id);"
                    "ALTER TABLE bench_copy ADD FOREIGN KEY (product_id) REFERENCES products (id);"
                )
            )
            quiet()
            print("    plain COPY of the same rows into a fresh table shaped like cards")
            conn = db.session.connection().connection.driver_connection
            columns = ", ".join(imports._COPY_COLUMNS)
            started = time.perf_counter()
            with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY bench_copy ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                for at in range(0, len(stream), 1 << 20):
                    copy.write(stream[at : at + (1 << 20)])
            db.session.commit()
            copy_seconds = time.perf_counter() - started
            del stream
            copied = db.session.execute(text("SELECT count(*) FROM bench_copy")).scalar()
            assert copied == n, copied
            timings.append(
                {
                    "import_seconds": round(import_seconds, 3),
                    "copy_seconds": round(copy_seconds, 3),
                    "ratio": round(copy_seconds / import_seconds, 4),
                    "load_average": [round(x, 2) for x in os.getloadavg()],
                }
            )
            print(
                f"    import {import_seconds:.2f} s, COPY {copy_seconds:.2f} s,"
                f" ratio {copy_seconds / import_seconds:.1%}"
            )

    # Best of the rounds for each side: on a shared machine other work only
    # ever adds time, so the fastest run is the closest to the real cost.
    machine = _machine()  # the load average says how busy the machine was
    import_seconds = min(t["import_seconds"] for t in timings)
    copy_seconds = min(t["copy_seconds"] for t in timings)
    import_rate = n / import_seconds
    copy_rate = n / copy_seconds
    ratio = import_rate / copy_rate
    print()
    print(f"codes                {n:>12,}   (best of {rounds} rounds)")
    print(f"import               {import_rate:>12,.0f} codes/s   ({import_seconds:.2f} s)")
    print(f"plain COPY           {copy_rate:>12,.0f} codes/s   ({copy_seconds:.2f} s)")
    print(f"ratio import/COPY    {ratio:>12.1%}   (target 70%)")
    print(f"load average         {machine['load_average']} on {machine['cpus']} CPUs")

    result = {
        "benchmark": "import",
        "codes": n,
        "import_seconds": round(import_seconds, 3),
        "import_codes_per_second": round(import_rate),
        "copy_seconds": round(copy_seconds, 3),
        "copy_codes_per_second": round(copy_rate),
        "ratio": round(ratio, 4),
        "rounds": timings,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--", "app", "scripts")),
        "postgresql": server_version,
        "machine": machine,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"import-{n}-{stamp}-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
