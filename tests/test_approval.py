"""End-to-end approval and the apply-time safety checks: plan binding, gates, scope, overwrite releases,
the allowlist re-check, drift and re-apply — against the local sandbox org over HTTPS.

Fixtures and helpers come from tests/test_apply.py (module-scoped sandbox org reset for every test).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter

import pytest

import duckdb

from reconcile import provenance
from reconcile.approval import approval_path, approve
from reconcile.errors import ApprovalError, PlanError
from reconcile.plan import load_plan, save_plan
from reconcile.planfile import copy_plan
from test_apply import (
    CM_B,
    CM_C,
    CONTACT_BOB,
    LEAD_E,
    LEAD_F,
    LEAD_G,
    LEAD_H,
    MAKERS,
    admin_sf,
    assert_each_change_once,
    audit_rows,
    do_apply,
    history,
    outcome,
    policy_with,
    prepared,
    read_csv,
    ready,
    requests_of,
    seed,
)
from test_apply import org, plans  # noqa: F401  (fixtures)

FIELD_VALUES = (
    ("CampaignMember", CM_B),
    ("CampaignMember", CM_C),
    ("Lead", LEAD_E),
    ("Lead", LEAD_F),
    ("Lead", LEAD_G),
    ("Lead", LEAD_H),
    ("Contact", CONTACT_BOB),
)

MAKERS.update(
    {
        "gated": lambda d: (
            MAKERS["handmade"](d)[0],
            policy_with(d, replace={"max_ready_changes_per_field = 5000": "max_ready_changes_per_field = 0"}),
        ),
    }
)


def org_state(h) -> dict:
    """Every stored (non-formula) field of the hand-made records, minus the audit stamps."""
    skip = {"LastModifiedDate", "SystemModstamp", "LastModifiedById"}
    return {rid: {k: v for k, v in h.org.records(obj)[rid].items() if k not in skip} for obj, rid in FIELD_VALUES}


def edit_plan(plan_path, mutate, rehash: bool = True) -> dict:
    plan = load_plan(plan_path, verify=False)
    mutate(plan)
    return save_plan(plan, plan_path, rehash=rehash)


def built(plan_path) -> None:
    """Record the (edited) plan in its DuckDB file as `reconcile plan` would: it stands for a plan the rules built
    wrongly (a bug in a SQL rule), so the apply-time checks are what must stop it."""
    con = duckdb.connect(str(plan_path.parent / "reconcile.duckdb"))
    try:
        provenance.record(con, load_plan(plan_path))
    finally:
        con.close()


def change_of(plan: dict, record_id: str, field: str) -> dict:
    hits = [c for c in plan["changes"] if c["record_id"] == record_id and c["field"] == field]
    assert len(hits) == 1
    return hits[0]


def made_ready(change: dict, **kw) -> dict:
    change.update({"status": "ready", "reason": None, "reasons": [], **kw})
    return change


def new_change(obj, rid, field, before, after, reasons=()) -> dict:
    return {
        "object": obj,
        "record_id": rid,
        "field": field,
        "before": before,
        "after": after,
        "rule": "hand_edit",
        "status": "blocked" if reasons else "ready",
        "reason": reasons[0] if reasons else None,
        "reasons": list(reasons),
        "evidence": [],
        "campaign_id": None,
        "gbu": None,
    }


def add_changes(plan: dict, *changes) -> None:
    plan["changes"] = sorted(plan["changes"] + list(changes), key=lambda c: (c["object"], c["record_id"], c["field"]))


HANDMADE_READY = {
    (CM_B, "Has_Replied__c"): True,
    (CM_B, "ReplyClassification__c"): "Interested",
    (CM_C, "ReplyClassification__c"): "Not Interested",
    (LEAD_E, "external_hard_bounced__c"): True,
    (LEAD_F, "external_hard_bounced__c"): True,
}


# ------------------------------------------------------------------------------------------ happy path


def test_happy_path_writes_only_approved_allowlisted_fields(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    before = org_state(org)
    sent: list = []
    res = do_apply(org, plan_path, record=sent)
    assert res.counts == {"applied": 5}
    after = org_state(org)
    changed = {(rid, k) for rid in before for k in before[rid] if before[rid][k] != after[rid][k]}
    assert changed == set(HANDMADE_READY)
    for (rid, field), value in HANDMADE_READY.items():
        assert after[rid][field] == value
    # blocked changes were never sent: every payload field is an active allowlisted field of a ready change
    payload_fields = {(r["id"], k) for batch in sent for r in batch for k in r if k not in ("attributes", "id")}
    assert payload_fields == set(HANDMADE_READY)
    assert all(r["attributes"]["type"] in ("Lead", "CampaignMember") for batch in sent for r in batch)
    # exactly one history row per applied field, all by the integration user
    assert_each_change_once(org, ready(plan_path))
    assert all(r["user"] == org.org.user("integration").username for r in org.org.field_history)
    # audit: one pending (write-ahead) and one applied row per change, bound to plan and approver
    rows = audit_rows(plan_path)
    plan_id = load_plan(plan_path)["plan_id"]
    assert Counter(r["result"] for r in rows) == {"pending": 5, "applied": 5}
    assert {(r["plan_id"], r["approver"]) for r in rows} == {(plan_id, "Ana Admin")}
    seq = {(r["record_id"], r["field"], r["result"]): r["seq"] for r in rows}
    assert all(seq[(rid, f, "pending")] < seq[(rid, f, "applied")] for rid, f in HANDMADE_READY)  # write-ahead
    assert (
        json.loads(next(r for r in rows if r["field"] == "ReplyClassification__c" and r["record_id"] == CM_C)["before"])
        == "Interested"
    )
    # exports
    results = read_csv(res.files["results"])
    assert {(r["record_id"], r["field"], r["result"]) for r in results} == {
        (rid, f, "applied") for rid, f in HANDMADE_READY
    }
    assert read_csv(res.files["exceptions_csv"]) == []
    assert len(read_csv(res.files["audit"])) == 10


def test_unapproved_plan_is_refused_naming_the_file_and_the_fix(org, plans, tmp_path):
    plan_path = plans.copy(tmp_path, "handmade")
    seed(org, plans.snapshot("handmade"))
    with pytest.raises(ApprovalError) as e:
        do_apply(org, plan_path)
    msg = str(e.value)
    assert str(plan_path) in msg and "plan.approval.json" in msg
    assert "reconcile approve" in msg and "--by" in msg
    assert not org.org.request_log and not org.org.field_history


def test_plan_edited_after_approval_is_refused(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    edit_plan(
        plan_path, lambda p: change_of(p, CM_C, "ReplyClassification__c").update(after="Wrong Person"), rehash=False
    )
    with pytest.raises(PlanError, match="edited after it was built") as e:
        do_apply(org, plan_path)
    assert str(plan_path) in str(e.value)
    assert not org.org.request_log and not org.org.field_history


def test_plan_edited_and_rehashed_after_approval_is_refused(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    edit_plan(plan_path, lambda p: change_of(p, CM_C, "ReplyClassification__c").update(after="Wrong Person"))
    with pytest.raises(ApprovalError, match="changed since it was approved"):
        do_apply(org, plan_path)
    assert not org.org.field_history


def test_approval_of_another_plan_is_refused(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    other = plans.copy(tmp_path / "other", "enrich")  # a different plan (other policy) …
    shutil.copy(approval_path(plan_path), approval_path(other))  # … with the first plan's approval beside it
    with pytest.raises(ApprovalError) as e:
        do_apply(org, other)
    assert load_plan(plan_path)["plan_id"] in str(e.value) and load_plan(other)["plan_id"] in str(e.value)
    assert not org.org.field_history


def test_approving_a_plan_rebuilt_at_the_same_path_sets_the_previous_approval_aside(org, plans, tmp_path):
    """plan → approve → plan again to the same plan.json (new inputs) → approve: the new plan is approved (it was
    refused with 'approve the new plan', which is what the person was doing); the previous plan's approval is kept
    beside it under that plan's id and never counts for the new plan."""
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    first = json.loads(approval_path(plan_path).read_text())
    rebuilt = plans.copy(tmp_path, "enrich")  # the same path, another plan
    assert rebuilt == plan_path and load_plan(plan_path)["plan_id"] != first["plan_id"]
    with pytest.raises(ApprovalError, match="changed since it was approved"):  # apply still refuses the old approval
        do_apply(org, plan_path)
    a = approve(plan_path, by="Ana Admin", policy=plans.policy("enrich"))
    assert a["plan_id"] == load_plan(plan_path)["plan_id"]
    kept = plan_path.with_name(f"plan.approval.{first['plan_id'].removeprefix('sha256:')[:12]}.json")
    assert json.loads(kept.read_text()) == first and a["set_aside"] == kept
    doc = json.loads(approval_path(plan_path).read_text())
    assert doc["plan_id"] == a["plan_id"] and len(doc["approvals"]) == 1 and doc["approvals"][0]["replaces"] is None
    with pytest.raises(ApprovalError, match="already approved"):  # the same plan again still needs --replace
        approve(plan_path, by="Ana Admin", policy=plans.policy("enrich"))


def test_edited_approval_is_refused(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade", fields=["Has_Replied__c"])
    p = approval_path(plan_path)
    doc = json.loads(p.read_text())
    doc["approvals"][-1]["scope"]["fields"] = "all"
    p.write_text(json.dumps(doc))
    with pytest.raises(ApprovalError, match="edited after it was written"):
        do_apply(org, plan_path)
    assert not org.org.field_history


def test_an_approval_signed_with_another_key_says_so_not_only_edited(org, plans, tmp_path, monkeypatch):
    """README, Signed approvals: an edited approval and one signed with another key are refused; the error names both
    causes and the key to use, so a CRM Admin on another machine does not go looking for a tamperer."""
    plan_path, _ = prepared(org, plans, tmp_path, "handmade", fields=["Has_Replied__c"])
    monkeypatch.setenv("RECONCILE_APPROVAL_KEY", "another machine's key, 32+ characters long")
    with pytest.raises(ApprovalError, match="edited after it was written, or signed with another key") as e:
        do_apply(org, plan_path)
    assert "RECONCILE_APPROVAL_KEY" in str(e.value)
    assert not org.org.field_history


def test_approval_needs_a_name():
    with pytest.raises(ApprovalError, match="--by"):
        approve("does-not-matter.json", by="  ")


# ------------------------------------------------------------------------------------------ gates


def test_plan_gates_need_an_explicit_override_with_a_reason(org, plans, tmp_path):
    plan_path = plans.copy(tmp_path, "gated")
    pol = plans.policy("gated")
    seed(org, plans.snapshot("gated"))
    plan = load_plan(plan_path)
    assert {g["field"] for g in plan["gates"]} == {
        "Has_Replied__c",
        "ReplyClassification__c",
        "external_hard_bounced__c",
    }
    for reason in (None, "   "):
        with pytest.raises(ApprovalError, match="--override-gate"):
            approve(plan_path, by="Ana Admin", override_gate=reason, policy=pol)
    assert not approval_path(plan_path).exists()
    # the gates are recomputed from the policy: deleting the plan's `gates` list changes nothing
    edit_plan(plan_path, lambda p: p.update(gates=[]))
    built(plan_path)
    with pytest.raises(ApprovalError, match="--override-gate"):
        approve(plan_path, by="Ana Admin", policy=pol)
    assert not approval_path(plan_path).exists()
    copy_plan(plans.build("gated", MAKERS["gated"])[0], plan_path)
    # an approval written by hand without the overrides (the old sha256 "signature" recomputed) is refused
    forged = {
        "format": "reconcile.approval/1",
        "plan_id": plan["plan_id"],
        "approved_by": "Ana Admin",
        "approved_at": "2026-11-27T06:30:00Z",
        "scope": {"fields": "all"},
        "gate_overrides": [],
        "overwrite_releases": [],
    }
    forged["signature"] = "sha256:" + hashlib.sha256(json.dumps(forged, sort_keys=True).encode()).hexdigest()
    approval_path(plan_path).write_text(json.dumps(forged))
    with pytest.raises(ApprovalError, match="not a signed"):
        do_apply(org, plan_path, policy=pol)
    approval_path(plan_path).unlink()
    # approving under a looser policy (the packaged one, without these gates) keeps the gates the plan was built with
    with pytest.raises(ApprovalError, match="has 3 gate\\(s\\): .*--override-gate"):
        approve(plan_path, by="Ana Admin")
    assert not approval_path(plan_path).exists()
    # a signed approval given under a policy without the gates (the plan's own list emptied) is refused under the
    # gated policy
    edit_plan(plan_path, lambda p: p.update(gates=[]))
    built(plan_path)
    approve(plan_path, by="Ana Admin")
    with pytest.raises(ApprovalError, match="does not override the plan's gate"):
        do_apply(org, plan_path, policy=pol)
    assert not org.org.field_history

    approval = approve(
        plan_path,
        by="Ana Admin",
        override_gate="campaign clean-up agreed with MARCOM",
        policy=pol,
        replace="the first approval missed the gates",
    )
    assert len(approval["gate_overrides"]) == 3
    assert {o["reason"] for o in approval["gate_overrides"]} == {"campaign clean-up agreed with MARCOM"}
    res = do_apply(org, plan_path, policy=pol)
    assert res.counts == {"applied": 5}
    assert_each_change_once(org, ready(plan_path))


# ------------------------------------------------------------------------------------------ scope


def test_scope_fields_applies_only_those_fields(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade", fields=["external_hard_bounced__c"])
    sent: list = []
    res = do_apply(org, plan_path, record=sent)
    assert res.counts == {"applied": 2}
    assert {(o["record_id"], o["field"]) for o in res.outcomes} == {
        (LEAD_E, "external_hard_bounced__c"),
        (LEAD_F, "external_hard_bounced__c"),
    }
    assert sorted(history(org)) == [(LEAD_E, "external_hard_bounced__c"), (LEAD_F, "external_hard_bounced__c")]
    assert org.org.get("CampaignMember", CM_B)["Has_Replied__c"] is False
    assert org.org.get("CampaignMember", CM_C)["ReplyClassification__c"] == "Interested"
    assert len(sent) == 1 and not requests_of(org, contains="/composite/sobjects/CampaignMember")

    # the rest of the plan can be approved later, under a new approval
    approve(
        plan_path,
        by="Ana Admin",
        fields=["CampaignMember.Has_Replied__c", "replyclassification__c"],
        replace="the replies are checked now",
    )
    res2 = do_apply(org, plan_path)
    assert Counter(o["result"] for o in res2.outcomes) == {"applied": 3}
    assert_each_change_once(org, ready(plan_path))


def test_scope_naming_a_field_without_changes_is_refused(org, plans, tmp_path):
    plan_path = plans.copy(tmp_path, "handmade")
    with pytest.raises(ApprovalError, match="has no change in plan") as e:
        approve(plan_path, by="Ana Admin", fields=["Status"])
    assert "Lead.external_hard_bounced__c" in str(e.value)


def test_scope_naming_a_field_with_only_blocked_changes_is_refused(plans, tmp_path):
    """Approving Industry while Legal has not signed off would approve nothing, silently."""
    plan_path = plans.copy(tmp_path, "handmade")
    with pytest.raises(ApprovalError, match=r"--fields Lead.Industry approves nothing: .*blocked for .*pending_legal"):
        approve(plan_path, by="Ana Admin", fields=["Industry", "Has_Replied__c"])
    assert not approval_path(plan_path).exists()


# ------------------------------------------------------------------------------------------ overwrite releases


def test_overwrite_candidates_stay_blocked_unless_named(org, plans, tmp_path):
    plan_path, pol = prepared(org, plans, tmp_path, "enrich")
    plan = load_plan(plan_path)
    assert change_of(plan, LEAD_F, "company_description__c")["reasons"] == ["overwrite_not_approved"]
    res = do_apply(org, plan_path, policy=pol)
    assert (LEAD_F, "company_description__c") not in {(o["record_id"], o["field"]) for o in res.outcomes}
    assert org.org.get("Lead", LEAD_F)["company_description__c"] == "Makes widgets"
    # the enrichment fills (blank before) are ordinary ready changes once Legal signed off
    assert org.org.get("Lead", LEAD_E)["Industry"] == "Banking"
    assert org.org.get("Lead", LEAD_E)["company_description__c"] == "Acme makes anvils"
    assert_each_change_once(org, ready(plan_path))


def test_overwrite_release_by_field_applies_only_pure_overwrite_candidates(org, plans, tmp_path):
    plan_path, pol = prepared(
        org,
        plans,
        tmp_path,
        "enrich",
        release_fields=["company_description__c"],
        release_reason="Clay descriptions are better; MARCOM ticket 42",
    )
    res = do_apply(org, plan_path, policy=pol)
    o = outcome(res, LEAD_F, "company_description__c")
    assert o["result"] == "applied"
    lead_f = org.org.get("Lead", LEAD_F)
    assert lead_f["company_description__c"] == "Globex does it all"
    # Industry 'Fintech' is also not in the picklist: not released, never sent
    assert lead_f["Industry"] == "Manufacturing"
    assert (LEAD_F, "Industry") not in {(x["record_id"], x["field"]) for x in res.outcomes}
    # converted lead H stays untouched
    assert not [h for h in history(org) if h[0] == LEAD_H]
    assert Counter(history(org))[(LEAD_F, "company_description__c")] == 1


def test_overwrite_release_by_record_takes_15_character_ids(org, plans, tmp_path):
    plan_path, pol = prepared(org, plans, tmp_path, "enrich", release_records=[LEAD_F[:15]], release_reason="ok'd")
    res = do_apply(org, plan_path, policy=pol)
    assert outcome(res, LEAD_F, "company_description__c")["result"] == "applied"
    assert org.org.get("Lead", LEAD_F)["Industry"] == "Manufacturing"


def test_overwrite_release_needs_a_reason(org, plans, tmp_path):
    plan_path = plans.copy(tmp_path, "enrich")
    with pytest.raises(ApprovalError, match="needs a reason"):
        approve(plan_path, by="Ana Admin", release_fields=["company_description__c"])
    with pytest.raises(ApprovalError, match="not a Salesforce id"):
        approve(plan_path, by="Ana Admin", release_records=["nope"], release_reason="x")


def test_a_release_outside_the_approved_fields_releases_nothing_and_is_refused(plans, tmp_path):
    # LEAD_F's overwrite candidate is its company_description__c: an approval of other fields cannot release it
    plan_path = plans.copy(tmp_path, "enrich")
    pol = plans.policy("enrich")
    other = sorted(
        f"{c['object']}.{c['field']}"
        for c in load_plan(plan_path)["changes"]
        if c["field"] not in ("company_description__c", "Industry")
    )[0]
    with pytest.raises(ApprovalError) as e:
        approve(plan_path, by="Ana Admin", fields=[other], release_records=[LEAD_F], release_reason="x", policy=pol)
    assert f"--release-record {LEAD_F} releases nothing: its changes are on " in str(e.value)
    assert f"outside the approval's --fields ({other})" in str(e.value)
    assert not approval_path(plan_path).exists()
    approve(plan_path, by="Ana Admin", release_records=[LEAD_F], release_reason="x", policy=pol)  # all fields: fine


def test_a_release_of_ready_fills_only_releases_nothing_and_is_refused(plans, tmp_path):
    """README: scope and releases approve something or are refused. A ready fill needs no release, and one whose
    blank field someone filled since the snapshot is drift at apply, which no release overwrites: naming a record
    whose changes are all ready fills (LEAD_E in the enrich plan), or a field whose one overwrite candidate is also
    blocked for another reason (Industry: 'Fintech' is not in the picklist), releases nothing."""
    plan_path = plans.copy(tmp_path, "enrich")
    pol = plans.policy("enrich")
    mine = [c for c in load_plan(plan_path)["changes"] if c["record_id"] == LEAD_E and c["rule"].startswith("enrich")]
    assert mine and all(c["status"] == "ready" for c in mine)
    with pytest.raises(ApprovalError) as e:
        approve(plan_path, by="Ana Admin", release_records=[LEAD_E], release_reason="x", policy=pol)
    assert f"--release-record {LEAD_E} releases nothing: no change of record {LEAD_E} is an enrichment change " in str(
        e.value
    )
    with pytest.raises(ApprovalError) as e:
        approve(plan_path, by="Ana Admin", release_fields=["Industry"], release_reason="x", policy=pol)
    assert "--release-field Lead.Industry releases nothing: its 1 enrichment change(s) are also blocked for " in str(
        e.value
    )
    assert not approval_path(plan_path).exists()


def test_a_release_reason_without_a_field_or_record_to_release_is_refused(plans, tmp_path):
    """A reason that names nothing to release would leave the overwrite candidates blocked while the approver
    believes them released."""
    plan_path = plans.copy(tmp_path, "enrich")
    with pytest.raises(ApprovalError, match="--release-reason releases nothing without --release-field or"):
        approve(plan_path, by="Ana Admin", release_reason="Clay descriptions are better")
    assert not approval_path(plan_path).exists()


def test_release_never_frees_pending_legal_changes(org, plans, tmp_path):
    """Default policy: the enrichment fields wait for Legal — naming them in a release changes nothing."""
    plan_path = plans.copy(tmp_path, "handmade")
    for kw in (
        {"release_fields": ["company_description__c", "Industry"]},
        {"release_records": [LEAD_E, LEAD_F, LEAD_H]},
    ):
        with pytest.raises(ApprovalError, match="releases nothing: .*(pending_legal|no change of record)"):
            approve(plan_path, by="Ana Admin", release_reason="try to sneak past Legal", **kw)
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    before = org_state(org)
    res = do_apply(org, plan_path)
    assert res.counts == {"applied": 5}
    assert {o["field"] for o in res.outcomes} == {
        "Has_Replied__c",
        "ReplyClassification__c",
        "external_hard_bounced__c",
    }
    after = org_state(org)
    for rid in (LEAD_E, LEAD_F, LEAD_H):
        for f in ("Industry", "company_description__c"):
            assert after[rid][f] == before[rid][f]
    assert after[LEAD_H]["external_hard_bounced__c"] is False  # converted lead: blocked, not releasable


@pytest.mark.parametrize(
    "field,before,after,expected",
    [
        ("overall_hard_bounced__c", True, False, "read_only"),
        ("Status", "Open", "Qualified", "not_in_allowlist"),
    ],
)
def test_release_never_frees_read_only_or_unlisted_fields_even_in_an_edited_plan(
    org, plans, tmp_path, field, before, after, expected
):
    """A hand-edited plan labels a formula / unlisted field a mere overwrite candidate; apply still refuses it."""
    plan_path = plans.copy(tmp_path, "handmade")
    seed(org, plans.snapshot("handmade"))
    # lead G has no other change, so its formula value cannot move because of another write
    edit_plan(
        plan_path,
        lambda p: add_changes(p, new_change("Lead", LEAD_G, field, before, after, ["overwrite_not_approved"])),
    )
    built(plan_path)
    approve(plan_path, by="Ana Admin", release_fields=[field], release_records=[LEAD_G], release_reason="edited plan")
    res = do_apply(org, plan_path)
    o = outcome(res, LEAD_G, field)
    assert (o["result"], o["error_code"]) == ("refused", expected)
    assert org.org.get("Lead", LEAD_G)[field] == before
    assert (LEAD_G, field) not in history(org)


# ------------------------------------------------------------------------------------------ allowlist at apply time


def _pending_legal(p):
    made_ready(change_of(p, LEAD_E, "Industry"))


def _formula(p):
    add_changes(p, new_change("Lead", LEAD_G, "overall_hard_bounced__c", True, False))


def _contact(p):
    add_changes(p, new_change("Contact", CONTACT_BOB, "Email", "bob@umbrella.com", "bob@evil.example"))


def _unlisted(p):
    add_changes(p, new_change("Lead", LEAD_E, "Status", "Working", "Qualified"))


def _bad_picklist(p):
    made_ready(change_of(p, CM_C, "ReplyClassification__c"), after="Maybe Later")


def _checkbox_text(p):
    made_ready(change_of(p, LEAD_E, "external_hard_bounced__c"), after="yes")


@pytest.mark.parametrize(
    "edit,target,expected,also",
    [
        (_pending_legal, ("Lead", LEAD_E, "Industry"), "pending_legal", ()),
        (_formula, ("Lead", LEAD_G, "overall_hard_bounced__c"), "read_only", ()),
        (_contact, ("Contact", CONTACT_BOB, "Email"), "not_in_allowlist", ("object_not_writable",)),
        (_unlisted, ("Lead", LEAD_E, "Status"), "not_in_allowlist", ()),
        (_bad_picklist, ("CampaignMember", CM_C, "ReplyClassification__c"), "invalid_picklist_value", ()),
    ],
    ids=["pending_legal", "formula", "contact", "not_in_policy", "picklist"],
)
def test_apply_rechecks_the_allowlist_of_an_edited_and_reapproved_plan(
    org, plans, tmp_path, edit, target, expected, also
):
    plan_path = plans.copy(tmp_path, "handmade")
    seed(org, plans.snapshot("handmade"))
    edit_plan(plan_path, edit)
    built(plan_path)
    approve(plan_path, by="Demo Admin")
    obj, rid, field = target
    before = org.org.get(obj, rid)[field]
    sent: list = []
    res = do_apply(org, plan_path, record=sent)
    o = outcome(res, rid, field)
    assert (o["result"], o["error_code"]) == ("refused", expected)
    for reason in also:
        assert reason in o["message"]
    assert org.org.get(obj, rid)[field] == before
    assert (rid, field) not in history(org)
    assert (rid, field) not in {(r["id"], k) for batch in sent for r in batch for k in r}
    # the rest of the plan is applied as usual
    others = [c for c in ready(plan_path) if (c["record_id"], c["field"]) != (rid, field)]
    assert {(x["record_id"], x["field"]) for x in res.outcomes if x["result"] == "applied"} == {
        (c["record_id"], c["field"]) for c in others
    }
    # the refusal is audited and exported
    refused = [r for r in audit_rows(plan_path) if r["result"] == "refused"]
    assert [(r["record_id"], r["field"], r["error_code"], r["approver"]) for r in refused] == [
        (rid, field, expected, "Demo Admin")
    ]
    assert [(r["record_id"], r["result"]) for r in read_csv(res.files["exceptions_csv"])] == [(rid, "refused")]


def test_apply_refuses_a_checkbox_change_to_a_non_boolean(org, plans, tmp_path):
    plan_path = plans.copy(tmp_path, "handmade")
    seed(org, plans.snapshot("handmade"))
    edit_plan(plan_path, _checkbox_text)
    built(plan_path)
    approve(plan_path, by="Ana Admin")
    res = do_apply(org, plan_path)
    assert outcome(res, LEAD_E, "external_hard_bounced__c")["result"] == "refused"
    assert org.org.get("Lead", LEAD_E)["external_hard_bounced__c"] is False


def test_contact_field_listed_active_in_the_policy_is_still_not_writable(org, plans, tmp_path):
    pol = policy_with(
        tmp_path / "pol",
        replace={
            "# Clay column names": (
                '[[fields]]\nobject = "Contact"\nfield = "Email"\nstatus = "active"\nkind = "text"\n\n# Clay column names'
            )
        },
    )
    plan_path = plans.copy(tmp_path, "handmade")
    seed(org, plans.snapshot("handmade"))
    edit_plan(plan_path, _contact)
    built(plan_path)
    approve(plan_path, by="Ana Admin")
    res = do_apply(org, plan_path, policy=pol)
    o = outcome(res, CONTACT_BOB, "Email")
    assert (o["result"], o["error_code"]) == ("refused", "object_not_writable")
    assert org.org.get("Contact", CONTACT_BOB)["Email"] == "bob@umbrella.com"


def test_field_the_org_does_not_let_the_integration_user_edit_is_refused(org, plans, tmp_path):
    """The policy calls Lead.Status writable, the org's describe says the integration user cannot update it."""
    pol = policy_with(
        tmp_path / "pol",
        replace={
            "# Clay column names": (
                '[[fields]]\nobject = "Lead"\nfield = "Status"\nstatus = "active"\nkind = "text"\n\n# Clay column names'
            )
        },
    )
    plan_path = plans.copy(tmp_path, "handmade")
    seed(org, plans.snapshot("handmade"))
    edit_plan(plan_path, _unlisted)
    built(plan_path)
    approve(plan_path, by="Ana Admin")
    res = do_apply(org, plan_path, policy=pol)
    o = outcome(res, LEAD_E, "Status")
    assert (o["result"], o["error_code"]) == ("refused", "org_field_not_updateable")
    assert org.org.get("Lead", LEAD_E)["Status"] == "Working"


# ------------------------------------------------------------------------------------------ drift


def test_drifted_values_are_not_written_and_equal_ones_are_already_applied(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    admin = admin_sf(org)
    admin.CampaignMember.update(CM_C, {"ReplyClassification__c": "Wrong Person"})  # someone changed it since
    admin.Lead.update(LEAD_E, {"external_hard_bounced__c": True})  # someone already did it
    admin_rows = len(org.org.field_history)
    res = do_apply(org, plan_path)
    drift = outcome(res, CM_C, "ReplyClassification__c")
    assert (drift["result"], drift["current"]) == ("drifted", "Wrong Person")
    assert outcome(res, LEAD_E, "external_hard_bounced__c")["result"] == "already_applied"
    assert res.counts == {"already_applied": 1, "applied": 3, "drifted": 1}
    assert org.org.get("CampaignMember", CM_C)["ReplyClassification__c"] == "Wrong Person"
    assert sorted(history(org)) == sorted(
        [(CM_B, "Has_Replied__c"), (CM_B, "ReplyClassification__c"), (LEAD_F, "external_hard_bounced__c")]
    )
    assert len(org.org.field_history) == admin_rows + 3
    rows = {(r["record_id"], r["field"], r["result"]) for r in audit_rows(plan_path)}
    assert (CM_C, "ReplyClassification__c", "drifted") in rows
    assert (LEAD_E, "external_hard_bounced__c", "already_applied") in rows
    assert not [
        r
        for r in rows
        if r[:2] in {(CM_C, "ReplyClassification__c"), (LEAD_E, "external_hard_bounced__c")} and r[2] == "pending"
    ]


def test_drift_seeded_in_the_org_before_apply(org, plans, tmp_path):
    """The org already differs from the snapshot when it is loaded (org.insert), not only after an admin edit."""
    plan_path = plans.copy(tmp_path, "handmade")
    seed(org, plans.snapshot("handmade"))
    org.org.data["CampaignMember"][CM_B]["Has_Replied__c"] = True
    org.org.data["CampaignMember"][CM_B]["ReplyClassification__c"] = "Out Of Office"
    approve(plan_path, by="Ana Admin")
    res = do_apply(org, plan_path)
    assert outcome(res, CM_B, "Has_Replied__c")["result"] == "already_applied"
    assert outcome(res, CM_B, "ReplyClassification__c")["result"] == "drifted"
    assert org.org.get("CampaignMember", CM_B)["ReplyClassification__c"] == "Out Of Office"


# ------------------------------------------------------------------------------------------ re-apply


def test_reapplying_an_applied_plan_writes_nothing(org, plans, tmp_path):
    plan_path, _ = prepared(org, plans, tmp_path, "handmade")
    first = do_apply(org, plan_path)
    assert first.counts == {"applied": 5}
    history_after_first = list(org.org.field_history)
    start = len(org.org.request_log)
    second = do_apply(org, plan_path)
    assert second.counts == {"already_applied": 5}
    log = org.org.request_log[start:]
    assert not [r for r in log if r["method"] in ("PATCH", "PUT", "DELETE")]
    assert {(r["method"], r["path"].rsplit("/", 1)[-1]) for r in log} <= {
        ("GET", "describe"),
        ("POST", "Lead"),
        ("POST", "CampaignMember"),
    }
    assert requests_of(org, "POST", "/composite/sobjects/Lead", start)  # it did re-read
    assert org.org.field_history == history_after_first
    second_rows = [r for r in audit_rows(plan_path) if r["run_id"] == second.run_id]
    assert Counter(r["result"] for r in second_rows) == {"already_applied": 5}


def test_an_override_of_a_plan_without_gates_is_refused_not_dropped(plans, tmp_path):
    plan_path = plans.copy(tmp_path, "handmade")
    assert load_plan(plan_path)["gates"] == []
    with pytest.raises(ApprovalError, match="has no gates, so --override-gate overrides nothing"):
        approve(plan_path, by="Ana Admin", override_gate="just in case")
    assert not approval_path(plan_path).exists()
