"""`reconcile demo`: the whole day on embedded defaults — demo data, a local sandbox org, a DuckDB file.

generate snapshot → start the sandbox org and seed it with the snapshot's Salesforce records → preflight →
pull all four sources (Salesforce, the Smartlead and Pardot stand-ins, a Clay drop folder) → plan → report →
approve as "Demo Admin" → apply with an audit trail (real HTTPS through simple-salesforce) → pull Salesforce back
and re-plan (no ready change is left).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .apply.apply import apply_plan
from .approval import approve
from .build import build_plan
from .console import progress_status
from .errors import ReconcileError
from .report.report import render_report
from .salesforce import connect
from .clock import iso, parse_utc


@dataclass
class DemoResult:
    workdir: Path
    plan: dict
    plan_path: Path
    report_path: Path
    db_path: Path
    apply_counts: dict
    replan_ready: int
    requests: int
    files: dict = field(default_factory=dict)


DEMO_MARK = ".reconcile-demo"  # in every folder `reconcile demo` made: the only non-empty folder it will clear


def clear_workdir(work: Path) -> None:
    """Empty the demo's folder for a new run — only a new or empty folder, or one an earlier demo made: `--workdir .`
    in a checkout, or a folder of the user's own, must never be wiped."""
    if work.exists() and not work.is_dir():
        raise ReconcileError(f"Demo folder '{work}' is a file. Pass --workdir with a new or empty folder.")
    earlier = (work / DEMO_MARK).exists() or ((work / "snapshot").is_dir() and (work / "sandbox").is_dir())
    if work.is_dir() and any(work.iterdir()) and not earlier:  # (snapshot/ + sandbox/: a demo before the mark)
        raise ReconcileError(
            f"Demo folder '{work}' is not empty and was not made by `reconcile demo`, so it is left as it is (a demo "
            "replaces everything in its folder). Pass --workdir with a new or empty folder, or an earlier demo's."
        )
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / DEMO_MARK).write_text("made by `reconcile demo`: the next demo run replaces this folder\n", "utf-8")


def write_demo_snapshot(workdir: str | Path = "demo", leads: int = 200, seed: int = 7) -> Path:
    """Only the demo snapshot (`demo --data-only`), in WORKDIR/snapshot: what `run_demo` plans from, no org."""
    from .demo_data import generate_snapshot

    work = Path(workdir)
    clear_workdir(work)
    generate_snapshot(work / "snapshot", leads=leads, seed=seed, taken_at=iso())
    return work / "snapshot"


def run_demo(
    workdir: str | Path = "demo", leads: int = 200, seed: int = 7, apply: bool = True, say=print
) -> DemoResult:
    from .demo_data import generate_snapshot
    from .sandbox import start_sandbox
    from .seeding import seed_org

    work = Path(workdir)
    clear_workdir(work)
    snap = work / "snapshot"
    today = iso()
    say(f"1/6 Generating a demo snapshot of {leads} leads (every scenario of the spec included) in {snap}")
    generate_snapshot(snap, leads=leads, seed=seed, taken_at=today)
    say(
        "2/6 Starting the local sandbox org on 127.0.0.1 (HTTPS, its own CA), seeding it, logging in "
        "with OAuth 2.0 client credentials"
    )
    handle = start_sandbox(state_path=work / "sandbox" / "org.json")
    try:
        started = time.monotonic()
        seed_org(handle.org, snap, keep_formula_values=True)
        say(f"    seeded the org with {leads} leads and their campaign members in {time.monotonic() - started:.1f} s")
        client = connect(env=handle.oauth_env("client_credentials"))  # the integration user, via its app
        from .pull import pull_snapshot

        say("3/6 Checking the integration user against seed §3.1 (preflight) through simple-salesforce")
        from .policy import load_policy
        from .preflight import run_preflight

        checks = run_preflight(client, load_policy())
        say(f"    preflight: {sum(c.ok for c in checks)} of {len(checks)} checks pass")
        say("    pulling Salesforce (REST), Smartlead and Pardot (their APIs) and Clay (drop folder) from the sandbox")
        pulled = _pull_all_sources(handle, snap, work, client)
        say("    " + "; ".join(f"{p.system} {p.records} records ({p.requests} API requests)" for p in pulled))
        say("4/6 Planning (DuckDB file, SQL rules) and rendering the HTML report")
        plan_path = work / "plan.json"
        snap = work / "pulled"
        with progress_status("Planning") as progress:
            result = build_plan(snap, out=plan_path, db=work / "reconcile.duckdb", progress=progress)
        report = render_report(result.plan, work / "report.html")
        counts, requests, files, ready_after = {}, 0, {}, result.plan["summary"]["changes"]["ready"]
        if apply:
            say("5/6 Approving as 'Demo Admin' and applying to the sandbox org (audit trail in DuckDB)")
            reason = "demo: gates accepted" if result.plan["gates"] else None
            approve(plan_path, by="Demo Admin", override_gate=reason)
            applied = apply_plan(plan_path, client=client, db=work / "reconcile.duckdb")
            counts, requests, files = applied.counts, applied.requests, applied.files
            say("6/6 Pulling again and re-planning: every applied change is now in Salesforce")
            after = work / "snapshot-after"
            shutil.copytree(snap, after)
            pull_snapshot(after, client, taken_at=iso())
            again = build_plan(after, out=work / "replan.json", db=work / "replan.duckdb", exports=False)
            ready_after = again.plan["summary"]["changes"]["ready"]
    finally:
        handle.stop()
    return DemoResult(work, result.plan, plan_path, report, result.db_path, counts, ready_after, requests, files)


def _pull_all_sources(handle, snap: Path, work: Path, client) -> list:
    """`reconcile pull --sources all` against the sandbox: the org, its Smartlead and Pardot stand-ins (seeded from
    the demo snapshot) and a Clay drop folder holding the snapshot's Clay exports named with their export time.
    Each source keeps the demo's taken_at (so the demo plans as the generated snapshot would). The org was seeded
    with keep_formula_values, so its formulas answer the generated values and the demo's overall_formula_mismatch
    and eligibility_mismatch cases survive the pull."""
    import tomllib

    from .sources.pull_all import pull_sources
    from .standins.sources import start_source_standins

    taken = tomllib.loads((snap / "manifest.toml").read_text("utf-8"))["taken_at"]
    drop = work / "clay-drop"
    drop.mkdir(parents=True, exist_ok=True)
    clay_at = parse_utc(taken["clay"]).strftime("%Y-%m-%dT%H-%M-%S")
    for f in sorted((snap / "clay").iterdir()):
        shutil.copyfile(f, drop / f"{f.stem} {clay_at}{f.suffix}")
    info, stop = start_source_standins(handle.org, snap)
    env = {
        "SMARTLEAD_BASE_URL": info["smartlead_base_url"],
        "SMARTLEAD_API_KEY": info["smartlead_api_key"],
        "PARDOT_BASE_URL": info["pardot_base_url"],
        "PARDOT_BUSINESS_UNIT_ID": info["pardot_business_unit_id"],
    }
    out = work / "pulled"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(snap / "manifest.toml", out / "manifest.toml")
    if (snap / "smartlead" / "events.jsonl").exists():  # the webhook spool's part (see smartlead-webhook serve)
        (out / "smartlead").mkdir(exist_ok=True)
        shutil.copy2(snap / "smartlead" / "events.jsonl", out / "smartlead" / "events.jsonl")
    try:
        return [
            pull_sources(out, [system], connect_sf=lambda: client, env=env, clay_dir=drop, taken_at=taken[system])[0]
            for system in ("sfdc", "smartlead", "pardot", "clay")
        ]
    finally:
        stop()
