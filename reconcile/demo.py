"""`reconcile demo`: the whole day on embedded defaults — demo data, a local sandbox org, a DuckDB file.

generate snapshot → start the sandbox org and seed it with the snapshot's Salesforce records → preflight →
plan → report → approve as "Demo Admin" → apply with an audit trail (real HTTPS through simple-salesforce)
→ pull Salesforce back and re-plan (no ready change is left).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .apply import apply_plan
from .approval import approve
from .build import build_plan
from .console import progress_status
from .report import render_report
from .salesforce import connect


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


def run_demo(workdir: str | Path = "demo", leads: int = 200, seed: int = 7, apply: bool = True, say=print) -> DemoResult:
    from .demo_data import generate_snapshot
    from .sandbox import start_sandbox
    from .seeding import seed_org

    work = Path(workdir)
    shutil.rmtree(work, ignore_errors=True)
    snap = work / "snapshot"
    today = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    say(f"1/6 Generating a demo snapshot of {leads} leads (every scenario of the spec included) in {snap}")
    generate_snapshot(snap, leads=leads, seed=seed, taken_at=today)
    say("2/6 Starting the local sandbox org on 127.0.0.1 (HTTPS, its own CA), seeding it, logging in "
        "with OAuth 2.0 client credentials")
    handle = start_sandbox(state_path=work / "sandbox" / "org.json")
    try:
        started = time.monotonic()
        seed_org(handle.org, snap)
        say(f"    seeded the org with {leads} leads and their campaign members in {time.monotonic() - started:.1f} s")
        client = connect(env=handle.oauth_env("client_credentials"))  # the integration user, via its app
        from .pull import pull_snapshot
        say("3/6 Checking the integration user against seed §3.1 (preflight) through simple-salesforce")
        from .policy import load_policy
        from .preflight import run_preflight
        checks = run_preflight(client, load_policy())
        say(f"    preflight: {sum(c.ok for c in checks)} of {len(checks)} checks pass")
        say("4/6 Planning (DuckDB file, SQL rules) and rendering the HTML report")
        plan_path = work / "plan.json"
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
            pull_snapshot(after, client, taken_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
            again = build_plan(after, out=work / "replan.json", db=work / "replan.duckdb", exports=False)
            ready_after = again.plan["summary"]["changes"]["ready"]
    finally:
        handle.stop()
    return DemoResult(work, result.plan, plan_path, report, result.db_path, counts, ready_after, requests, files)
