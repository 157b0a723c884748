"""Salesforce API cost against the local sandbox org, by counting requests in `handle.org.request_log`.

Seeds the in-memory sandbox from a snapshot of N leads, then counts: a REST pull, a Bulk 2.0 pull, an apply
of the plan's ready changes, and a re-apply of the same plan (nothing left to write: only the drift re-read).
Extrapolates to 1M leads with the formulas of issue 5 (⌈N/2000⌉ query pages, ⌈R/200⌉ collection calls).
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from reconcile.clock import parse_utc

ENTERPRISE_BASE = 100_000  # Enterprise Edition: 100,000 requests / 24 h + 1,000 per Salesforce licence


def _kinds(log: list[dict]) -> dict:
    c = Counter()
    for r in log:
        p = r["path"]
        if "/jobs/" in p:
            c["bulk"] += 1
        elif "/composite/sobjects" in p:
            c["collections"] += 1
        elif "/query" in p:
            c["query"] += 1
        elif "/describe" in p or p.rstrip("/").split("/")[-2:-1] == ["sobjects"]:
            c["describe"] += 1
        else:
            c["other"] += 1
    return dict(c)


def measure(snap: Path, work: Path) -> dict:
    from reconcile.apply.apply import apply_plan
    from reconcile.approval import approve
    from reconcile.build import build_plan
    from reconcile.pull import pull_snapshot
    from reconcile.salesforce import connect
    from reconcile.sandbox import start_sandbox
    from reconcile.seeding import seed_org

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    h = start_sandbox(state_path=None, daily_limit=10**9)
    try:
        counts = seed_org(h.org, snap)
        client = connect(
            env={"SF_INSTANCE_URL": h.instance_url, "SF_SESSION_ID": h.session_id, "SF_CA_BUNDLE": h.ca_bundle}
        )
        log = h.org.request_log

        def count(fn):
            n0 = len(log)
            t = time.perf_counter()
            out = fn()
            return out, len(log) - n0, _kinds(log[n0:]), time.perf_counter() - t

        _, rest_n, rest_k, rest_s = count(lambda: pull_snapshot(work / "pull-rest", client, bulk_threshold=10**12))
        _, bulk_n, bulk_k, bulk_s = count(lambda: pull_snapshot(work / "pull-bulk", client, bulk_threshold=0))
        res = build_plan(snap, out=work / "plan" / "plan.json", db=work / "plan" / "reconcile.duckdb", exports=False)
        ready = {k: v["ready"] for k, v in res.plan["summary"]["by_object"].items() if v["ready"]}
        # approved as one of the packaged policy's [[approvers]] (a free-text name is refused since issue 10)
        approve(work / "plan" / "plan.json", by="Demo Admin", override_gate="bench" if res.plan["gates"] else None)
        # applied as if just after the (generated) snapshot was taken: its age is not what is measured
        taken = parse_utc(res.plan["snapshot"]["taken_at"]["sfdc"])
        now = taken + timedelta(hours=1)
        r1, apply_n, apply_k, apply_s = count(lambda: apply_plan(work / "plan" / "plan.json", client=client, now=now))
        r2, empty_n, empty_k, empty_s = count(lambda: apply_plan(work / "plan" / "plan.json", client=client, now=now))
        applied = Counter(o["result"] for o in r1.outcomes)
        again = Counter(o["result"] for o in r2.outcomes)
    finally:
        h.stop()
    objs = ("Lead", "CampaignMember", "Contact", "Campaign")
    rest_expected = sum(2 + max(1, math.ceil(counts.get(o, 0) / 2000)) for o in objs)  # describe + count + pages
    apply_expected = sum(math.ceil(r / 200) + math.ceil(r / 2000) for r in ready.values())
    return {
        "records": counts,
        "ready": dict(ready),
        "pull_rest": {"requests": rest_n, "kinds": rest_k, "seconds": rest_s, "expected": rest_expected},
        "pull_bulk": {"requests": bulk_n, "kinds": bulk_k, "seconds": bulk_s},
        "apply": {
            "requests": apply_n,
            "kinds": apply_k,
            "seconds": apply_s,
            "outcomes": dict(applied),
            "expected_collections_plus_reread": apply_expected,
        },
        "empty_apply": {
            "requests": empty_n,
            "kinds": empty_k,
            "seconds": empty_s,
            "outcomes": dict(again),
            "expected_reread": sum(math.ceil(r / 2000) for r in ready.values()),
        },
    }


def extrapolate(api: dict, records_1m: dict, ready_1m: dict, bulk_threshold: int = 2000) -> dict:
    """Requests for a 1M-lead org, from the formulas and the measured per-object constants."""
    objs = ("Lead", "CampaignMember", "Contact", "Campaign")
    rest_pull = sum(2 + max(1, math.ceil(records_1m.get(o, 0) / 2000)) for o in objs)
    bulk_per_object = api["pull_bulk"]["requests"] / len(objs)
    rest_apply = sum(math.ceil(r / 200) + math.ceil(r / 2000) for r in ready_1m.values())
    # Bulk 2.0 ingest above the threshold: create, upload, close, poll, results ≈ constant per object + the re-read
    bulk_apply = sum(
        (6 + math.ceil(r / 2000)) if r > bulk_threshold else math.ceil(r / 200) + math.ceil(r / 2000)
        for r in ready_1m.values()
    )
    return {
        "records": records_1m,
        "ready": ready_1m,
        "pull_rest": rest_pull,
        "pull_bulk": round(bulk_per_object * len(objs)),
        "apply_collections": rest_apply,
        "apply_bulk_above_threshold": bulk_apply,
        "apply_share_of_enterprise_base": bulk_apply / ENTERPRISE_BASE,
        "apply_collections_share_of_enterprise_base": rest_apply / ENTERPRISE_BASE,
    }


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]), Path(sys.argv[2])), default=str))
