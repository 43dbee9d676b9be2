"""The year's figures as markdown: how it was generated (``generation``) and what was measured on
it (``report``), each figure beside its reference and its target."""

from __future__ import annotations


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def generation(state: dict) -> str:
    load = state.get("load", {})
    totals = load.get("totals", {})
    timings = state.get("timings", {})
    lines = [
        f"year {state['start'][:10]} → {state['end'][:10]} (databases {', '.join(state['databases'].values())})"
        + ("" if state.get("complete") else " — INCOMPLETE"),
    ]
    if not state.get("complete"):
        return "\n".join(lines)
    size = sum(state["database_bytes"].values())
    lines += [
        f"{totals.get('requests', 0):,} requests, {totals.get('items', 0):,} work items, "
        f"{totals.get('open', 0):,} open at the end ({totals.get('open', 0) / max(totals.get('items', 1), 1):.2%})",
        f"size: {gib(size)} ({', '.join(f'{s} {gib(b)}' for s, b in state['database_bytes'].items())})",
        f"generation: {timings['total_s'] / 60:.1f} min — migrate {timings['migrate_s']:.0f} s, registry "
        f"{timings['registry_s']:.0f} s, days (build + COPY, {len(load.get('per_day_requests', {}))} days) "
        f"{timings['load_s'] / 60:.1f} min, keys and indexes {sum(timings['restore'].values()) / 60:.1f} min "
        f"(3 databases at once), counted for the statistics "
        f"{timings.get('counting_s', 0) / 60:.1f} min, VACUUM ANALYZE {timings['vacuum_s'] / 60:.1f} min; "
        f"load average {_load(state.get('load_average_at_start'))} at the start, "
        f"{_load(state.get('load_average_at_end'))} at the end",
        "",
        "| table | rows | heap | indexes | COPY s (summed over workers) | keys and indexes s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for service, tables in state["sizes"].items():
        for table, s in tables.items():
            key = f"{service}.{table}"
            if s["total"] < 2**20 and key not in load.get("rows", {}):
                continue
            lines.append(
                f"| {key} | {load.get('rows', {}).get(key, s['rows']):,} | {gib(s['heap'])} | {gib(s['indexes'])} "
                f"| {load.get('copy_s', {}).get(key, 0):.0f} | {timings['restore'].get(key, 0):.0f} |"
            )
    lines.append(f"\nbuilding the rows in Python: {load.get('build_s', 0) / 60:.1f} min of worker time")
    return "\n".join(lines)


def _load(values) -> str:
    return ", ".join(f"{v:.1f}" for v in values) if values else "?"


def report(result: dict) -> str:
    return measured(result)


def _ms(value) -> str:
    return "—" if value is None or value != value else f"{value:,.0f} ms"


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("holds" if ok else "**does not hold**")


def _list_row(row: dict, target: float) -> str:
    first, deep = row["first"], row.get("deep", {})
    year, empty = first["year"], first["empty"]
    bad = {s: r["status"] for s, r in first.items() if r.get("status") != 200}
    deep_text = "—"
    if "year" in deep:
        page = row.get("deep_page", {}).get("year")
        deep_text = f"{_ms(deep['year']['p95_ms'])} (page {page})" if page else _ms(deep["year"]["p95_ms"])
    elif row.get("deep_asked"):
        deep_text = "not reached (the list is shorter)"
    worst = max([year["p95_ms"], *([deep["year"]["p95_ms"]] if "year" in deep else [])])
    note = f" (status {bad})" if bad else ""
    calls = f"{year['calls']}" + ("" if year["calls"] >= 20 else " (time budget)")
    return (
        f"| {row['name']}{note} | {_ms(year['p95_ms'])} | {deep_text} | {_ms(empty['p95_ms'])} "
        f"| {worst / empty['p95_ms']:.1f}× | {calls} | ≤ {target} ms | {_verdict(worst <= target and not bad)} |"
    )


def measured(result: dict) -> str:
    t = result["targets"]
    y = result["year"]
    lines = [
        f"Year {y['start'][:10]} → {y['end'][:10]}: {y['totals']['requests']:,} requests, {y['totals']['items']:,} "
        f"work items ({y['totals']['open']:,} open), {gib(y['bytes'])}; history of the last {y['history_days']} days. "
        f"Reference: empty databases of the same schema and registry, same run. {result['machine']}; load average "
        f"{_load(result['load_average_before'])} before, {_load(result.get('load_average_after'))} after.",
        f"Acting as: the busiest unit {result['picks']['unit']} ({result['picks']['unit_items']:,} items), its "
        f"coordinating office {result['picks']['coordinator']}, the province's and {result['picks']['city']}'s "
        f"supervisors, the most active enterprise ({result['picks']['enterprise_requests']:,} requests).",
    ]
    pending = result.get("pending_migrations", {})
    if pending.get("ran"):
        lines.append(f"Migrations added since the year was made ran on it first: {pending['before']} → "
                     f"{pending['after']} in {pending['seconds']:.0f} s.")  # fmt: skip
    if result.get("lists"):
        lines += ["", "| list (p95 of the calls) | year, first page | year, deep page | empty | ratio | calls "
                  "| target | |", "|---|---:|---:|---:|---:|---:|---|---|"]  # fmt: skip
        lines += [_list_row(row, t["list_p95_ms"]) for row in result["lists"]]
    if s := result.get("stats"):
        lines += ["", "| statistics | year | empty | target | |", "|---|---:|---:|---|---|"]
        ys, es = s["year"]["year"], s["empty"]["year"]
        ok = not ys.get("failed") and judged_seconds(ys) <= t["stats_s"]
        lines.append(
            f"| unit statistics, whole year ({s['period'][0]} → {s['period'][1]}), whole province "
            f"| {_calls(ys)} | {_calls(es)} | ≤ {t['stats_s']} s | {_verdict(ok)} |"
        )
        if "board_page" in s["year"]:
            yb, eb = s["year"]["board_page"], s["empty"]["board_page"]
            ok = not yb.get("failed") and yb.get("status") == 200 and judged_seconds(yb) <= t["stats_s"]
            lines.append(
                f"| the same as the board asks it: the first 100 units by 收件数, 合计 of all "
                f"| {_calls(yb)} | {_calls(eb)} | ≤ {t['stats_s']} s | {_verdict(ok)} |"
            )
        yt, et = s["year"], s["empty"]
        trend = yt["trend_seconds"] * 1000
        lines.append(
            f"| 8-week trend as 8 calls of a week each (the board before) | {trend:,.0f} ms"
            f"{' (failed)' if yt['trend_failed'] else ''} | {et['trend_seconds'] * 1000:,.0f} ms "
            f"| ≤ {t['trend_ms']} ms | {_verdict(not yt['trend_failed'] and trend <= t['trend_ms'])} |"
        )
        if "trend_call" in yt:
            one, empty_one = yt["trend_call"], et["trend_call"]
            ok = not one.get("failed") and one["seconds"] * 1000 <= t["trend_ms"]
            lines.append(
                f"| 8-week trend in one call, `GET /v1/stats/trend` (the board now) | {_secs(one)} "
                f"| {_secs(empty_one)} | ≤ {t['trend_ms']} ms | {_verdict(ok)} |"
            )
    if e := result.get("export"):
        lines += ["", f"Ledger export {e['from'][:10]} → {e['to'][:10]} ({e['rows_expected']:,} rows), province "
                  "supervisor:", "",
                  "| format | first byte | rows/s | whole answer | peak RSS growth (intake) | empty: first byte "
                  "| targets | |",
                  "|---|---:|---:|---:|---:|---:|---|---|"]  # fmt: skip
        for fmt in ("csv", "xlsx"):
            r, ref = e[fmt]["year"], e[fmt]["empty"]
            rate = e["rows_expected"] / r["seconds"] if r.get("seconds") else float("nan")
            ok = (
                r["ttfb_s"] <= t["export_ttfb_s"]
                and rate >= t["export_rows_per_s"]
                and r["rss_growth_mb"] <= t["export_rss_mb"]
            )
            lines.append(
                f"| {fmt} | {r['ttfb_s']:.2f} s | {rate:,.0f} | {r['seconds']:.1f} s, {r['bytes'] / 2**20:.1f} MiB "
                f"| {r['rss_growth_mb']:,.0f} MB | {ref['ttfb_s']:.2f} s | ≤ {t['export_ttfb_s']} s, ≥ "
                f"{t['export_rows_per_s']:,} rows/s, ≤ {t['export_rss_mb']} MB | {_verdict(ok)} |"
            )
    if result.get("pages"):
        lines += ["", "| page (web, p95) | year | empty | calls | target | |", "|---|---:|---:|---:|---|---|"]
        for p in result["pages"]:
            yp, ep = p["year"], p["empty"]
            ok = yp["status"] == 200 and yp["p95_ms"] <= t["page_p95_ms"]
            status = "" if yp["status"] == 200 else f" (status {yp['status']})"
            lines.append(f"| {p['name']}{status} | {_ms(yp['p95_ms'])} | {_ms(ep['p95_ms'])} | {yp['calls']} "
                         f"| ≤ {t['page_p95_ms']} ms | {_verdict(ok)} |")  # fmt: skip
    if sc := result.get("scheduler"):
        y, r = sc["year"], sc["reference"]
        lines += ["", f"Scheduler tick, {sc['due']} due timers per tick, median of {sc['rounds']} (max; the SLA "
                  "gauges' recount):", "", "| open items (pending timers) | tick median | tick max | gauges recount |",
                  "|---:|---:|---:|---:|"]  # fmt: skip
        for row in (r, y):
            lines.append(f"| {row['open']:,} ({row['pending_timers']:,}) | {row['median_ms']:.1f} ms "
                         f"| {row['max_ms']:.1f} ms | {row['gauges_refresh_ms']:.1f} ms |")  # fmt: skip
        lines.append(f"\nratio {sc['ratio']:.2f}× (target ≤ {t['scheduler_ratio']}×): "
                     f"{_verdict(sc['ratio'] <= t['scheduler_ratio'])}")  # fmt: skip
    if m := result.get("migrations"):
        lines += [
            "",
            "| newest migration (on a copy of the year) | down | up | tables rewritten |",
            "|---|---:|---:|---|",
        ]
        for service, r in m.items():
            if "error" in r or "skipped" in r:
                lines.append(f"| {service} {r.get('revision') or ''} | — | — | {r.get('error') or r.get('skipped')} |")
                continue
            changed = r["rewritten_down"] + r["rewritten_up"]
            rewritten = ", ".join(f"{w['table']} ({gib(w['bytes'])})" for w in changed)
            lines.append(f"| {service} {r['revision']} ({r['doc']}) | {r['downgrade_s']:.1f} s "
                         f"| {r['upgrade_s']:.1f} s | {rewritten or 'none'} |")  # fmt: skip
    if result.get("plans"):
        lines += ["", f"{result['slow_statements']} statements over {100} ms; plans of the slowest:", ""]
        for p in result["plans"][:15]:
            lines.append(
                f"- {p['ms']:,.0f} ms ×{p['count']} {p['service']}: `{p['sql'][:150]}` → {p['file'].split('/')[-1]}"
            )
    kills = result.get("watchdog", {}).get("kills")
    if kills:
        lines.append(f"\nKilled by the memory watchdog (> 4 GiB resident): {kills}")
    return "\n".join(lines)


def judged_seconds(result: dict) -> float:
    """A statistics figure as judged: the median of its calls (measure.STATS_CALLS; a year measured
    before them: its one call)."""
    return result.get("median_s", result["seconds"])


def _calls(r: dict) -> str:
    """A repeated statistics call: the median of the calls (judged), then the first and each."""
    if r.get("failed") or "calls_s" not in r:
        return _secs(r)
    each = ", ".join(f"{x:.2f}" for x in r["calls_s"])
    first = f"first {r['seconds']:.2f} s (RSS +{r.get('rss_growth_mb', 0):,.0f} MB)"
    return f"{judged_seconds(r):.2f} s median; {first}; all: {each} s"


def _secs(r: dict) -> str:
    if r.get("failed"):
        return f"failed after {r['seconds']:.0f} s ({r['failed']})"
    return f"{r['seconds']:.2f} s (RSS +{r.get('rss_growth_mb', 0):,.0f} MB)"
