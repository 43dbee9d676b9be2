"""A year of a province (issue 28, target 4): generate it once, keep it, measure on it.

    .venv/bin/python bench/year.py generate [--requests 450000] [--history-days 30] [--jobs 2]
    .venv/bin/python bench/year.py status
    .venv/bin/python bench/year.py measure [--runs 50] [--json out.json]
    .venv/bin/python bench/year.py --drop

``generate`` creates three databases from XIAOER_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test), runs the services' migrations, and fills them with a
year of Guangdong's enterprise requests (bench/year/generate.py says what the year holds, and why
450,000 requests rather than the issue's million on this machine's disk). They are
kept: their names are in var/bench-year.json, and every later ``measure`` (and ``make bench``'s
``year``) reuses them. ``--drop`` drops them and forgets them. ``measure`` without a year
generates one first. bench/year/measure.py says what is measured and against what.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from year import loader


def drop() -> None:
    state = loader.read_state()
    if state is None:
        print("no year kept (var/bench-year.json is missing)")
        return
    for name in state["databases"].values():
        asyncio.run(loader.drop_database(name))
        print(f"dropped {name}")
    loader.STATE.unlink()


def status() -> None:
    state = loader.read_state()
    if state is None:
        print("no year kept: .venv/bin/python bench/year.py generate")
        return
    from year import render as report

    print(report.generation(state))


def generate(args) -> dict:
    from year import generate as generator
    from year import render as report

    existing = loader.read_state()
    if existing is not None:
        if existing.get("complete") and not args.again:
            print("a year is kept already (bench/year.py status; --again to make a new one)")
            return existing
        drop()
    state = asyncio.run(generator.generate(args.requests, args.jobs, args.history_days, args.seed))
    print(report.generation(state))
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drop", action="store_true", help="drop the kept year's databases")
    sub = parser.add_subparsers(dest="command")
    g = sub.add_parser("generate", help="generate the year (once; --again to replace it)")
    g.add_argument("--requests", type=int, default=450_000, help="the issue's year: 1000000 (26 GB without history)")
    g.add_argument("--jobs", type=int, default=2, help="worker processes making days")
    g.add_argument("--history-days", type=int, default=30, help="keep the moves of the items of the last N days")
    g.add_argument("--seed", type=int, default=2026)
    g.add_argument("--again", action="store_true")
    sub.add_parser("status", help="what the kept year holds, its size and how long it took")
    m = sub.add_parser("measure", help="measure the pages' APIs on the year beside an empty database")
    m.add_argument("--runs", type=int, default=50, help="calls per endpoint and database for each p95")
    m.add_argument("--skip", nargs="*", default=[], help="parts to leave out (lists stats export pages scheduler "
                   "migrations)")  # fmt: skip
    m.add_argument("--json", type=Path, help="write the figures here as JSON too")
    m.add_argument("--plans", type=Path, help="directory for the EXPLAIN plans (default var/bench-year-plans)")
    args = parser.parse_args()
    if getattr(args, "json", None) and args.json.resolve() == loader.STATE.resolve():
        parser.error(f"--json {args.json} is where the kept year is described: name another file")
    if args.drop:
        drop()
    elif args.command == "generate":
        generate(args)
    elif args.command == "status":
        status()
    elif args.command == "measure":
        from year import measure
        from year import render as report

        if loader.read_state() is None or not loader.read_state().get("complete"):
            print("no year kept: generating one first", flush=True)
            generate(argparse.Namespace(requests=450_000, jobs=2, history_days=30, seed=2026, again=True))
        result = asyncio.run(measure.measure(runs=args.runs, skip=set(args.skip), plans_dir=args.plans))
        if args.json:
            args.json.write_text(json.dumps(result, ensure_ascii=False, default=str))
        print(report.report(result))
    elif not args.drop:
        parser.print_help()


if __name__ == "__main__":
    main()
