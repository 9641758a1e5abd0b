"""``scripts/bench import``: the card import against a plain COPY of the same rows.

Measured: codes per second through ``app.catalog.imports.import_now`` (the
path the import job and ``flask cards import`` run: parse, fingerprint,
duplicate check against the shop, AES-GCM, binary COPY into ``cards``, stock
counter, commit) beside codes per second of a plain COPY of the very rows
that import stored. The ratio is import ÷ COPY; the target is 70 %.

How:

1. a fresh database (``ctx.new_database``), migrated, with a shop and a card
   product, built from the production settings (``app_env``);
2. each round starts from empty tables (``cards`` and ``card_imports``
   truncated, the stock counter at 0, a CHECKPOINT), so neither side
   inherits the other's rows, dirty pages or index size;
3. generate N distinct codes (``16-digit number----16-hex password``, UTF-8,
   LF) and time ``import_now`` on them;
4. read back the rows that import stored (same columns, ciphertexts and
   fingerprints), encode them as one binary COPY stream before the clock
   starts, and time sending that stream into a fresh table shaped like
   ``cards`` (``LIKE cards INCLUDING ALL``: the same indexes and unique rule,
   plus the same two foreign keys), with its commit: the server's own
   ingest rate, with no client work at all;
5. keep the fastest round of each side: on a shared machine other work only
   adds time, so the best round is the closest to what each side costs.
   Every round, with the load average at its end, is in the JSON.

N is 100,000 with ``--quick``, else 1,000,000 (``--codes`` overrides);
rounds are 3, or 2 for a full million (``--rounds`` overrides).
"""

from __future__ import annotations

import os
import secrets
import struct
import time
import uuid
from datetime import UTC, datetime, timedelta

from bench_common import Context, Outcome, Row, app_env, fmt_rate, migrated_app, open_shop

TARGET = 0.70


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


def run(ctx: Context) -> Outcome:
    n = int(ctx.options.get("codes") or (100_000 if ctx.quick else 1_000_000))
    rounds = int(ctx.options.get("rounds") or (2 if n >= 1_000_000 else 3))
    url = ctx.new_database("bench_import")

    from sqlalchemy import select, text

    with migrated_app(app_env(ctx, url)) as app:
        from app.catalog import card_copy, imports
        from app.catalog.models import KIND_CARD, STATUS_ON_SALE, Card, Product
        from app.extensions import db
        from tenants.context import tenant_context

        timings: list[dict] = []
        with app.app_context():
            server_version = db.session.execute(text("SHOW server_version")).scalar()
            tenant_id = open_shop("bench").id
            with tenant_context(tenant_id):
                product = Product(
                    kind=KIND_CARD, name="Bench card", price=100, status=STATUS_ON_SALE
                )
                db.session.add(product)
                db.session.commit()
                product_id = product.id

            def quiet() -> None:
                db.session.commit()
                db.session.execute(text("CHECKPOINT"))
                db.session.commit()

            for number in range(1, rounds + 1):
                db.session.execute(text("DROP TABLE IF EXISTS bench_copy"))
                db.session.execute(text("TRUNCATE cards, card_imports"))
                db.session.execute(text("UPDATE products SET stock_available = 0"))
                quiet()
                print(f"==> round {number}/{rounds}: {n:,} codes", flush=True)
                raw = generate_codes(n)
                with tenant_context(tenant_id):
                    started = time.perf_counter()
                    record = imports.import_now(product_id, raw, "bench.txt", "bench")
                    import_seconds = time.perf_counter() - started
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
                        "ALTER TABLE bench_copy ADD FOREIGN KEY (tenant_id)"
                        " REFERENCES tenants (id);"
                        "ALTER TABLE bench_copy ADD FOREIGN KEY (product_id)"
                        " REFERENCES products (id);"
                    )
                )
                quiet()
                conn = db.session.connection().connection.driver_connection
                columns = ", ".join(card_copy.COPY_COLUMNS)
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
                    f"    import {import_seconds:.2f} s ({n / import_seconds:,.0f} codes/s),"
                    f" COPY {copy_seconds:.2f} s ({n / copy_seconds:,.0f} codes/s)",
                    flush=True,
                )
            db.session.execute(text("DROP TABLE IF EXISTS bench_copy"))
            db.session.commit()
            db.session.remove()

    import_seconds = min(t["import_seconds"] for t in timings)
    copy_seconds = min(t["copy_seconds"] for t in timings)
    import_rate, copy_rate = n / import_seconds, n / copy_seconds
    ratio = import_rate / copy_rate
    row = Row(
        "import",
        f"{n:,} codes, best of {rounds}",
        fmt_rate(import_rate, "codes/s"),
        f"plain COPY {fmt_rate(copy_rate, 'codes/s')}",
        ratio,
        f">= {TARGET:.0%}",
        ratio >= TARGET,
    )
    return Outcome(
        [row],
        {
            "codes": n,
            "rounds": timings,
            "import_seconds": import_seconds,
            "import_codes_per_second": round(import_rate),
            "copy_seconds": copy_seconds,
            "copy_codes_per_second": round(copy_rate),
            "ratio": round(ratio, 4),
            "postgresql": server_version,
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
    )
