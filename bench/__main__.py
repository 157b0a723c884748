"""`python -m bench --leads N [--formats csv,parquet] [--out bench/out] [--skip-api] [--scale-check]`

Generates the snapshots (cached under OUT/data), then measures every step in a fresh subprocess, checks that the
peers produce reconcile's changes, prints a table and writes OUT/results.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import report
from bench.generate import ensure_snapshot, input_rows, warm_page_cache
from bench.measure import run_step

API_LEADS = 20_000


def machine() -> dict:
    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def middle_record(plan: Path) -> str:
    """A record with a change from the middle of the plan (what `explain` is timed on)."""
    import duckdb

    changes = plan.with_name(plan.stem + ".data") / "changes.parquet"
    con = duckdb.connect()
    try:
        n = con.execute("select count(*) from read_parquet(?)", [str(changes)]).fetchone()[0]
        return con.execute(
            "select record_id from read_parquet(?) limit 1 offset ?", [str(changes), max(n // 2, 0)]
        ).fetchone()[0]
    finally:
        con.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure reconcile on generated snapshots: each step in a fresh process (wall, CPU, peak RSS),\n"
        "ratios to the read floor, the Polars and pandas peers checked against the plan, MET/MISSED against\n"
        "the targets. Nothing is asserted; bench/README.md explains every row.",
        epilog="examples:\n"
        "  python -m bench --leads 100000 --skip-pandas        a smaller run\n"
        "  python -m bench --scale-check                       make bench, plus 10M leads against 1M\n"
        "  python -m bench.compare --base COMMIT               this tree against another commit\n"
        "  python -m bench.generate OUT LEADS csv              only generate (or find) a snapshot",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--leads", type=int, default=1_000_000, help="Salesforce Leads in the snapshot (default: 1000000)")
    ap.add_argument("--formats", default="csv,parquet", help="input formats of the quiet day (default: csv,parquet)")
    ap.add_argument(
        "--scenarios",
        default="quiet,backfill",
        help="day profiles: quiet (every format) and backfill (CSV: >= 60%% of leads with a change)",
    )
    ap.add_argument(
        "--out", default="bench/out", help="snapshots (cached), plans and results.json (default: bench/out)"
    )
    ap.add_argument("--skip-api", action="store_true", help="leave out the API cost against the sandbox org")
    ap.add_argument("--skip-pandas", action="store_true", help="leave out the (slow) pandas peer")
    ap.add_argument(
        "--scale-check",
        action="store_true",
        help="also 10x the leads, reconcile with default settings (the ratio's base: 1x, same settings)",
    )
    ap.add_argument(
        "--scale-memory-limit",
        default=None,
        help="memory limit for both runs of the scale check (before issue 11: 8GB); default: none",
    )
    ap.add_argument("--repeat", type=int, default=None, help="runs per step (default: 3 below 1M leads, else 1)")
    ap.add_argument(
        "--memory-limit",
        default=None,
        help="DuckDB memory limit for reconcile's steps (sets RECONCILE_MEMORY_LIMIT), e.g. 1GB",
    )
    a = ap.parse_args(argv)
    if a.memory_limit:
        os.environ["RECONCILE_MEMORY_LIMIT"] = a.memory_limit  # inherited by every measured subprocess
    # plans are signed at build and approvals at approve: one key for the run, never the user's own
    os.environ.setdefault("RECONCILE_APPROVAL_KEY", "bench-only-approval-key-" + "0" * 32)
    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    repeat = a.repeat or (3 if a.leads < 1_000_000 else 1)
    res = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "leads": a.leads,
        "repeat": repeat,
        "machine": machine(),
        "formats": {},
        "checks": {},
        "memory_limit": os.environ.get("RECONCILE_MEMORY_LIMIT"),
    }

    def say(msg):
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    scenarios = [x.strip() for x in a.scenarios.split(",") if x.strip()]
    runs = [(fmt, "quiet") for fmt in a.formats.split(",") if fmt.strip() and "quiet" in scenarios]
    runs += [("csv", sc) for sc in scenarios if sc != "quiet"]
    for fmt, scenario in runs:
        fmt = fmt.strip()
        key = fmt if scenario == "quiet" else f"{fmt}+{scenario}"
        say(f"snapshot {a.leads} leads ({key})")
        snap, info = ensure_snapshot(out, a.leads, fmt, scenario)
        work = out / "work" / f"{a.leads}-{key}"
        r = res["formats"][key] = {
            "snapshot": str(snap),
            "input_rows": input_rows(info),
            "input_bytes": info["bytes"],
            "scenario": scenario,
            "steps": {},
        }
        steps = r["steps"]
        say("page cache: reading the snapshot once (untimed)")
        r["page_cache_warm"] = warm_page_cache(snap)
        say("read floor")
        steps["read_floor"] = run_step("read_floor", {"snap": str(snap)}, repeat)
        say("reconcile")
        steps["reconcile"] = run_step("reconcile", {"snap": str(snap), "out": str(work / "reconcile")}, repeat)
        if scenario != "quiet" or fmt == "csv":
            plan = work / "reconcile" / "plan.json"
            say("plan readers: explain, report, approve, apply (dry run, local work)")
            steps["explain"] = run_step("explain", {"plan": str(plan), "record": middle_record(plan)}, repeat)
            steps["report"] = run_step("report", {"plan": str(plan), "out": str(work / "report.html")}, repeat)
            steps["approve"] = run_step("approve", {"plan": str(plan)}, repeat)
            steps["apply_local"] = run_step("apply_local", {"plan": str(plan)}, repeat)
        say("polars peer")
        steps["polars"] = run_step("polars", {"snap": str(snap), "out": str(work / "polars.parquet")}, repeat)
        if fmt == "csv" and not a.skip_pandas:
            say("pandas peer")
            steps["pandas"] = run_step(
                "pandas", {"snap": str(snap), "out": str(work / "pandas.parquet")}, 1 if a.leads >= 200_000 else repeat
            )
        plan_changes = work / "reconcile" / "plan.changes.parquet"
        for peer in ("polars", "pandas"):
            if peer in steps and "error" not in steps[peer]:
                res["checks"][f"{peer}/{key}"] = report.check(work / f"{peer}.parquet", plan_changes)
        if key == "csv":
            say("diff: datacompy vs DuckDB")
            tables = {
                "db": str(work / "reconcile" / "reconcile.duckdb"),
                "current": str(work / "lead_current.parquet"),
                "desired": str(work / "lead_desired.parquet"),
            }
            run_step("diff_tables", tables)
            steps["duckdb_diff"] = run_step("duckdb_diff", tables, repeat)
            steps["datacompy"] = run_step("datacompy", tables, repeat)
            steps["datacompy_pl"] = run_step("datacompy", {**tables, "engine": "polars"}, repeat)
        if fmt == "csv":
            say(f"reconcile profile (per model, {scenario})")
            res.setdefault("profiles", {})[key] = run_step("profile", {"snap": str(snap), "out": str(work / "profile")})

    if a.scale_check:
        big = 10 * a.leads
        say(f"scale check: snapshot {big} leads (csv)")
        snap, info = ensure_snapshot(out, big, "csv")
        res["scale"] = {"leads": big, "input_rows": input_rows(info), "input_bytes": info["bytes"]}
        limit = a.scale_memory_limit or None  # default: no flag, DuckDB's limit is reconcile's own default
        say(
            f"page cache: reading the snapshot once (untimed; {info['bytes'] / 1e6:,.0f} MB, cached as far as memory holds it)"
        )
        res["scale"]["page_cache_warm"] = warm_page_cache(snap)
        say(
            f"scale check: reconcile ({'memory_limit ' + limit if limit else 'default settings, no memory limit flag'})"
        )
        res["scale"]["memory_limit"] = limit or os.environ.get("RECONCILE_MEMORY_LIMIT")
        res["scale"]["reconcile"] = run_step(
            "reconcile_scaled",
            {"snap": str(snap), "out": str(out / "work" / f"{big}-csv" / "reconcile"), "memory_limit": limit},
        )
        say(f"scale check: reconcile of the {a.leads} leads with the same settings (the ratio's base)")
        base_snap, _ = ensure_snapshot(out, a.leads, "csv")
        say("page cache: reading the base snapshot once (untimed)")
        warm_page_cache(base_snap)
        res["scale"]["base_reconcile"] = run_step(
            "reconcile_scaled",
            {
                "snap": str(base_snap),
                "out": str(out / "work" / f"{a.leads}-csv" / "reconcile-scale-base"),
                "memory_limit": limit,
            },
        )
        say("scale check: read floor (after reading the snapshot once more, untimed)")
        warm_page_cache(snap)
        res["scale"]["read_floor"] = run_step("read_floor", {"snap": str(snap)})

    if not a.skip_api:
        say(f"API cost against the sandbox org ({API_LEADS} leads)")
        snap, _ = ensure_snapshot(out, API_LEADS, "csv")
        res["api"] = run_step("api", {"snap": str(snap), "out": str(out / "work" / "api")})

    res["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report.derive(res)
    (out / "results.json").write_text(json.dumps(res, indent=1, default=str))
    print(report.render(res))
    say(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
