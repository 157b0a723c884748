"""Each measured step runs here, in a fresh interpreter: `python -m bench.measure STEP ARGS_JSON`.

The child times the step itself (wall clock and CPU, imports excluded) and reports its own peak RSS
(`peak_rss_kb`: VmHWM, which exec resets), so every figure belongs to one step. The parent (`run_step`) starts the
child, keeps the best of `repeat` runs (by wall time) and returns the child's JSON.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_step(step: str, args: dict, repeat: int = 1, timeout: float = 7200) -> dict:
    best = None
    for _ in range(max(repeat, 1)):
        proc = subprocess.run(
            [sys.executable, "-m", "bench.measure", step, json.dumps(args)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines() or ["?"]
            err = next((x for x in reversed(lines) if "Error" in x or "Exception" in x), lines[-1])
            return {"step": step, "error": err.strip(), "stderr": proc.stderr[-4000:]}
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        if best is None or res["seconds"] < best["seconds"]:
            best = res
        best.setdefault("runs", []).append(round(res["seconds"], 3))
    best["runs"] = sorted(best["runs"])
    return best


# -------------------------------------------------------------------------------------------- the steps


def read_floor(a: dict) -> dict:
    """DuckDB materialising every input file (all columns, as text) in an in-memory database.

    Without DuckDB's automatic checkpoints, as reconcile ingests (reconcile.sql.checkpoints_deferred): on the 1M
    Parquet snapshot an automatic checkpoint of the in-memory database fired while the first Smartlead files were read
    (memory 1.0 → 0.47 GB) and took 6.5–9.5 s of a 10.8–13.7 s floor; without it the floor is 4.2 s (CSV: 7.6 against
    7.9 s, within the spread). The floor is what reading costs, not an incidental compaction."""
    import duckdb

    from bench.generate import input_files
    from reconcile.sql import BUILD_CHECKPOINT_THRESHOLD

    con = duckdb.connect()
    con.execute(f"set checkpoint_threshold = '{BUILD_CHECKPOINT_THRESHOLD}'")
    rows = 0
    for i, p in enumerate(input_files(Path(a["snap"]))):
        if p.suffix == ".csv":
            scan = "read_csv(?, all_varchar=true, header=true)"
        elif p.suffix == ".parquet":
            scan = "read_parquet(?)"
        else:
            scan = "read_json_objects(?, format='newline_delimited')"
        con.execute(f"create table t{i} as select * from {scan}", [str(p)])
        rows += con.execute(f"select count(*) from t{i}").fetchone()[0]
    return {"rows": rows}


def reconcile(a: dict) -> dict:
    """`reconcile plan` end to end: ingest, validation, models, diff, plan JSON and its Parquet/CSV exports."""
    from reconcile.build import build_plan

    out = Path(a["out"])
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    res = build_plan(a["snap"], out=out / "plan.json", db=out / "reconcile.duckdb", exports=True)
    summ = res.plan["summary"]  # counts from the manifest: the rows stay in plan.data/ (reconcile.plan/2)
    return {
        "changes": summ["changes"]["total"],
        "findings": summ["findings"]["total"],
        "records": summ["records"],
        "ready_by_object": {k: v["ready"] for k, v in summ["by_object"].items()},
    }


def reconcile_scaled(a: dict) -> dict:
    """`reconcile plan [--memory-limit]` end to end (the scale check; without a limit, reconcile's default: a share
    of the available memory, DuckDB spilling beside the file)."""
    from reconcile.build import build_plan

    out = Path(a["out"])
    shutil.rmtree(out, ignore_errors=True)
    res = build_plan(Path(a["snap"]), out=out / "plan.json", memory_limit=a.get("memory_limit"))
    return {"changes": res.plan["summary"]["changes"]["total"]}


def profile(a: dict) -> dict:
    """Where reconcile's time goes: ingest, each SQL model (reconcile.sql.run_model), plan assembly, writing."""
    from reconcile import build as rb
    from reconcile import plan as planmod
    from reconcile.files import write_atomic
    from reconcile import planfile
    from reconcile.ingest import snapshots
    from reconcile import sql as rsql
    from reconcile.policy import load_policy

    out = Path(a["out"])
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    pol = load_policy(None)
    # autocommit under the build's own memory limit (and scratch file when it would spill), as build_plan builds
    limit, spill = rb.memory_settings(rb.snapshot_files(Path(a["snap"]), pol))
    con = rsql.connect(out / "profile.duckdb", memory_limit=limit)
    if spill:
        rsql.attach_scratch(con, out / "profile.scratch.duckdb")
    parts: list[tuple[str, float]] = []
    rsql.load_macros(con, rb._formula_path(pol))
    rb.load_policy_tables(con, pol, Path(a["snap"]))
    marks = [("start", time.perf_counter())]
    timed_models = []

    def timed_model(m: str) -> None:
        t = time.perf_counter()
        rsql.run_model(con, m, params, spill=spill)
        timed_models.append((f"model: {m}", time.perf_counter() - t))

    # as build_plan ingests and stages: without automatic checkpoints, the raw tables dropped once staged
    with rsql.checkpoints_deferred(con):
        snap = snapshots.ingest(
            con, Path(a["snap"]), pol.clay_columns, progress=lambda m: marks.append((m, time.perf_counter()))
        )
        marks.append(("end", time.perf_counter()))
        params = rb.model_params(pol, snap)
        for m in rsql.MODELS:
            if m.startswith(rsql.STAGING):
                timed_model(m)
        for kind, name in con.execute(
            "select 'view', view_name from duckdb_views() where temporary and view_name like 'raw\\_%' escape '\\' "
            "union all select 'table', table_name from duckdb_tables() where temporary and table_name like "
            "'raw\\_%' escape '\\' order by 1 desc"
        ).fetchall():
            con.execute(f'drop {kind} "{name}"')
    for (m, t0), (_, t1) in zip(marks[1:-1], marks[2:]):
        parts.append((f"ingest: {m.removeprefix('reading ')}", t1 - t0))
    # as build() runs them (each intermediate dropped after its last reader): a model's time runs from its start to
    # the next one's (its drops included)
    modelled = [m for m in rsql.MODELS if not m.startswith(rsql.STAGING)]
    starts = []
    # as build_plan runs the plan models and writes the plan: under the write share when no limit is given
    plan_limit = rsql.plan_write_memory_limit(limit) if rsql.effective_memory_limit() is None else None
    rsql.run_models(
        con,
        params,
        progress=lambda _: starts.append(time.perf_counter()),
        names=modelled,
        spill=spill,
        free=True,
        plan_memory_limit=plan_limit,
    )
    starts.append(time.perf_counter())
    timed_models += [(f"model: {m}", t1 - t0) for m, t0, t1 in zip(modelled, starts, starts[1:])]
    parts += timed_models
    t = time.perf_counter()
    summary = planmod.summarize(con)
    parts.append(("assemble: summary + gates", time.perf_counter() - t))
    planfile.write_parts(con, out / "plan.json", timed=parts)  # Parquet per part, then the sha256 of its bytes
    t = time.perf_counter()
    manifest = {"format": planmod.FORMAT, "summary": summary}
    planmod.compute_plan_id(manifest)
    write_atomic(out / "plan.json", planmod.dumps(manifest))
    parts.append(("write: plan manifest + plan_id", time.perf_counter() - t))
    # as build_plan exports: after the build's connection is closed, on one of its own (no limit given: DuckDB's)
    con.close()
    t = time.perf_counter()
    con = rsql.connect(out / "profile.duckdb")
    planmod.export_changes(con, out / "plan.json")
    con.close()
    parts.append(("write: changes Parquet + CSV", time.perf_counter() - t))
    return {"parts": [[k, round(v, 4)] for k, v in parts]}


def explain_step(a: dict) -> dict:
    """`reconcile explain RECORD --plan PLAN`: one record's changes and findings, queried from the plan's files."""
    from reconcile.explain import explain, render_text
    from reconcile.plan import load_plan

    res = explain(load_plan(a["plan"], verify=False), a["record"])
    return {"changes": len(res["changes"]), "findings": len(res["findings"]), "chars": len(render_text(res))}


def report_step(a: dict) -> dict:
    """`reconcile report PLAN --out report.html` (no history)."""
    from reconcile.plan import load_plan
    from reconcile.report.report import render_report

    path = render_report(load_plan(a["plan"], verify=False), Path(a["out"]))
    return {"bytes": path.stat().st_size}


def approve_step(a: dict) -> dict:
    """`reconcile approve PLAN --by NAME [--override-gate REASON]`: verify the plan's files against its manifest,
    check the signed build record, recompute the gates, sign (with the bench's key, see bench/__main__.py). The gates
    are overridden when the plan has any (approve refuses an override of a plan without gates: a quiet day's)."""
    from reconcile.approval import approval_path, approve

    approval_path(a["plan"]).unlink(missing_ok=True)
    gated = bool(json.loads(Path(a["plan"]).read_text(encoding="utf-8")).get("gates"))
    entry = approve(a["plan"], by="Demo Admin", override_gate="bench" if gated else None)
    return {"gate_overrides": len(entry["gate_overrides"])}


class _PlanOrg:
    """A stand-in for Salesforce holding every planned record at its snapshot value (`before`), answering apply's
    describe and re-read; the time spent in it is Salesforce's and is not counted as apply's local work."""

    def __init__(self, plan_path: Path, policy):
        import duckdb

        self.spent, self.requests_made, self.policy = 0.0, 0, policy
        changes = plan_path.with_name(plan_path.stem + ".data") / "changes.parquet"
        t = time.perf_counter()
        rows = (
            duckdb.connect()
            .execute(
                "select object, record_id, field, before from read_parquet(?) where status = 'ready'", [str(changes)]
            )
            .fetchall()
        )
        self.records: dict = {}
        for obj, rid, field, before in rows:
            self.records.setdefault((obj, rid), {"Id": rid, "IsConverted": False})[field] = (
                None if before is None else json.loads(before)
            )
        self.spent += time.perf_counter() - t

    def describe(self, obj: str) -> dict:
        t = time.perf_counter()
        fields = [
            {"name": f.field, "updateable": True, "picklistValues": [{"value": v, "active": True} for v in f.picklist]}
            for f in self.policy.fields
            if f.object == obj
        ]
        self.spent += time.perf_counter() - t
        return {"fields": fields}

    def retrieve(self, obj: str, ids: list[str], fields: list[str]) -> list[dict]:
        t = time.perf_counter()
        out = [self.records[(obj, i)] for i in ids if (obj, i) in self.records]
        self.requests_made += -(-len(ids) // 2000)
        self.spent += time.perf_counter() - t
        return out


def apply_local(a: dict) -> dict:
    """`reconcile apply --dry-run` of the approved plan against _PlanOrg: verify plan + approval, select the
    approved changes, re-check each against policy and describe, classify against the re-read values. Reports
    the local work per change (the org's own time excluded)."""
    from reconcile.apply.apply import apply_plan
    from reconcile.policy import load_policy

    import dataclasses

    pol = load_policy(None)  # a generated snapshot's age is not what is measured
    pol = dataclasses.replace(pol, thresholds=dataclasses.replace(pol.thresholds, max_snapshot_age_hours=10**6))
    org = _PlanOrg(Path(a["plan"]), pol)
    before, t = org.spent, time.perf_counter()
    res = apply_plan(a["plan"], client=org, dry_run=True, policy=pol)
    local = time.perf_counter() - t - (org.spent - before)
    n = len(res.outcomes)
    return {"changes": n, "local_seconds": local, "per_change_us": 1e6 * local / max(n, 1), "timed": local}


def polars_peer(a: dict) -> dict:
    from bench.peers_polars import run

    return {"changes": run(Path(a["snap"]), Path(a["out"]))}


def pandas_peer(a: dict) -> dict:
    from bench.peers_pandas import run

    return {"changes": run(Path(a["snap"]), Path(a["out"]))}


DIFF_COLUMNS = ("external_hard_bounced__c", "Industry", "company_description__c")


def _load_pandas(a):
    import pandas as pd

    return pd.read_parquet(a["current"]), pd.read_parquet(a["desired"])


def datacompy_diff(a: dict) -> dict:
    """datacompy comparing the desired and current Lead tables (load excluded, like the DuckDB side)."""
    import datacompy

    if a.get("engine") == "polars":
        import polars as pl

        cur, des = pl.read_parquet(a["current"]), pl.read_parquet(a["desired"])
        compare = datacompy.PolarsCompare
    else:
        cur, des = _load_pandas(a)
        compare = getattr(datacompy, "PandasCompare", None) or datacompy.Compare
    t = time.perf_counter()
    cmp = compare(cur, des, join_columns="Id", df1_name="current", df2_name="desired")
    mism = cmp.all_mismatch()
    if a.get("engine") == "polars":
        mism = mism.to_pandas()
    cols = {c.lower(): c for c in mism.columns}
    cells = sum(
        int((mism[cols[f"{c}_current".lower()]].fillna("\0") != mism[cols[f"{c}_desired".lower()]].fillna("\0")).sum())
        for c in DIFF_COLUMNS
    )
    return {"timed": time.perf_counter() - t, "records": len(mism), "cells": cells}


DIFF_SQL = " union all ".join(
    f'select c.Id, \'{col}\' as field, c."{col}" as before, d."{col}" as after from cur c join des d using (Id) '
    f'where c."{col}" is distinct from d."{col}"'
    for col in DIFF_COLUMNS
)


def duckdb_diff(a: dict) -> dict:
    """The same diff as reconcile's SQL does it (tables loaded first, the query timed)."""
    import duckdb

    con = duckdb.connect()
    con.execute("create table cur as select * from read_parquet(?)", [a["current"]])
    con.execute("create table des as select * from read_parquet(?)", [a["desired"]])
    t = time.perf_counter()
    con.execute(f"create table diff as {DIFF_SQL}")
    records, cells = con.execute("select count(distinct Id), count(*) from diff").fetchone()
    return {"timed": time.perf_counter() - t, "records": records, "cells": cells}


def api(a: dict) -> dict:
    from bench.api_cost import measure

    return measure(Path(a["snap"]), Path(a["out"]))


def diff_tables(a: dict) -> dict:
    """Untimed preparation: the current Lead table (as reconcile staged it) and the desired one (plan applied)."""
    import duckdb

    con = duckdb.connect(a["db"], read_only=True)
    cur = (
        "select sf_lead_id as Id, cast(external_hard_bounced as varchar) as external_hard_bounced__c, "
        "industry as Industry, company_description as company_description__c from stg_sfdc__lead"
    )
    con.execute(f"copy ({cur}) to '{a['current']}' (format parquet)")
    des = f"""
        with c as (select record_id, field, after ->> '$' as after from plan_changes where object = 'Lead')
        select l.Id,
               coalesce((select after from c where c.record_id = l.Id and c.field = 'external_hard_bounced__c'),
                        l.external_hard_bounced__c) as external_hard_bounced__c,
               coalesce((select after from c where c.record_id = l.Id and c.field = 'Industry'), l.Industry)
                   as Industry,
               coalesce((select after from c where c.record_id = l.Id and c.field = 'company_description__c'),
                        l.company_description__c) as company_description__c
        from ({cur}) l"""
    con.execute(f"copy ({des}) to '{a['desired']}' (format parquet)")
    return {"lead_changes": con.execute("select count(*) from plan_changes where object = 'Lead'").fetchone()[0]}


STEPS = {
    "api": api,
    "diff_tables": diff_tables,
    "read_floor": read_floor,
    "reconcile": reconcile,
    "reconcile_scaled": reconcile_scaled,
    "profile": profile,
    "explain": explain_step,
    "report": report_step,
    "approve": approve_step,
    "apply_local": apply_local,
    "polars": polars_peer,
    "pandas": pandas_peer,
    "datacompy": datacompy_diff,
    "duckdb_diff": duckdb_diff,
}


# modules each step imports, loaded before the clock starts (interpreter start and imports are not the step)
PRELOAD = {
    "read_floor": ("duckdb", "bench.generate"),
    "reconcile": ("reconcile.build",),
    "reconcile_scaled": ("reconcile.build",),
    "profile": ("reconcile.build", "reconcile.ingest.snapshots"),
    "polars": ("bench.peers_polars",),
    "pandas": ("bench.peers_pandas",),
    "explain": ("reconcile.explain", "reconcile.plan", "reconcile.planfile"),
    "report": ("reconcile.report.report", "reconcile.plan", "reconcile.planfile"),
    "approve": ("reconcile.approval", "reconcile.provenance", "reconcile.planfile", "reconcile.policy"),
    "apply_local": ("reconcile.apply.apply", "reconcile.policy", "duckdb"),
}


def peak_rss_kb() -> int:
    """This process's own peak RSS: VmHWM of /proc/self/status (Linux). Not getrusage's ru_maxrss, which Linux keeps
    across fork and exec: a step started by a parent that had grown (the bench generating a 10M snapshot in-process)
    reported the parent's 8.4 GB as its own (10M plan and its 1M base, to the byte). Elsewhere: ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    step, args = sys.argv[1], json.loads(sys.argv[2])
    for module in PRELOAD.get(step, ()):
        importlib.import_module(module)
    c0, t0 = time.process_time(), time.perf_counter()
    extra = STEPS[step](args)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if "timed" in extra:  # steps that exclude their load phase
        seconds = extra.pop("timed")
    rss_kb = peak_rss_kb()
    print(
        json.dumps(
            {
                "step": step,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "peak_rss_mb": rss_kb / 1024,
                "pid": os.getpid(),
                **extra,
            }
        )
    )


if __name__ == "__main__":
    main()
