"""End-to-end apply: faults, resumption, bulk, undo plans, API cost — against the local sandbox org.

Every test writes through unmodified simple-salesforce over HTTPS to the sandbox org, then asserts on the
org's records (`org.get`), its field history, the request log, the audit table and the export files.
The shared fixtures and helpers at the top are also used by tests/test_approval.py.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from simple_salesforce import Salesforce

from conftest import (
    CLAY_HEADER,
    HANDMADE,
    LEAD_HEADER,
    MEMBER_HEADER,
    campaign_id,
    client_for,
    csv_text,
    lead,
    lead_id,
    member,
    member_id,
    policy_with,
    sandbox_env,
    seed,
    write_snapshot,
)
from reconcile.apply import audit
from reconcile.apply.apply import apply_plan
from reconcile.approval import approve
from reconcile.build import build_plan
from reconcile.errors import ApplyError, ApplyStopped, ApprovalError, ReconcileError, SnapshotError
from reconcile.plan import load_plan
from reconcile.planfile import copy_plan
from reconcile.salesforce import COLLECTION_CHUNK

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 27, 7, tzinfo=timezone.utc)  # one hour after the hand-made snapshot's sfdc taken_at

# hand-made snapshot records (tests/fixtures/handmade)
CM_B, CM_C = "00v5g00000XyZaBAAV", "00v5g00000XyZaCAAV"
LEAD_E, LEAD_F, LEAD_G, LEAD_H = "00Q5g00000AbCdEEAV", "00Q5g00000AbCdFEAV", "00Q5g00000AbCdGEAV", "00Q5g00000AbCdHEAV"
CONTACT_BOB = "0035g00000QrStUAAV"
REQUIRED_MISSING = ("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ["LastName"])


# ------------------------------------------------------------------------------------------ sandbox org


@pytest.fixture
def org(sandbox_org):
    return sandbox_org


def client(h, record: list | None = None):
    """A reconcile Client on the integration user's current session; `record` collects every PATCH payload."""
    c = client_for(h)
    if record is not None:
        original = c.update_collection

        def recording(records):
            record.append(copy.deepcopy(records))
            return original(records)

        c.update_collection = recording
    return c


def admin_sf(h) -> Salesforce:
    import requests

    s = requests.Session()
    s.verify, s.trust_env = h.ca_bundle, False
    return Salesforce(instance_url=h.instance_url, session_id=h.admin_session_id, session=s)


def integration_user(h) -> str:
    return h.org.user("integration").username


def history(h, user: str | None = None) -> list[tuple[str, str]]:
    """(record id, field) of every field-history row, by the integration user unless told otherwise."""
    user = user or integration_user(h)
    return [(r["id"], r["field"]) for r in h.org.field_history if r["user"] == user]


def requests_of(h, method: str | None = None, contains: str = "", start: int = 0) -> list[dict]:
    return [r for r in h.org.request_log[start:] if (method is None or r["method"] == method) and contains in r["path"]]


def collection_patches(h, start: int = 0) -> list[dict]:
    return [
        r for r in requests_of(h, "PATCH", "/composite/sobjects", start) if r["path"].endswith("/composite/sobjects")
    ]


def do_apply(h, plan_path, record: list | None = None, **kw):
    kw.setdefault("now", NOW)
    return apply_plan(plan_path, client=client(h, record), **kw)


def audit_rows(plan_path) -> list[dict]:
    return audit.query(Path(plan_path).parent / "reconcile.duckdb")


def outcome(res, record_id: str, field: str) -> dict:
    hits = [o for o in res.outcomes if o["record_id"] == record_id and o["field"] == field]
    assert len(hits) == 1, hits
    return hits[0]


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def assert_each_change_once(h, changes: list[dict]) -> None:
    """The org's history holds exactly one row per change (record, field) and nothing else by the integration user."""
    hist = Counter(history(h))
    assert all(n == 1 for n in hist.values()), [k for k, n in hist.items() if n > 1]
    assert set(hist) == {(c["record_id"], c["field"]) for c in changes}


def assert_resumed_trail(plan_path, killed: list[dict], changes: list[dict], run_cli) -> None:
    """A resumed run's audit trail: the killed run's rows kept as they were, one applied row per change, and the
    whole trail verifies (`reconcile audit --verify`)."""
    rows = audit_rows(plan_path)
    assert rows[: len(killed)] == killed
    per_change = Counter((r["record_id"], r["field"]) for r in rows if r["result"] == "applied")
    assert per_change == Counter((c["record_id"], c["field"]) for c in changes)
    verified = run_cli("audit", "--db", plan_path.parent / "reconcile.duckdb", "--verify")
    assert verified.exit_code == 0, verified.output


# ------------------------------------------------------------------------------------------ plans


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    """plans.get(tmp_path, key) → a fresh copy of a plan built once per module (its own directory, no audit)."""
    root = tmp_path_factory.mktemp("plans")

    class Plans:
        built: dict[str, tuple[Path, Path, Path]] = {}

        def build(self, key: str, make) -> tuple[Path, Path, Path]:
            """make(dir) → (snapshot_dir, policy_path or None); returns (plan, snapshot, policy)."""
            if key not in self.built:
                d = root / key
                d.mkdir()
                snap, pol = make(d)
                out = d / "out" / "plan.json"
                # Cached for the whole module: signed with the session's key even when the test that happens to
                # build it first (xdist decides which) has set RECONCILE_APPROVAL_KEY to a key of its own.
                with pytest.MonkeyPatch.context() as mp:
                    mp.delenv("RECONCILE_APPROVAL_KEY", raising=False)
                    # reconcile.plan/2, as a large plan is (the CLI's own tests plan small snapshots: /1)
                    build_plan(snap, out=out, policy=pol, exports=False, fmt="parquet")
                self.built[key] = (out, snap, pol)
            return self.built[key]

        def copy(self, tmp_path: Path, key: str, make=None) -> Path:
            src, _, _ = self.build(key, make or MAKERS[key])
            dst = tmp_path / "run" / "plan.json"
            dst.parent.mkdir(parents=True, exist_ok=True)
            copy_plan(src, dst)
            shutil.copy(src.parent / "reconcile.duckdb", dst.parent / "reconcile.duckdb")  # the build it came from
            return dst

        def snapshot(self, key: str) -> Path:
            return self.build(key, MAKERS[key])[1]

        def policy(self, key: str) -> Path | None:
            return self.build(key, MAKERS[key])[2]

    return Plans()


def many_leads(root: Path, n_leads: int, n_members: int = 0, enrich: bool = False, bulk_threshold: int | None = None):
    """A snapshot where every lead has Clay hard-bounce evidence and every member a reply (all ready changes).

    enrich: the enrichment fields are active; even leads get a description (with a comma and a quote), every
    third lead an Industry, so leads carry different sets of fields.
    """
    leads = [lead(i) for i in range(1, n_leads + 1)]
    members = [member(i, i) for i in range(1, n_members + 1)]
    clay = []
    for i in range(1, n_leads + 1):
        row = {"LeadId": lead_id(i), "Email": f"lead{i}@example.com", "Hard Bounced": "true"}
        if enrich and i % 2 == 0:
            row["Company Description"] = f'Co {i}, makes "things"'
        if enrich and i % 3 == 0:
            row["Industry"] = "banking"
        clay.append(row)
    clay += [
        {"CampaignMemberId": member_id(i), "LeadId": lead_id(i), "Email": f"lead{i}@example.com", "Replied": "yes"}
        for i in range(1, n_members + 1)
    ]
    snap = write_snapshot(
        root,
        {
            "sfdc/Lead.csv": csv_text(LEAD_HEADER, leads),
            "sfdc/CampaignMember.csv": csv_text(MEMBER_HEADER, members),
            "sfdc/Campaign.csv": f"Id,Name\n{campaign_id(1)},Campaign 1\n",
            "clay/table.csv": csv_text(CLAY_HEADER, clay),
        },
    )
    replace = {"max_record_fraction = 0.25": "max_record_fraction = 1.0"}
    if bulk_threshold is not None:
        replace["bulk_threshold = 2000"] = f"bulk_threshold = {bulk_threshold}"
    statuses = {"company_description__c": "active", "Industry": "active"} if enrich else None
    return snap, policy_with(root, statuses=statuses, replace=replace)


MAKERS = {
    "handmade": lambda d: (HANDMADE, None),
    "enrich": lambda d: (HANDMADE, policy_with(d, statuses={"company_description__c": "active", "Industry": "active"})),
    "leads30": lambda d: many_leads(d, 30),
    "leads205": lambda d: many_leads(d, 205),
    "cost": lambda d: many_leads(d, 201, 30, enrich=True),
    "bulk": lambda d: many_leads(d, 54, 0, enrich=True, bulk_threshold=50),
}


def prepared(org, plans, tmp_path, key: str, by: str = "Ana Admin", **approve_kw) -> tuple[Path, Path | None]:
    """Seed the org from the plan's snapshot, copy and approve the plan; returns (plan path, policy path)."""
    plan_path = plans.copy(tmp_path, key)
    seed(org, plans.snapshot(key))
    approve_kw.setdefault("policy", plans.policy(key))
    approve(plan_path, by=by, **approve_kw)
    return plan_path, plans.policy(key)


def ready(plan_path) -> list[dict]:
    return [c for c in load_plan(plan_path)["changes"] if c["status"] == "ready"]


# ------------------------------------------------------------------------------------------ transient faults


def test_row_locks_are_retried_until_every_change_lands_once(org, plans, tmp_path):
    plan_path, pol = prepared(org, plans, tmp_path, "leads30")
    org.org.set_faults(lock_fraction=0.3, lock_failures=2)
    res = do_apply(org, plan_path, policy=pol)
    assert res.counts == {"applied": 30}
    assert_each_change_once(org, ready(plan_path))
    assert all(org.org.get("Lead", lead_id(i))["external_hard_bounced__c"] is True for i in range(1, 31))
    # the locked records were refused twice and retried together: one PATCH per round, not per record
    assert len(collection_patches(org)) == 3


def test_http_503_is_retried_and_the_batch_applied(org, plans, tmp_path):
    plan_path, pol = prepared(org, plans, tmp_path, "leads30")
    c = client(org)
    original = c.update_collection

    def first_patch_meets_503s(records):
        if not collection_patches(org):
            org.org.set_faults(http_503_next=2)
        return original(records)

    c.update_collection = first_patch_meets_503s
    res = apply_plan(plan_path, client=c, policy=pol, now=NOW)
    assert res.counts == {"applied": 30}
    statuses = [r["status"] for r in requests_of(org, "PATCH")]
    assert statuses == [503, 503, 200]
    assert_each_change_once(org, ready(plan_path))


def test_a_batch_that_keeps_failing_with_503_is_split_and_still_applied(org, plans, tmp_path):
    plan_path, pol = prepared(org, plans, tmp_path, "leads30")
    c = client(org)
    original = c.update_collection

    def persistent_503(records):
        if not collection_patches(org):
            org.org.set_faults(http_503_next=c.max_attempts)  # the whole first attempt budget fails
        return original(records)

    c.update_collection = persistent_503
    res = apply_plan(plan_path, client=c, policy=pol, now=NOW)
    assert res.counts == {"applied": 30}
    patches = requests_of(org, "PATCH")
    assert [r["status"] for r in patches[: c.max_attempts]] == [503] * c.max_attempts
    assert [r["status"] for r in patches[c.max_attempts :]] == [200, 200]  # two halves
    assert_each_change_once(org, ready(plan_path))


# ------------------------------------------------------------------------------------------ clean stops, resumable


def test_an_outage_stops_cleanly_and_the_same_apply_resumes_once_the_org_answers(org, plans, tmp_path):
    """README runbook: locks and outages → apply the same plan again. A read that still gets 503 after every retry
    stops resumably (exit 3), not as an error saying Salesforce 'refused' the request."""
    plan_path, pol = prepared(org, plans, tmp_path, "leads30")
    org.org.set_faults(http_503_next=1000)
    with pytest.raises(
        ApplyStopped, match=r"Salesforce is unavailable: .*SERVER_UNAVAILABLE.* Nothing was lost: rerun"
    ):
        do_apply(org, plan_path, policy=pol)
    assert not org.org.field_history
    org.org.set_faults(http_503_next=0)
    assert do_apply(org, plan_path, policy=pol).counts == {"applied": 30}


def test_session_expiry_stops_cleanly_and_a_rerun_with_a_new_session_resumes(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    # describe ×2, re-read ×2, PATCH CampaignMember, then the session dies at the PATCH of the Leads
    org.org.set_faults(expire_after_calls=5)
    with pytest.raises(ApplyStopped, match="session expired"):
        do_apply(org, plan_path)
    assert requests_of(org, "PATCH")[-1]["status"] == 401
    assert org.org.get("Lead", LEAD_E)["external_hard_bounced__c"] is False
    rows = audit_rows(plan_path)
    lead_rows = [r for r in rows if r["object"] == "Lead"]
    # announced, then the stop of the call they were in: its code, the run's message (no outcome: the rerun re-reads)
    assert [r["result"] for r in lead_rows] == ["pending", "pending", "stopped", "stopped"]
    assert {r["error_code"] for r in lead_rows if r["result"] == "stopped"} == {"INVALID_SESSION_ID"}
    assert all("session expired" in r["message"] for r in lead_rows if r["result"] == "stopped")
    assert Counter(r["result"] for r in rows if r["object"] == "CampaignMember") == {"pending": 3, "applied": 3}

    org.org.renew_session()
    res = do_apply(org, plan_path)  # a new client with the new session
    assert res.counts == {"already_applied": 3, "applied": 2}
    assert {(o["record_id"], o["result"]) for o in res.outcomes if o["object"] == "Lead"} == {
        (LEAD_E, "applied"),
        (LEAD_F, "applied"),
    }
    assert_each_change_once(org, ready(plan_path))
    rows = audit_rows(plan_path)
    for c in ready(plan_path):
        mine = [r["result"] for r in rows if (r["record_id"], r["field"]) == (c["record_id"], c["field"])]
        # CampaignMember: pending, applied (run 1), already_applied (run 2); Lead: pending, stopped (run 1),
        # pending, applied
        assert mine[0] == "pending" and mine.count("applied") == 1, (c["field"], mine)
        assert set(mine) <= {"pending", "stopped", "applied", "already_applied"}


def test_after_a_resumed_run_a_reapply_reports_already_applied(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    org.org.set_faults(expire_after_calls=5)
    with pytest.raises(ApplyStopped):
        do_apply(org, plan_path)
    org.org.renew_session()
    assert do_apply(org, plan_path).counts == {"already_applied": 3, "applied": 2}
    start = len(org.org.request_log)
    res = do_apply(org, plan_path)
    assert not collection_patches(org, start)
    assert res.counts == {"already_applied": 5}
    con = audit.open_audit(plan_path.parent / "reconcile.duckdb")
    try:
        assert not audit.pending_without_outcome(con, load_plan(plan_path)["plan_id"])
    finally:
        con.close()


def test_request_limit_stops_cleanly_and_resumes_after_the_limit_resets(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    org.org.daily_limit = 5  # describe ×2, re-read ×2, PATCH CampaignMember; the Lead PATCH is refused
    with pytest.raises(ApplyStopped, match="REQUEST_LIMIT_EXCEEDED"):
        do_apply(org, plan_path)
    assert requests_of(org, "PATCH")[-1]["status"] == 403
    stopped = [r for r in audit_rows(plan_path) if r["result"] == "stopped"]
    assert {(r["object"], r["error_code"]) for r in stopped} == {("Lead", "REQUEST_LIMIT_EXCEEDED")} and len(
        stopped
    ) == 2
    assert history(org) == [
        (CM_B, "Has_Replied__c"),
        (CM_B, "ReplyClassification__c"),
        (CM_C, "ReplyClassification__c"),
    ]
    org.org.reset_counters()  # the 24 h window rolls over
    res = do_apply(org, plan_path)
    assert res.counts == {"already_applied": 3, "applied": 2}
    assert_each_change_once(org, ready(plan_path))


def test_killed_after_sending_before_recording_resumes_without_double_writes(org, plans, tmp_path):
    """The process dies right after Salesforce committed a batch but before the outcome rows were written."""
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    c = client(org)
    original = c.update_collection

    def dies_after_first_patch(records):
        original(records)  # sent and answered; the process dies before recording the outcome
        raise KeyboardInterrupt("killed")

    c.update_collection = dies_after_first_patch
    with pytest.raises(KeyboardInterrupt):
        apply_plan(plan_path, client=c, now=NOW)
    assert history(org) == [
        (CM_B, "Has_Replied__c"),
        (CM_B, "ReplyClassification__c"),
        (CM_C, "ReplyClassification__c"),
    ]
    assert {r["result"] for r in audit_rows(plan_path)} == {"pending"}
    res = do_apply(org, plan_path)
    assert res.counts == {"applied": 5}
    assert {o["message"] for o in res.outcomes if o["object"] == "CampaignMember"} == {
        "confirmed after an interrupted run"
    }
    assert_each_change_once(org, ready(plan_path))
    assert len(collection_patches(org)) == 2  # the CampaignMember batch was not sent again


KILL_SCRIPT = """
import json, sys
from datetime import datetime, timedelta, timezone
from reconcile.apply.apply import apply_plan
from reconcile.salesforce import connect
env, plan, policy = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
apply_plan(plan, client=connect(env=env), policy=policy, now=datetime(2026, 11, 27, 7, tzinfo=timezone.utc))
print("finished")
"""


def test_apply_process_killed_mid_run_resumes_without_double_writes(org, plans, tmp_path):
    """A real `kill -9` of an apply process after its first batch reached Salesforce."""
    plan_path, pol = prepared(org, plans, tmp_path, "leads205")  # two collection batches: 200 + 5
    script = tmp_path / "apply_child.py"
    script.write_text(KILL_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), json.dumps(sandbox_env(org)), str(plan_path), str(pol)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not requests_of(org, "POST", "/composite/sobjects/Lead"):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
            time.sleep(0.005)
        org.org.set_faults(latency_ms=400)  # slow the writes down so the kill lands between the two batches
        while not [r for r in collection_patches(org) if r["status"] == 200]:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(0.6)  # let a request the child may still have had in flight finish on the server side
    org.org.set_faults(latency_ms=0)
    written_before = len(history(org))
    assert 200 <= written_before < 205, written_before
    rows = audit_rows(plan_path)
    assert rows and {r["result"] for r in rows} == {"pending"}  # killed before any outcome row

    res = do_apply(org, plan_path, policy=pol)
    assert res.counts == {"applied": 205}
    assert Counter(o["message"] for o in res.outcomes)["confirmed after an interrupted run"] >= 200
    assert_each_change_once(org, ready(plan_path))
    con = audit.open_audit(plan_path.parent / "reconcile.duckdb")
    assert not audit.pending_without_outcome(con, load_plan(plan_path)["plan_id"])
    con.close()


PAUSE_SCRIPT = """
import sys, time
from datetime import datetime, timedelta, timezone
import reconcile.apply.apply as apply_module
from reconcile.cli import app
from reconcile.salesforce import Client

NOW = datetime(2026, 11, 27, 7, tzinfo=timezone.utc)
apply_module.utc_now = lambda: NOW
where, plan, policy = sys.argv[1:4]


def pause():
    print("paused", flush=True)
    time.sleep(600)


update_collection, submit, wait = Client.update_collection, Client._submit_update, Client._wait_for_ingest


def patch_collection(self, records):
    if where == "before-call":
        pause()
    answer = update_collection(self, records)
    if where == "after-call":
        pause()
    return answer


def submit_update(self, sobject, data, on_created=None, on_abandoned=None):
    if where == "bulk-uploaded":  # the job is created (and recorded) and its CSV uploaded, but it is never closed
        bulk = self._bulk2(sobject)
        job_id = bulk.create_job("update")["id"]
        on_created(job_id)
        bulk.upload_job_data(job_id, data)
        pause()
    if where == "bulk-resent":  # as before a failed close was settled: the job is closed (its answer lost), and the
        bulk = self._bulk2(sobject)  # same records go into a second job, created and uploaded, never closed
        for close in (True, False):
            job_id = bulk.create_job("update")["id"]
            on_created(job_id)
            bulk.upload_job_data(job_id, data)
            if close:
                bulk.close_job(job_id)
        pause()
    return submit(self, sobject, data, on_created, on_abandoned)


def wait_for_ingest(self, sobject, job_id):
    if where == "bulk-closed":  # UploadComplete was answered: the org runs the job; no poll, no results read
        pause()
    return wait(self, sobject, job_id)


Client.update_collection, Client._submit_update, Client._wait_for_ingest = patch_collection, submit_update, wait_for_ingest
app(["apply", plan, "--policy", policy] if policy else ["apply", plan])
"""


def kill_paused_apply(org, tmp_path, where: str, plan_path, pol) -> None:
    """Run a real `reconcile apply` (PAUSE_SCRIPT) until it stops at `where`, then SIGKILL it."""
    script = tmp_path / "apply_paused.py"
    script.write_text(PAUSE_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), where, str(plan_path), str(pol or "")],
        cwd=tmp_path,
        env={**os.environ, **sandbox_env(org)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "paused", proc.stderr.read() if proc.poll() is not None else line
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(
    "key, where, confirmed",
    [
        ("handmade", "before-call", 0),  # the pending rows are written, the PATCH never sent
        ("handmade", "after-call", 3),  # the CampaignMember PATCH answered, its outcome rows never written
        ("bulk", "bulk-uploaded", 0),  # a Bulk API 2.0 job open with its data: it never runs
        ("bulk", "bulk-closed", -1),  # a job the org ran (every record), its results never read
    ],
)
def test_a_real_apply_killed_at_each_moment_resumes_with_one_write_and_a_whole_trail(
    org, plans, tmp_path, run_cli, key, where, confirmed
):
    plan_path, pol = prepared(org, plans, tmp_path, key)
    changes = ready(plan_path)
    kill_paused_apply(org, tmp_path, where, plan_path, pol)
    killed = audit_rows(plan_path)
    # a Bulk job's changes: 'pending', then 'submitted' with the job's id once Salesforce created it
    assert killed and {r["result"] for r in killed} == ({"pending", "submitted"} if key == "bulk" else {"pending"})

    res = do_apply(org, plan_path, policy=pol)
    assert res.counts == {"applied": len(changes)}
    n_confirmed = Counter(o["message"] for o in res.outcomes)["confirmed after an interrupted run"]
    assert n_confirmed == (len(changes) if confirmed < 0 else confirmed)
    # one write per change: the field history, and the write requests themselves (a same-value rewrite leaves none)
    assert_each_change_once(org, changes)
    if key == "bulk":
        assert ingest_jobs_run(org) == 1 and not collection_patches(org)
    else:
        assert len([r for r in collection_patches(org) if r["status"] == 200]) == 2
    # no lost or duplicated audit rows: the killed run's pending rows kept, one applied row per change
    assert_resumed_trail(plan_path, killed, changes, run_cli)
    results = read_csv(res.files["results"])
    assert sorted((r["record_id"], r["field"], r["result"]) for r in results) == sorted(
        (c["record_id"], c["field"], "applied") for c in changes
    )
    assert read_csv(res.files["exceptions_csv"]) == []
    undo = load_plan(res.files["undo"])
    assert {(c["record_id"], c["field"]) for c in undo["changes"]} == {(c["record_id"], c["field"]) for c in changes}


def test_a_real_apply_killed_while_its_bulk_job_is_in_progress_resumes_from_that_job(org, plans, tmp_path, run_cli):
    """A real org runs a closed Bulk API 2.0 job later (InProgress): a rerun whose re-read still sees the old values
    must wait for that job and take its results, not send a second job for the same records."""
    plan_path, pol = prepared(org, plans, tmp_path, "bulk")
    changes = ready(plan_path)
    org.org.set_faults(bulk_processing_polls=3)
    kill_paused_apply(org, tmp_path, "bulk-closed", plan_path, pol)
    [job] = [j["info"] for j in org.org.jobs.values() if j["kind"] == "ingest"]
    assert job["state"] == "UploadComplete" and not history(org)  # closed, not yet run: the re-read sees old values
    killed = audit_rows(plan_path)

    res = do_apply(org, plan_path, policy=pol)
    # exactly one job in all: created once, closed once, run once; each change written once
    assert len(requests_of(org, "POST", "/jobs/ingest")) == 1
    assert len(requests_of(org, "PATCH", "/jobs/ingest/")) == 1
    assert res.counts == {"applied": len(changes)}
    assert Counter(o["message"] for o in res.outcomes)["confirmed after an interrupted run"] == len(changes)
    assert ingest_jobs_run(org) == 1 and not collection_patches(org)
    assert_each_change_once(org, changes)
    assert_resumed_trail(plan_path, killed, changes, run_cli)


# ------------------------------------------------------------------------------------------ per-record errors


def test_missing_required_field_fails_that_record_only_and_is_exported(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    org.org.set_faults(fail_records={LEAD_F: REQUIRED_MISSING})
    res = do_apply(org, plan_path)
    assert res.counts == {"applied": 4, "failed": 1}
    failed = outcome(res, LEAD_F, "external_hard_bounced__c")
    assert failed["result"] == "failed" and failed["error_code"] == "REQUIRED_FIELD_MISSING"
    assert "LastName" in failed["message"]
    # the same batch went on: the other lead of that single PATCH was written
    assert len(collection_patches(org)) == 2
    assert org.org.get("Lead", LEAD_E)["external_hard_bounced__c"] is True
    assert org.org.get("Lead", LEAD_F)["external_hard_bounced__c"] is False

    exc = read_csv(res.files["exceptions_csv"])
    assert [(r["record_id"], r["field"], r["result"], r["error_code"], r["owner"]) for r in exc] == [
        (LEAD_F, "external_hard_bounced__c", "failed", "REQUIRED_FIELD_MISSING", "CRM Admin")
    ]
    assert "validation-bypass permission" in exc[0]["next_step"]  # the seed's runbook (3.5)
    md = res.files["exceptions_md"].read_text("utf-8")
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert table[0] == "| object | record_id | field | result | error_code | message | owner | next_step |"
    assert table[1].startswith("|---|")
    assert len(table) == 3
    cells = [c.strip() for c in table[2].strip("|").split("|")]
    assert cells[:5] == ["Lead", LEAD_F, "external_hard_bounced__c", "failed", "REQUIRED_FIELD_MISSING"]
    assert "LastName" in cells[5] and cells[6] == "CRM Admin" and "validation-bypass" in cells[7]
    assert load_plan(plan_path)["plan_id"] in md
    audit_failed = [r for r in audit_rows(plan_path) if r["result"] == "failed"]
    assert [(r["record_id"], r["error_code"], r["approver"]) for r in audit_failed] == [
        (LEAD_F, "REQUIRED_FIELD_MISSING", "Ana Admin")
    ]


def test_exceptions_markdown_table_survives_pipes_and_newlines_in_messages(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    org.org.set_faults(
        fail_records={
            CM_C: ("REQUIRED_FIELD_MISSING", "Required fields are missing: [Status|Type]\nsee the layout", ["Status"]),
            LEAD_E: REQUIRED_MISSING,
        }
    )
    res = do_apply(org, plan_path)
    assert res.counts == {"applied": 3, "failed": 2}
    table = [line for line in res.files["exceptions_md"].read_text("utf-8").splitlines() if line.startswith("|")]
    assert len(table) == 2 + 2
    for row in table[2:]:
        assert len(row.replace("\\|", "").strip("|").split("|")) == 8, row
    assert {r["record_id"] for r in read_csv(res.files["exceptions_csv"])} == {CM_C, LEAD_E}
    # a failed record is retried by the next run (it was never written)
    org.org.set_faults(fail_records={})
    res2 = do_apply(org, plan_path)
    assert res2.counts == {"already_applied": 3, "applied": 2}
    assert_each_change_once(org, ready(plan_path))


# ------------------------------------------------------------------------------------------ Bulk API 2.0


def test_large_plans_go_through_bulk_api_and_results_join_back_by_id(org, plans, tmp_path):
    plan_path, pol = prepared(org, plans, tmp_path, "bulk")  # 54 leads > bulk_threshold 50
    changes = ready(plan_path)
    assert {c["field"] for c in changes} == {"external_hard_bounced__c", "company_description__c", "Industry"}
    start = len(org.org.request_log)
    res = do_apply(org, plan_path, policy=pol)
    assert res.counts == {"applied": len(changes)}
    # the API requests apply reports are the org's: a job's create, upload and close are three
    assert res.requests == len(org.org.request_log) - start
    assert requests_of(org, "POST", "/jobs/ingest")
    assert requests_of(org, "PUT", "/batches")
    assert not collection_patches(org)
    for i in range(1, 55):
        rec = org.org.get("Lead", lead_id(i))
        assert rec["external_hard_bounced__c"] is True
        # a lead without a description change keeps its (blank) value: an empty CSV cell is "leave unchanged"
        assert rec["company_description__c"] == (f'Co {i}, makes "things"' if i % 2 == 0 else None), i
        assert rec["Industry"] == ("Banking" if i % 3 == 0 else None), i
    assert_each_change_once(org, changes)
    assert {(o["record_id"], o["field"]) for o in res.outcomes if o["result"] == "applied"} == {
        (c["record_id"], c["field"]) for c in changes
    }


def test_bulk_failures_and_locks_join_back_to_the_right_records(org, plans, tmp_path):
    plan_path, pol = prepared(org, plans, tmp_path, "bulk")
    bad = {lead_id(7), lead_id(42)}
    org.org.set_faults(fail_records={r: REQUIRED_MISSING for r in bad}, lock_fraction=0.15)
    res = do_apply(org, plan_path, policy=pol)
    for o in res.outcomes:
        if o["record_id"] in bad:
            assert (o["result"], o["error_code"]) == ("failed", "REQUIRED_FIELD_MISSING"), o
        else:
            assert o["result"] == "applied", o
    assert requests_of(org, "POST", "/jobs/ingest")
    assert collection_patches(org), "locked rows are retried (sObject Collections)"
    assert_each_change_once(org, [c for c in ready(plan_path) if c["record_id"] not in bad])
    exc = read_csv(res.files["exceptions_csv"])
    assert {r["record_id"] for r in exc} == bad


def test_bulk_record_errors_are_exported_with_salesforces_message_as_collections_give_it(org, plans, tmp_path):
    """failedResults' sf__Error is 'CODE:message:fields --' (Bulk API 2.0 docs): the exception is the message alone."""
    plan_path, pol = prepared(org, plans, tmp_path, "bulk")
    faults = {
        lead_id(7): REQUIRED_MISSING,
        lead_id(8): ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Description: no quotes, please", []),
        lead_id(9): (
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "Industry and size: pick both",
            ["Industry", "NumberOfEmployees"],
        ),
    }
    org.org.set_faults(fail_records=faults)
    res = do_apply(org, plan_path, policy=pol)
    failed = {(o["record_id"], o["error_code"], o["message"]) for o in res.outcomes if o["result"] == "failed"}
    assert {(r, code, message) for r, (code, message, _) in faults.items()} == failed
    exported = {(r["record_id"], r["error_code"], r["message"]) for r in read_csv(res.files["exceptions_csv"])}
    assert exported == failed
    md = res.files["exceptions_md"].read_text("utf-8")
    assert "REQUIRED_FIELD_MISSING" in md and " --" not in md and ":LastName" not in md
    assert {o["result"] for o in res.outcomes if o["record_id"] not in faults} == {"applied"}


@pytest.mark.parametrize("calls_before_expiry", [3, 5, 6], ids=["at-upload", "after-commit-at-poll", "at-results"])
def test_session_expiry_during_a_bulk_job_resumes_without_double_writes(org, plans, tmp_path, calls_before_expiry):
    """describe, re-read, create job, upload CSV, UploadComplete (commits), poll, results: expire at each stage."""
    plan_path, pol = prepared(org, plans, tmp_path, "bulk")
    org.org.set_faults(expire_after_calls=calls_before_expiry)
    with pytest.raises(ApplyStopped):
        do_apply(org, plan_path, policy=pol)
    # the job was created; expired at its upload, it was given up (and could not be aborted: the session had expired)
    expected = {"pending", "submitted"} | ({"abandoned"} if calls_before_expiry == 3 else set())
    assert {r["result"] for r in audit_rows(plan_path)} == expected
    org.org.renew_session()
    res = do_apply(org, plan_path, policy=pol)
    assert set(res.counts) == {"applied"}
    assert_each_change_once(org, ready(plan_path))


def test_http_503_on_the_bulk_path_is_retried(org, plans, tmp_path):
    plan_path, pol = prepared(org, plans, tmp_path, "bulk")
    c = client(org)
    original = c.bulk_update

    def job_meets_a_503(*args, **kw):
        org.org.set_faults(http_503_next=1)
        return original(*args, **kw)

    c.bulk_update = job_meets_a_503
    res = apply_plan(plan_path, client=c, policy=pol, now=NOW)
    assert set(res.counts) == {"applied"}
    assert_each_change_once(org, ready(plan_path))
    assert [r["status"] for r in org.org.request_log].count(503) == 1  # the org did answer 503 once …
    assert c.retries == 1  # … and the client retried it


def ingest_jobs_run(h) -> int:
    """Bulk API 2.0 ingest jobs the org processed (closed with UploadComplete): each writes all its records."""
    return sum(1 for j in h.org.jobs.values() if j["kind"] == "ingest" and j["info"]["state"] == "JobComplete")


@pytest.mark.parametrize(
    "request_503",
    [r"^GET .*/jobs/ingest/[^/]+$", r"^GET .*/successfulResults$", r"^GET .*/failedResults$"],
    ids=["poll", "successful-results", "failed-results"],
)
def test_a_503_after_the_bulk_job_committed_retries_that_read_not_the_job(org, plans, tmp_path, request_503):
    """The job has written every record once it is UploadComplete: a 503 on a later read must not send it again."""
    plan_path, pol = prepared(org, plans, tmp_path, "bulk")
    org.org.set_faults(http_503_paths={request_503: 2})
    c = client(org)
    res = apply_plan(plan_path, client=c, policy=pol, now=NOW)
    assert set(res.counts) == {"applied"}
    assert [r["status"] for r in org.org.request_log].count(503) == 2 and c.retries == 2
    assert ingest_jobs_run(org) == 1 and len(requests_of(org, "POST", "/jobs/ingest")) == 1
    assert_each_change_once(org, ready(plan_path))


@pytest.mark.parametrize(
    "requests_allowed", [4, 5, 6, 7], ids=["before-close", "at-poll", "at-results", "at-failed-results"]
)
def test_request_limit_during_a_bulk_job_stops_and_resumes_without_a_second_job(org, plans, tmp_path, requests_allowed):
    """describe, re-read, create job, upload CSV, UploadComplete (commits), poll, results: the limit hits each stage."""
    plan_path, pol = prepared(org, plans, tmp_path, "bulk")
    org.org.daily_limit = requests_allowed
    with pytest.raises(ApplyStopped, match="REQUEST_LIMIT_EXCEEDED"):
        do_apply(org, plan_path, policy=pol)
    assert {r["result"] for r in audit_rows(plan_path)} == {"pending", "submitted"}  # the job was created
    committed = requests_allowed >= 5
    org.org.daily_limit = 15000
    org.org.reset_counters()  # the 24 h window rolls over
    res = do_apply(org, plan_path, policy=pol)
    assert set(res.counts) == {"applied"}
    assert ingest_jobs_run(org) == 1
    confirmed = Counter(o["message"] for o in res.outcomes)["confirmed after an interrupted run"]
    assert confirmed == (len(res.outcomes) if committed else 0)
    assert_each_change_once(org, ready(plan_path))


# ------------------------------------------------------------------------------------------ API cost


def test_api_cost_is_one_collection_call_per_200_records_per_object(org, plans, tmp_path):
    sent: list = []
    plan_path, pol = prepared(org, plans, tmp_path, "cost")  # 201 leads (1–3 fields each), 30 members
    changes = ready(plan_path)
    res = do_apply(org, plan_path, policy=pol, record=sent)
    assert res.counts == {"applied": len(changes)}
    records_of = Counter(c["object"] for c in {(c["object"], c["record_id"]): c for c in changes}.values())
    assert records_of == {"Lead": 201, "CampaignMember": 30}
    expected = sum(math.ceil(n / COLLECTION_CHUNK) for n in records_of.values())
    assert len(collection_patches(org)) == expected == 2 + 1
    # one row per record carrying all its approved fields; no record twice
    rows = [r for batch in sent for r in batch]
    assert all(len(batch) <= COLLECTION_CHUNK for batch in sent)
    assert len(rows) == len({r["id"] for r in rows}) == 231
    want = {}
    for c in changes:
        want.setdefault(c["record_id"], {})[c["field"]] = c["after"]
    assert {r["id"]: {k: v for k, v in r.items() if k not in ("attributes", "id")} for r in rows} == want
    # the re-read: one POST composite/sobjects/{object} per object (≤ 2,000 ids each)
    assert len(requests_of(org, "POST", "/composite/sobjects/Lead")) == 1
    assert len(requests_of(org, "POST", "/composite/sobjects/CampaignMember")) == 1
    assert res.requests == len(org.org.request_log)


# ------------------------------------------------------------------------------------------ undo plan


def test_undo_plan_swaps_before_and_after_and_restores_the_org(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    targets = [("CampaignMember", CM_B), ("CampaignMember", CM_C), ("Lead", LEAD_E), ("Lead", LEAD_F)]
    original = {rid: org.org.get(obj, rid) for obj, rid in targets}
    res = do_apply(org, plan_path)
    undo_path = res.files["undo"]
    assert undo_path.exists()
    undo = load_plan(undo_path)  # verifies plan_id against the content
    plan = load_plan(plan_path)
    assert undo["undoes"] == plan["plan_id"] and undo["plan_id"] != plan["plan_id"]
    applied = {(o["object"], o["record_id"], o["field"]): (o["before"], o["after"]) for o in res.outcomes}
    assert {(c["object"], c["record_id"], c["field"]): (c["after"], c["before"]) for c in undo["changes"]} == applied
    assert all(c["status"] == "ready" for c in undo["changes"])

    with pytest.raises(ApprovalError, match="is not approved"):
        do_apply(org, undo_path, now=None)  # the undo plan needs its own approval
    approve(undo_path, by="Ana Admin")
    res2 = do_apply(org, undo_path, now=None)
    assert res2.counts == {"applied": 5}
    for c in undo["changes"]:
        assert org.org.get(c["object"], c["record_id"])[c["field"]] == original[c["record_id"]][c["field"]]
    assert Counter(history(org)) == {(c["record_id"], c["field"]): 2 for c in undo["changes"]}


def test_undo_plan_through_bulk_api_restores_blank_values(org, plans, tmp_path):
    """Undoing a fill-if-blank writes null back; through Bulk API 2.0 that must be '#N/A', not an empty cell."""
    plan_path, pol = prepared(org, plans, tmp_path, "bulk")
    res = do_apply(org, plan_path, policy=pol)
    undo_path = res.files["undo"]
    approve(undo_path, by="Ana Admin")
    res2 = do_apply(org, undo_path, policy=pol, now=None)
    assert set(res2.counts) == {"applied"}
    for i in range(1, 55):
        rec = org.org.get("Lead", lead_id(i))
        assert (rec["company_description__c"], rec["Industry"], rec["external_hard_bounced__c"]) == (
            None,
            None,
            False,
        ), i


def test_undo_of_a_partly_failed_apply_holds_only_what_was_written_and_skips_what_a_person_changed(
    org, plans, tmp_path
):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    original = {rid: org.org.get(obj, rid) for obj, rid in [("CampaignMember", CM_B), ("Lead", LEAD_E)]}
    org.org.set_faults(fail_records={LEAD_F: REQUIRED_MISSING})
    res = do_apply(org, plan_path)
    assert res.counts == {"applied": 4, "failed": 1}
    undo_path = res.files["undo"]
    undo = load_plan(undo_path)
    assert {(c["record_id"], c["field"]) for c in undo["changes"]} == {
        (o["record_id"], o["field"]) for o in res.outcomes if o["result"] == "applied"
    }
    admin_sf(org).CampaignMember.update(CM_C, {"ReplyClassification__c": "Wrong Person"})  # a person corrects it
    approve(undo_path, by="Ana Admin")
    res2 = do_apply(org, undo_path, now=None)
    assert res2.counts == {"applied": 3, "drifted": 1}
    assert (
        outcome(res2, CM_C, "ReplyClassification__c")["result"],
        org.org.get("CampaignMember", CM_C)["ReplyClassification__c"],
    ) == ("drifted", "Wrong Person")
    # before-images exactly: a blank back to null, a checkbox back to false, a picklist to its stored value
    for rid, rec in original.items():
        now = org.org.get("Lead" if rid == LEAD_E else "CampaignMember", rid)
        assert {k: now[k] for k in rec if k not in ("LastModifiedDate", "SystemModstamp", "LastModifiedById")} == {
            k: rec[k] for k in rec if k not in ("LastModifiedDate", "SystemModstamp", "LastModifiedById")
        }


def test_bulk_csv_carries_commas_quotes_newlines_and_non_ascii_and_clears_with_na(org):
    """Bulk API 2.0 CSV (docs: 'Valid CSV Record Rows'): RFC 4180 quoting, UTF-8; '#N/A' sets a field to null."""
    seed(org, HANDMADE)
    admin_sf(org).Lead.update(LEAD_F, {"company_description__c": "to be cleared"})
    admin_sf(org).Lead.update(LEAD_E, {"Industry": "Banking"})
    value = 'Zürich, "Bank" AG\nzweite Zeile – 日本'
    ok, failed = client(org).bulk_update(
        "Lead",
        [
            {"Id": LEAD_E, "company_description__c": value, "Industry": ""},
            {"Id": LEAD_F, "company_description__c": "#N/A", "Industry": "Banking"},
        ],
    )
    assert not list(csv.DictReader(failed.splitlines(keepends=True)))
    assert len(list(csv.DictReader(ok.splitlines(keepends=True)))) == 2
    e, f = org.org.get("Lead", LEAD_E), org.org.get("Lead", LEAD_F)
    assert e["company_description__c"] == value and f["company_description__c"] is None
    assert (e["Industry"], f["Industry"]) == ("Banking", "Banking")  # an empty cell leaves the field as it was


def test_undo_plan_after_a_resumed_run_covers_every_applied_change(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    org.org.set_faults(expire_after_calls=5)
    with pytest.raises(ApplyStopped):
        do_apply(org, plan_path)
    org.org.renew_session()
    do_apply(org, plan_path)
    undo = load_plan(plan_path.with_name("plan.undo.json"))
    assert {(c["record_id"], c["field"]) for c in undo["changes"]} == {
        (c["record_id"], c["field"]) for c in ready(plan_path)
    }


# ------------------------------------------------------------------------------------------ snapshot age


def test_stale_snapshot_is_refused_before_anything_is_read(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    with pytest.raises(ApplyError, match="max_snapshot_age_hours"):
        do_apply(org, plan_path, now=datetime(2026, 12, 5, tzinfo=timezone.utc))
    assert not org.org.request_log


# ------------------------------------------------------------------------------------------ the DuckDB file


def test_an_undo_plan_applies_days_later_its_drift_check_guarding_each_record(org, plans, tmp_path):
    """An undo plan has no snapshot to go stale (its before-images come from the audit; each record is re-read)."""
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    undo_path = do_apply(org, plan_path).files["undo"]
    approve(undo_path, by="Ana Admin")
    admin_sf(org).CampaignMember.update(CM_C, {"ReplyClassification__c": "Wrong Person"})
    later = datetime.now(timezone.utc) + timedelta(days=5)
    res = do_apply(org, undo_path, now=later)
    assert res.counts == {"applied": 4, "drifted": 1}
    assert org.org.get("Lead", LEAD_E)["external_hard_bounced__c"] is False


def test_a_new_plan_into_the_same_database_keeps_the_audit_trail(org, plans, tmp_path):
    """`reconcile plan` rebuilds the DuckDB file beside it and moves it over the old one: the audit trail of
    earlier applies is carried over (rows and sequence), and a failed plan leaves the file as it was."""
    plan_path, pol = prepared(org, plans, tmp_path, "handmade")
    do_apply(org, plan_path)
    before = audit_rows(plan_path)
    assert before
    db = plan_path.parent / "reconcile.duckdb"
    build_plan(plans.snapshot("handmade"), out=plan_path.parent / "again.json", db=db, exports=False)
    assert audit_rows(plan_path) == before
    bad = write_snapshot(tmp_path / "bad", {"sfdc/Lead.csv": csv_text(LEAD_HEADER, [lead(1, IsConverted="maybe")])})
    with pytest.raises(SnapshotError):
        build_plan(bad, out=plan_path.parent / "bad.json", db=db, exports=False)
    assert audit_rows(plan_path) == before
    assert sorted(p.name for p in plan_path.parent.iterdir() if p.name.startswith("reconcile.duckdb")) == [
        "reconcile.duckdb"
    ]
    # the next apply appends after the carried rows
    approve(plan_path.parent / "again.json", by="Ana Admin")
    do_apply(org, plan_path.parent / "again.json")
    after = audit_rows(plan_path)
    assert after[: len(before)] == before
    assert len(after) > len(before) and min(r["seq"] for r in after[len(before) :]) > max(r["seq"] for r in before)


def _hold(db: Path, read_only: bool):
    """Another process holding the DuckDB file (a notebook, or an apply writing its audit)."""
    code = (
        "import sys, time, duckdb; c = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == '1'); "
        "print('held', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(db), "1" if read_only else "0"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_plan_and_apply_refuse_a_database_another_process_is_writing(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    db = plan_path.parent / "reconcile.duckdb"
    do_apply(org, plan_path)
    before = audit_rows(plan_path)
    holder = _hold(db, read_only=False)  # e.g. an apply still running
    try:
        with pytest.raises(ReconcileError, match="cannot be opened .*If an apply or another plan is running"):
            build_plan(plans.snapshot("handmade"), out=plan_path.parent / "again.json", db=db, exports=False)
    finally:
        holder.kill()
        holder.wait()
    holder = _hold(db, read_only=True)  # e.g. a plan building the next file
    try:
        with pytest.raises(ReconcileError, match="is in use by another process"):
            do_apply(org, plan_path)
    finally:
        holder.kill()
        holder.wait()
    assert audit_rows(plan_path) == before
