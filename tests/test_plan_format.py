"""The plan file (SPEC §6, format reconcile.plan/1): shape, order, determinism, tamper check, exports, explain;
and the SQL conventions (every model registered once, each with a header)."""

from __future__ import annotations

import csv
import json
import re
import shutil

import pyarrow.parquet as pq
import pytest
from conftest import HANDMADE

from reconcile import plan as planmod
from reconcile.build import build_plan
from reconcile.errors import PlanError
from reconcile.sql import QUERIES, MODELS, SQL_DIR

CHANGE_KEYS = {"object", "record_id", "field", "before", "after", "rule", "status", "reason", "reasons", "evidence"}
FINDING_KEYS = {"kind", "object", "record_id", "route", "detail", "evidence"}
EVIDENCE_KEYS = {"source", "file", "row", "value"}
ROUTES = {"CRM Admin", "IT Infra", "MARCOM Ops", "DPO"}
SHA = re.compile(r"sha256:[0-9a-f]{64}")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("handmade") / "plan.json"
    return build_plan(HANDMADE, out=out)


@pytest.fixture(scope="module")
def plan(built):
    return json.loads(built.plan_path.read_text("utf-8"))


# ------------------------------------------------------------------------------------------ shape (SPEC §6)

def test_top_level_keys_and_format(plan):
    assert list(plan)[:3] == ["format", "plan_id", "created_at"]
    assert {"format", "plan_id", "created_at", "snapshot", "policy", "summary", "gates", "changes",
            "findings"} <= set(plan)
    assert plan["format"] == "reconcile.plan/1"
    assert SHA.fullmatch(plan["plan_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", plan["created_at"])
    assert SHA.fullmatch(plan["policy"]["fingerprint"])
    assert plan["gates"] == []


def test_snapshot_block_fingerprints_every_file_and_taken_at_from_the_manifest(plan):
    files = sorted(p.relative_to(HANDMADE).as_posix() for p in HANDMADE.rglob("*")
                   if p.is_file() and p.name != "manifest.toml")
    assert list(plan["snapshot"]["fingerprints"]) == files
    assert all(SHA.fullmatch(v) for v in plan["snapshot"]["fingerprints"].values())
    assert plan["snapshot"]["taken_at"] == {"clay": "2026-11-27T05:00:00Z", "pardot": "2026-11-27T05:45:00Z",
                                            "sfdc": "2026-11-27T06:00:00Z", "smartlead": "2026-11-27T05:30:00Z"}


def test_changes_are_sorted_real_and_carry_provenance(plan):
    changes = plan["changes"]
    assert changes, "the handmade snapshot plans changes"
    keys = [(c["object"], c["record_id"], c["field"]) for c in changes]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for c in changes:
        assert CHANGE_KEYS <= set(c), c
        assert c["before"] != c["after"], f"not a real change: {c}"
        assert len(c["record_id"]) == 18
        assert c["status"] in ("ready", "blocked")
        assert (c["status"] == "ready") == (c["reason"] is None) == (c["reasons"] == [])
        assert c["reason"] == (c["reasons"][0] if c["reasons"] else None)
        assert c["evidence"][0]["source"] == "sfdc", "first evidence is the Salesforce value"
        assert len(c["evidence"]) >= 2, "at least one source row besides Salesforce"
        for e in c["evidence"]:
            assert EVIDENCE_KEYS <= set(e)
            assert e["file"] in plan["snapshot"]["fingerprints"] and isinstance(e["row"], int) and e["row"] >= 1


def test_findings_are_routed_sorted_and_carry_provenance(plan):
    findings = plan["findings"]
    assert findings
    for f in findings:
        assert FINDING_KEYS <= set(f), f
        assert f["route"] in ROUTES
        assert f["evidence"] and all(EVIDENCE_KEYS <= set(e) for e in f["evidence"])
    kinds = [(f["kind"], f["object"]) for f in findings]
    assert kinds == sorted(kinds)


def test_summary_counts_agree_with_the_lists(plan):
    s, changes, findings = plan["summary"], plan["changes"], plan["findings"]
    ready = sum(c["status"] == "ready" for c in changes)
    assert s["changes"] == {"total": len(changes), "ready": ready, "blocked": len(changes) - ready}
    assert sum(v["ready"] + v["blocked"] for v in s["by_field"].values()) == len(changes)
    assert sum(v["ready"] + v["blocked"] for v in s["by_rule"].values()) == len(changes)
    assert sum(s["by_reason"].values()) == len(changes) - ready
    assert s["findings"]["total"] == len(findings)
    assert s["findings"]["by_kind"] == {k: sum(f["kind"] == k for f in findings) for k in {f["kind"] for f in findings}}
    assert sum(s["findings"]["by_route"].values()) == len(findings)
    assert s["rejects"] == {"total": 0, "by_file": {}}
    assert s["records"] == {"Lead": 4, "CampaignMember": 2, "Contact": 1, "Campaign": 1}


def test_plan_file_is_one_change_per_line(built, plan):
    lines = built.plan_path.read_text("utf-8").splitlines()
    change_lines = [ln for ln in lines if ln.startswith('{"object":')]
    assert len(change_lines) == len(plan["changes"])


# ------------------------------------------------------------------------------------------ determinism

def _without_created_at(text: str) -> str:
    return re.sub(r'\n"created_at":"[^"]*",\n', "\n", text)


def test_identical_inputs_give_a_byte_identical_plan(tmp_path, built, plan):
    copy = tmp_path / "elsewhere" / "snapshot"
    shutil.copytree(HANDMADE, copy)
    again = build_plan(copy, out=tmp_path / "again" / "plan.json", exports=False)
    first, second = built.plan_path.read_text("utf-8"), again.plan_path.read_text("utf-8")
    assert _without_created_at(first) != first, "created_at is on its own line"
    assert _without_created_at(first) == _without_created_at(second)
    assert again.plan["plan_id"] == plan["plan_id"]


def test_plan_id_is_the_hash_of_the_content_without_created_at(plan):
    assert planmod.compute_plan_id(plan) == plan["plan_id"]
    assert planmod.compute_plan_id({**plan, "created_at": "1999-01-01T00:00:00Z"}) == plan["plan_id"]
    assert planmod.compute_plan_id({**plan, "gates": [{"gate": "x"}]}) != plan["plan_id"]


def test_a_different_input_gives_a_different_plan_id(tmp_path, plan):
    copy = tmp_path / "snapshot"
    shutil.copytree(HANDMADE, copy)
    with (copy / "sfdc" / "Contact.csv").open("a", encoding="utf-8") as fh:
        fh.write("0035g00000QrStVAAV,someone@else.com\n")
    other = build_plan(copy, out=tmp_path / "out" / "plan.json", exports=False).plan
    assert other["plan_id"] != plan["plan_id"]
    assert other["changes"] == plan["changes"]


def test_blast_radius_gate_when_ready_changes_exceed_the_policy_limit(tmp_path):
    from conftest import policy_with

    policy = policy_with(tmp_path, replace={"max_ready_changes_per_field = 5000": "max_ready_changes_per_field = 1"})
    gated = build_plan(HANDMADE, out=tmp_path / "out" / "plan.json", policy=policy, exports=False).plan
    assert gated["gates"] == [{
        "gate": "blast_radius_field", "object": "CampaignMember", "field": "ReplyClassification__c", "count": 2,
        "limit": 1, "message": "2 ready changes on CampaignMember.ReplyClassification__c exceed the policy limit of 1; "
                               "approval needs --override-gate."}, {
        "gate": "blast_radius_field", "object": "Lead", "field": "external_hard_bounced__c", "count": 2, "limit": 1,
        "message": "2 ready changes on Lead.external_hard_bounced__c exceed the policy limit of 1; approval needs "
                   "--override-gate."}]
    assert gated["summary"]["gates"] == 2


# ------------------------------------------------------------------------------------------ load_plan

def test_load_plan_accepts_the_plan_it_wrote(built, plan):
    assert planmod.load_plan(built.plan_path) == plan


def test_load_plan_refuses_an_edited_plan(tmp_path, built, plan):
    edited = json.loads(built.plan_path.read_text("utf-8"))
    ready = next(c for c in edited["changes"] if c["status"] == "blocked")
    ready["status"], ready["reason"], ready["reasons"] = "ready", None, []
    path = tmp_path / "edited.json"
    path.write_text(planmod.dumps(edited), "utf-8")
    with pytest.raises(PlanError) as e:
        planmod.load_plan(path)
    assert str(e.value) == (f"Plan '{path}' was edited after it was built: its content no longer matches plan_id "
                            f"'{plan['plan_id']}'. Rebuild the plan with `reconcile plan` and approve it again.")


def test_load_plan_accepts_only_a_created_at_edit(tmp_path, built):
    text = built.plan_path.read_text("utf-8")
    path = tmp_path / "retimed.json"
    path.write_text(re.sub(r'"created_at":"[^"]*"', '"created_at":"2030-01-01T00:00:00Z"', text), "utf-8")
    assert planmod.load_plan(path)["created_at"] == "2030-01-01T00:00:00Z"


@pytest.mark.parametrize("content, message", [
    ("not json", "Plan '{p}' is not valid JSON (Expecting value: line 1 column 1 (char 0)). Rebuild it with "
                 "`reconcile plan`."),
    ('{"format": "other/1"}', "Plan '{p}' is not a reconcile.plan/1 file. Rebuild it with `reconcile plan`."),
])
def test_load_plan_refuses_what_is_not_a_plan(tmp_path, content, message):
    path = tmp_path / "plan.json"
    path.write_text(content, "utf-8")
    with pytest.raises(PlanError) as e:
        planmod.load_plan(path)
    assert str(e.value) == message.replace("{p}", str(path))


# ------------------------------------------------------------------------------------------ exports

def test_csv_and_parquet_exports_hold_every_change(built, plan):
    by_suffix = {p.name.split(".", 1)[1]: p for p in built.exports}
    assert set(by_suffix) == {"changes.csv", "changes.parquet"}
    assert all(p.exists() and p.parent == built.plan_path.parent for p in built.exports)
    with by_suffix["changes.csv"].open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    table = pq.read_table(by_suffix["changes.parquet"])
    assert len(rows) == table.num_rows == len(plan["changes"])
    assert [(r["object"], r["record_id"], r["field"], r["status"]) for r in rows] == [
        (c["object"], c["record_id"], c["field"], c["status"]) for c in plan["changes"]]
    assert table.column("record_id").to_pylist() == [c["record_id"] for c in plan["changes"]]


# ------------------------------------------------------------------------------------------ explain

def test_explain_prints_changes_findings_and_source_rows(built, plan, run_cli):
    result = run_cli("explain", "00Q5g00000AbCdE", "--plan", built.plan_path)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"""Record 00Q5g00000AbCdEEAV  (plan {plan['plan_id']})

  Lead.Industry: (blank) → 'Banking'   [BLOCKED (pending_legal)]
    rule: enrichment_fill_if_blank
    evidence: sfdc sfdc/Lead.csv row 1 Industry = (blank)
    evidence: clay clay/enrichment.csv row 1 Industry = 'banking'

  Lead.company_description__c: (blank) → 'Acme makes anvils'   [BLOCKED (pending_legal)]
    rule: enrichment_fill_if_blank
    evidence: sfdc sfdc/Lead.csv row 1 company_description__c = (blank)
    evidence: clay clay/enrichment.csv row 1 Company Description = 'Acme makes anvils'

  Lead.external_hard_bounced__c: false → true   [READY]
    rule: hard_bounce_union
    evidence: sfdc sfdc/Lead.csv row 1 external_hard_bounced__c = 'false'
    evidence: clay clay/enrichment.csv row 1 Hard Bounced = 'TRUE'

  finding pardot_sync_gap → CRM Admin
    Pardot prospect 51234567 is hard-bounced but pi__pardot_hard_bounced__c is false: the Pardot connector has not \
synced the bounce. Check the Pardot connector sync queue.
    evidence: pardot pardot/prospects.csv row 1 isEmailHardBounced = 'true' at 2026-11-20T09:35:01Z
"""


def test_explain_json_matches_the_plan(built, plan, run_cli):
    result = run_cli("explain", "00Q5g00000AbCdFEAV", "--plan", built.plan_path, "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    rid = "00Q5g00000AbCdFEAV"
    assert doc["record_id"] == rid and doc["plan_id"] == plan["plan_id"]
    assert doc["changes"] == [c for c in plan["changes"] if c["record_id"] == rid]
    assert {f["kind"] for f in doc["findings"]} == {"bounce_hop_lost", "overall_formula_mismatch"}


def test_explain_refuses_a_malformed_id(built, run_cli):
    result = run_cli("explain", "00Q5g00000AbCd", "--plan", built.plan_path)
    assert result.exit_code == 1
    assert result.stderr == ("Error: Record id '00Q5g00000AbCd' is not a Salesforce id (15 or 18 letters and digits "
                             "with a valid checksum). Copy the id from the plan or from Salesforce.\n")


# ------------------------------------------------------------------------------------------ SQL conventions

def _sql_models_on_disk() -> list[str]:
    return sorted(p.relative_to(SQL_DIR).with_suffix("").as_posix() for p in SQL_DIR.rglob("*.sql")
                  if p.relative_to(SQL_DIR).parts[0] not in ("macros", "formulas"))


def test_every_registered_model_exists_once():
    assert len(MODELS) == len(set(MODELS)), "a model is listed twice in reconcile.sql.MODELS"
    assert [m for m in MODELS if not (SQL_DIR / f"{m}.sql").is_file()] == []
    stems = [m.rsplit("/", 1)[1] for m in MODELS]
    assert len(stems) == len(set(stems)), "two models would materialise the same table"


def test_every_sql_file_is_registered_in_models():
    assert sorted(set(_sql_models_on_disk()) - set(MODELS) - set(QUERIES)) == []
    assert not set(MODELS) & set(QUERIES)


@pytest.mark.parametrize("model", _sql_models_on_disk())
def test_every_sql_file_starts_with_a_comment_header(model):
    lines = (SQL_DIR / f"{model}.sql").read_text("utf-8").splitlines()
    assert lines[0].startswith("-- "), f"{model}.sql must start with a '-- ' header (purpose, grain, parameters)"
    header = " ".join(ln for ln in lines[:next(i for i, ln in enumerate(lines) if not ln.startswith("--"))])
    assert "grain" in header.lower(), f"{model}.sql header names its grain"
    assert "parameters" in header.lower(), f"{model}.sql header names its parameters (or 'none')"
