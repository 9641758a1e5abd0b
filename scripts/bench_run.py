"""``scripts/bench [SCENARIO ...] [--quick]``: run the chosen scenarios (all of
them by default) and print one table where each figure stands beside a
ceiling measured in the same run, as a ratio, with the target it is held to.

Started by ``scripts/bench``, which provides a throwaway PostgreSQL and Redis
(``--pg-port``, ``--redis-port``) and a work folder. Each scenario lives in
``scripts/bench_<name>.py`` and has ``run(ctx) -> Outcome``. The whole run
goes to one JSON file in ``bench-results/`` with the git commit and machine;
``--markdown`` also prints the table as Markdown for the README.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import (
    ROOT,
    Context,
    Outcome,
    Row,
    machine,
    markdown_table,
    print_table,
    write_json,
)  # noqa: E402

#: name -> (module, what it measures); run in this order.
SCENARIOS = {
    "storefront": (
        "bench_storefront",
        "product page and product list vs the same SQL and template (uncached) and bare Flask",
    ),
    "checkout": ("bench_checkout", "wallet purchases end to end vs a raw psycopg transaction"),
    "fulfilment": ("bench_fulfilment", "paid -> delivered through RQ vs an empty RQ job"),
    "docking": ("bench_docking", "card purchases docked from another shop vs from own stock"),
    "import": ("bench_import", "codes/s through the import path vs plain COPY of the same rows"),
    "tenants": ("bench_tenants", "storefront with 10,000 shops vs 1 shop"),
    "console": ("bench_console", "each console page of a busy shop, one operator at a time"),
    "memory": ("bench_memory", "peak RSS per web worker and per RQ worker"),
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=", ".join(SCENARIOS))
    parser.add_argument(
        "--quick", action="store_true", help="short runs (the whole set in minutes)"
    )
    parser.add_argument("--codes", type=int, help="import/checkout: how many codes")
    parser.add_argument(
        "--agents",
        action="store_true",
        default=None,
        help="checkout: the buyers are agents in three-level chains with tier prices",
    )
    parser.add_argument("--rounds", type=int, help="import: rounds (best one kept)")
    parser.add_argument("--seconds", type=float, help="wrk runs: seconds per measurement")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument("--pg-port", type=int, required=True)
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--results", default=str(ROOT / "bench-results"))
    args = parser.parse_args()

    chosen = args.scenarios or list(SCENARIOS)
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    ctx = Context(
        quick=args.quick,
        pg_port=args.pg_port,
        redis_port=args.redis_port,
        work=Path(args.work),
        results=Path(args.results),
        options={k: v for k, v in vars(args).items() if v is not None},
    )
    rows: list[Row] = []
    data: dict = {}
    ok = True
    started = time.monotonic()
    for name in [n for n in SCENARIOS if n in chosen]:
        module_name, what = SCENARIOS[name]
        print(f"\n=== {name}: {what}{' (quick)' if ctx.quick else ''}", flush=True)
        began = time.monotonic()
        try:
            module = importlib.import_module(module_name)
            outcome: Outcome = module.run(ctx)
        except Exception as exc:  # noqa: BLE001 - one scenario's failure is reported, the rest run
            traceback.print_exc()
            outcome = Outcome(
                rows=[Row(name, "failed", f"{type(exc).__name__}: {exc}"[:90], "", None, "")],
                data={"error": f"{type(exc).__name__}: {exc}"},
                ok=False,
            )
        outcome.data["seconds"] = round(time.monotonic() - began, 1)
        ctx.options.setdefault("outcomes", {})[name] = outcome
        rows.extend(outcome.rows)
        data[name] = outcome.data
        ok = ok and outcome.ok
        print(f"--- {name} done in {outcome.data['seconds']:.0f} s", flush=True)

    print()
    print_table(rows)
    mach = machine()
    print(
        f"\nmachine: {mach['cpus']} x {mach['cpu']}, {mach['memory']}, load {mach['load_average']}"
    )
    print(f"total: {time.monotonic() - started:.0f} s")
    if args.markdown:
        print()
        print(markdown_table(rows))
    path = write_json(
        ctx.results,
        "bench" + ("-quick" if ctx.quick else ""),
        {
            "quick": ctx.quick,
            "scenarios": chosen,
            "table": [row.__dict__ for row in rows],
            "markdown": markdown_table(rows),
            "data": data,
        },
    )
    print(f"results: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
