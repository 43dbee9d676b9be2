"""``make bench``: every benchmark, each beside its reference in the same run, and the table of
figures, references, ratios and targets written into docs/benchmarks.md (between the
``make bench`` markers; the rest of that file is written by hand).

    .venv/bin/python bench/run_all.py [--quick] [--only intake router ...] [--no-write]

--quick: shorter runs and the scheduler at 100,000 open items instead of 1,000,000 (whose COPY
set-up alone takes about a minute); the targets are stated for the full run. ``--only year`` (not
in the default set) measures on the year of a province, bench/year.py, generating it first if no
year is kept. Everything runs on
127.0.0.1 and stops by itself; the full run takes about 12 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PYTHON, ROOT, fmt, machine
from year.render import judged_seconds

from shared.clock import SHANGHAI

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- make bench: generated from here -->"
END = "<!-- make bench: generated up to here -->"
NAMES = ("intake", "router", "notifier", "e2e", "scheduler", "scaleout")
# Asked for by name only (``--only year``): the year of a province (bench/year.py) is generated once
# (about half an hour) and kept; its measurements take about half an hour more.
OPTIONAL = ("year",)


def arguments(name: str, quick: bool) -> list[str]:
    if name == "year":
        return ["measure", "--runs", "10" if quick else "50"]
    if not quick:
        return []
    return {
        "intake": ["--seconds", "10", "--open-seconds", "10"],
        "router": ["--requests", "500"],
        "notifier": ["--requests", "500"],
        "e2e": ["--seconds", "20"],
        "scheduler": ["--open", "1000", "100000", "--rounds", "3"],
        "scaleout": ["--seconds", "10", "--requests", "500"],
    }[name]


def e2e_cpu(r: dict) -> str:
    """How busy the machine was during the end to end's load: what the target is up against."""
    cpu = r.get("cpu", {})
    if "machine" not in cpu:
        return "—"
    services = sum(cpu[name] for name in ("intake", "router", "notifier", "web"))
    return (
        f"CPU used: {cpu['machine']:.0f} of {r.get('cores', os.cpu_count()) * cpu['wall']:.0f} core-seconds "
        f"(services {services:.0f}, "
        f"PostgreSQL {cpu['postgres']:.0f}, broker {cpu['broker']:.0f})"
        + (f"; after {fmt(r['warmup_seconds'])} s of the same load and ANALYZE" if r.get("warmup_seconds") else "")
    )


def arguments_of(name: str, quick: bool, result: dict) -> list[str]:
    """The arguments a result was measured with: a year kept in --results says its own runs."""
    if name == "year" and "runs" in result:
        return ["measure", "--runs", str(result["runs"])]
    return arguments(name, quick)


def run(name: str, quick: bool, out: Path) -> tuple[dict, str, float]:
    if out.exists():  # --results DIR of an interrupted run: what it measured already stands
        print(f"(bench/{name}.py: kept from {out})", flush=True)
        return json.loads(out.read_text()), report_of(name, json.loads(out.read_text())), None
    started = time.monotonic()
    command = [PYTHON, str(ROOT / "bench" / f"{name}.py"), *arguments(name, quick), "--json", str(out)]
    print(f"$ {' '.join(command[1:])}", flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0 and not out.exists():
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"bench/{name}.py failed")
    report = done.stdout.strip()
    print(report, flush=True)
    return json.loads(out.read_text()), report, time.monotonic() - started


def report_of(name: str, result: dict) -> str:
    """The report ``bench/<name>.py`` prints, made again from its JSON."""
    module = importlib.import_module(name)
    if name == "intake":
        return module.report(result, result.get("seconds", 20), result.get("connections", 32))
    if name == "scheduler":
        rows = [
            f"| {r['open']:,} | {r['median_ms']:.1f} | {r['max_ms']:.1f} | {r['fill_s']:.0f} |"
            for r in result["results"]
        ]
        head = ["| open items (pending timers) | tick median ms | tick max ms | set-up s |", "|---:|---:|---:|---:|"]
        return "\n".join([*head, *rows, "", f"ratio (largest / smallest): {result['ratio']:.2f}"])
    return module.report(result)


def verdict(ok: bool) -> str:
    return "holds" if ok else "**does not hold**"


def summary(results: dict) -> list[str]:
    rows = []
    if r := results.get("intake"):
        o = r["open_intake"]
        rows.append(
            f"| intake `POST /v1/requests` (8-item bundle), wrk -t2 -c32, A B C A B C | {fmt(r['intake_rps'])} req/s "
            f"| the floor: the same body kept by one INSERT over raw asyncpg (bench/floor_app.py): "
            f"{fmt(r['floor_rps'])} req/s | {r['ratio_to_floor']:.1%} | ≥ 40 % of the floor "
            f"| {verdict(r['ratio_to_floor'] >= 0.40)} |"
        )
        rows.append(
            f"| the floor beside a bare FastAPI endpoint | {fmt(r['floor_rps'])} req/s | bare FastAPI: "
            f"{fmt(r['bare_rps'])} req/s | {r['floor_ratio']:.1%} (intake: {r['ratio']:.1%} of bare) | — | — |"
        )
        rows.append(
            f"| intake at half that rate ({fmt(r['open_rate'])} req/s), open loop | p50 {fmt(o['p50_ms'], 1)} ms, "
            f"p99 {fmt(o['p99_ms'], 1)} ms | bare at the same rate: p99 {fmt(r['open_bare']['p99_ms'], 1)} ms | — "
            f"| p99 ≤ 100 ms | {verdict(o['p99_ms'] <= 100 and not o['failures'])} |"
        )
    if r := results.get("router"):
        raw = sum(r["raw_msgs_per_s"]) / len(r["raw_msgs_per_s"])
        clean = r["distinct_items"] == r["items_expected"] and not r["doubled"]
        rows.append(
            f"| router: {r['requests']:,} queued requests → {r['items_expected']:,} items on unit topics "
            f"| {fmt(r['router_items_per_s'])} items/s | raw aiokafka produce, acks=all: {fmt(raw)} msg/s "
            f"| {r['ratio']:.1%} | ≥ 15 %, nothing lost or doubled | {verdict(r['ratio'] >= 0.15 and clean)} |"
        )
    if r := results.get("notifier"):
        clean = r["sla_records"] == r["items_expected"] and not r["records_without_timers"]
        rows.append(
            f"| notifier: {r['items_expected']:,} dispatched items → SLA records and timers "
            f"| {fmt(r['notifier_items_per_s'])} items/s | the router's drain of the same backlog: "
            f"{fmt(r['router_items_per_s'])} items/s | {r['ratio']:.2f}× | ≥ 1× the router's, none missing "
            f"| {verdict(r['ratio'] >= 1 and clean)} |"
        )
    if r := results.get("e2e"):
        refused = r.get("not_accepted", 0)
        clean = not r["lost"] and not r["doubled"] and not refused and not r.get("without_sla_record", 0)
        ok = r["p50_ms"] <= 50 and r["p99_ms"] <= 500 and r.get("sla_p99_ms", 0) <= 1000 and clean
        rows.append(
            f"| the whole system, open loop {fmt(r['rate'])} req/s for {fmt(r['seconds'])} s: submit → item "
            f"on its unit's topic; submit → SLA record "
            f"| p50 {fmt(r['p50_ms'], 1)} ms, p99 {fmt(r['p99_ms'], 1)} ms; SLA record p99 "
            f"{fmt(r.get('sla_p99_ms', float('nan')), 1)} ms; not accepted {refused}, lost {r['lost']}, "
            f"doubled {r['doubled']} "
            f"| {e2e_cpu(r)} | — | p50 ≤ 50 ms, p99 ≤ 500 ms; SLA p99 ≤ 1 s; none lost | {verdict(ok)} |"
        )
    if r := results.get("scheduler"):
        small, large = r["results"][0], r["results"][-1]
        rows.append(
            f"| scheduler tick, {r['due']} due timers, {large['open']:,} open items | {fmt(large['median_ms'], 1)} ms "
            f"| the same tick over {small['open']:,} open items: {fmt(small['median_ms'], 1)} ms | {r['ratio']:.2f}× "
            f"| ≤ 2× | {verdict(r['ratio'] <= 2)} |"
        )
    if r := results.get("year"):
        rows += year_rows(r)
    if r := results.get("scaleout"):
        (i1, i2), (r1, r2) = r["intake"], r["router"]
        doubled = i1["events_doubled"] + i2["events_doubled"] + r1["doubled"] + r2["doubled"]
        gain_i, gain_r = i2["rps"] / i1["rps"] - 1, r2["router_items_per_s"] / r1["router_items_per_s"] - 1
        rows.append(
            f"| scale-out: 2 replicas of intake / of the router | {fmt(i2['rps'])} req/s / "
            f"{fmt(r2['router_items_per_s'])} items/s | 1 replica: {fmt(i1['rps'])} req/s / "
            f"{fmt(r1['router_items_per_s'])} items/s | {gain_i:+.0%} / {gain_r:+.0%} | more, nothing doubled "
            f"| {verdict(gain_i > 0 and gain_r > 0 and not doubled)} |"
        )
    return [
        "| path | xiaoer | reference, same run | ratio | target | |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def year_rows(r: dict) -> list[str]:
    """The year of a province (bench/year.py): each kind of figure against its target, the worst
    of its kind named; the whole table is in the year's own section."""
    t, rows = r["targets"], []
    scale = f"{r['year']['totals']['items']:,} items"
    if lists := r.get("lists"):

        def worst(row):
            return max(row["first"]["year"]["p95_ms"], row.get("deep", {}).get("year", {}).get("p95_ms", 0))

        slow = sorted(lists, key=worst, reverse=True)
        failing = [row for row in lists if worst(row) > t["list_p95_ms"]]
        rows.append(
            f"| year ({scale}): the pages' lists, p95, first and deep page | {len(lists) - len(failing)} of "
            f"{len(lists)} within; slowest {slow[0]['name']}: {fmt(worst(slow[0]))} ms | the same lists on empty "
            f"databases: slowest {fmt(max(row['first']['empty']['p95_ms'] for row in lists))} ms | — "
            f"| ≤ {t['list_p95_ms']} ms each | {verdict(not failing)} |"
        )
    if s := r.get("stats"):
        year, empty = s["year"]["year"], s["empty"]["year"]

        def shown(call: dict) -> str:  # the median of the calls is judged; the first one shown beside it
            if call.get("failed"):
                return f"failed after {fmt(call['seconds'])} s ({call['failed']})"
            first = f" (first call {fmt(call['seconds'], 2)} s)" if "median_s" in call else ""
            return f"{fmt(judged_seconds(call), 2)} s{first}"

        rows.append(
            f"| year: unit statistics, whole year, whole province, every unit in one answer | {shown(year)} | empty: "
            f"{shown(empty)} | — | ≤ {t['stats_s']} s "
            f"| {verdict(not year.get('failed') and judged_seconds(year) <= t['stats_s'])} |"
        )
        if "board_page" in s["year"]:  # as the board asks it: a page of 100 units, 合计 of all
            page, empty_page = s["year"]["board_page"], s["empty"]["board_page"]
            ok = not page.get("failed") and page.get("status") == 200 and judged_seconds(page) <= t["stats_s"]
            rows.append(
                f"| year: the same as the board asks it (the first 100 units by 收件数, 合计 of all) "
                f"| {shown(page)} | empty: {shown(empty_page)} | — "
                f"| ≤ {t['stats_s']} s | {verdict(ok)} |"
            )
        # The board's trend is one call (GET /v1/stats/trend); eight weekly calls were its way before.
        call, empty_call = s["year"]["trend_call"], s["empty"]["trend_call"]
        trend = call["seconds"] * 1000
        rows.append(
            f"| year: the 8-week trend, one call as the board makes it | {fmt(trend)} ms | empty: "
            f"{fmt(empty_call['seconds'] * 1000)} ms; the same as 8 weekly calls: "
            f"{fmt(s['year']['trend_seconds'] * 1000)} ms | — | ≤ {t['trend_ms']} ms "
            f"| {verdict(not call.get('failed') and trend <= t['trend_ms'])} |"
        )
    if e := r.get("export"):
        for kind in ("csv", "xlsx"):
            x = e[kind]["year"]
            rate = e["rows_expected"] / x["seconds"]
            ok = x["ttfb_s"] <= t["export_ttfb_s"] and rate >= t["export_rows_per_s"]
            ok = ok and x["rss_growth_mb"] <= t["export_rss_mb"]
            rows.append(
                f"| year: ledger export, {e['rows_expected']:,} rows, {kind.upper()} | first byte "
                f"{fmt(x['ttfb_s'], 2)} s, {fmt(rate)} rows/s, RSS +{fmt(x['rss_growth_mb'])} MB | empty: first byte "
                f"{fmt(e[kind]['empty']['ttfb_s'], 2)} s | — | ≤ {t['export_ttfb_s']} s, ≥ {t['export_rows_per_s']:,} "
                f"rows/s, ≤ {t['export_rss_mb']} MB | {verdict(ok)} |"
            )
    if pages := r.get("pages"):
        slow = max(pages, key=lambda p: p["year"]["p95_ms"])
        failing = [p for p in pages if p["year"]["p95_ms"] > t["page_p95_ms"] or p["year"]["status"] != 200]
        rows.append(
            f"| year: board and queue pages, p95 | {len(pages) - len(failing)} of {len(pages)} within; slowest "
            f"{slow['name']}: {fmt(slow['year']['p95_ms'])} ms | empty: {fmt(slow['empty']['p95_ms'])} ms | — "
            f"| ≤ {t['page_p95_ms']} ms | {verdict(not failing)} |"
        )
    if sc := r.get("scheduler"):
        rows.append(
            f"| year: scheduler tick, {sc['due']} due, {sc['year']['open']:,} open items | "
            f"{fmt(sc['year']['median_ms'], 1)} ms | {sc['reference']['open']:,} open items: "
            f"{fmt(sc['reference']['median_ms'], 1)} ms | {sc['ratio']:.2f}× | ≤ {t['scheduler_ratio']}× "
            f"| {verdict(sc['ratio'] <= t['scheduler_ratio'])} |"
        )
    if m := r.get("migrations"):
        done = [f"{s} {x['revision']} {fmt(x['upgrade_s'], 1)} s" for s, x in m.items() if "upgrade_s" in x]
        rewrites = [w["table"] for x in m.values() for w in x.get("rewritten_up", [])]
        rows.append(
            f"| year: newest migrations, up on a copy of the year | {'; '.join(done) or '—'} | — | — "
            f"| recorded{'; rewrites ' + ', '.join(rewrites) if rewrites else ', no table rewritten'} | — |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter runs, scheduler at 100,000 open items")
    parser.add_argument("--only", nargs="+", choices=NAMES + OPTIONAL, default=list(NAMES))
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--results", type=Path, help="keep the JSON here; figures already there are not measured again")
    args = parser.parse_args()
    scratch = args.results or Path(tempfile.mkdtemp(prefix="xiaoer-bench-results-"))
    scratch.mkdir(parents=True, exist_ok=True)
    results, reports, took = {}, {}, {}
    for name in args.only:
        results[name], reports[name], took[name] = run(name, args.quick, scratch / f"{name}.json")
    now = datetime.now(SHANGHAI)
    lines = [
        BEGIN,
        "",
        f"Run of {now:%Y-%m-%d %H:%M} (Asia/Shanghai): `make bench`"
        + (" (`--quick`)" if args.quick else "")
        + f" on {machine()}, PostgreSQL from XIAOER_BENCH_POSTGRES_URL, the embedded broker (Tansu).",
        "",
        *summary(results),
    ]
    for name in args.only:
        lines += ["", f"### `bench/{name}.py` {' '.join(arguments_of(name, args.quick, results[name]))}".rstrip(), ""]
        spent = f"{fmt(took[name])} s" if took[name] is not None else "kept from the same --results directory"
        lines += [reports[name], "", f"({spent})"]
    lines += ["", END]
    block = "\n".join(lines)
    print("\n" + block)
    if not args.no_write:
        text = DOC.read_text()
        if BEGIN in text and END in text:
            text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
        else:
            text = text.rstrip() + "\n\n## Latest `make bench`\n\n" + block + "\n"
        DOC.write_text(text)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
