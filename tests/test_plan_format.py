"""The plan (SPEC §6, format reconcile.plan/2: JSON manifest + Parquet data files; /1 still written with
--format json and read): shape, order, determinism, tamper check, exports, explain; and the SQL conventions
(every model registered once, each with a header)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import HANDMADE, loaded

from reconcile import plan as planmod
from reconcile.build import build_plan
from reconcile.errors import PlanError
from reconcile.planfile import copy_plan
from reconcile.sql import FINDING_KINDS

CHANGE_KEYS = {"object", "record_id", "field", "before", "after", "rule", "status", "reason", "reasons", "evidence"}
FINDING_KEYS = {"kind", "object", "record_id", "route", "detail", "evidence"}
EVIDENCE_KEYS = {"source", "file", "row", "value"}
ROUTES = {"CRM Admin", "IT Infra", "MARCOM Ops", "DPO"}
SHA = re.compile(r"sha256:[0-9a-f]{64}")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("handmade") / "plan.json"
    return build_plan(HANDMADE, out=out, fmt="parquet")


@pytest.fixture(scope="module")
def manifest(built):
    return json.loads(built.plan_path.read_text("utf-8"))


@pytest.fixture(scope="module")
def plan(built):
    """The plan with its changes, findings and rejects read from its data files."""
    return loaded(planmod.load_plan(built.plan_path))


# ------------------------------------------------------------------------------------------ shape (SPEC §6)


def test_top_level_keys_and_format(manifest, plan, built):
    assert list(manifest)[:3] == ["format", "plan_id", "created_at"]
    assert set(manifest) == {"format", "plan_id", "created_at", "snapshot", "policy", "summary", "gates", "files"}
    assert manifest["format"] == "reconcile.plan/2"
    assert SHA.fullmatch(plan["plan_id"])
    assert {
        part: {k: v for k, v in entry.items() if "sha256" not in k} for part, entry in manifest["files"].items()
    } == {
        "changes": {"file": "changes.parquet", "rows": len(plan["changes"])},
        "findings": {"file": "findings.parquet", "rows": len(plan["findings"])},
        "rejects": {"file": "rejects.parquet", "rows": 0},
    }
    for part, entry in manifest["files"].items():  # each file bound by the sha256 of its bytes
        data = built.plan_path.with_name("plan.data") / entry["file"]
        assert entry["sha256"] == "sha256:" + hashlib.sha256(data.read_bytes()).hexdigest(), part
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", plan["created_at"])
    assert SHA.fullmatch(plan["policy"]["fingerprint"])
    assert plan["gates"] == []


def test_snapshot_block_fingerprints_every_file_and_taken_at_from_the_manifest(plan):
    files = sorted(
        p.relative_to(HANDMADE).as_posix() for p in HANDMADE.rglob("*") if p.is_file() and p.name != "manifest.toml"
    )
    assert list(plan["snapshot"]["fingerprints"]) == files
    assert all(SHA.fullmatch(v) for v in plan["snapshot"]["fingerprints"].values())
    assert plan["snapshot"]["taken_at"] == {
        "clay": "2026-11-27T05:00:00Z",
        "pardot": "2026-11-27T05:45:00Z",
        "sfdc": "2026-11-27T06:00:00Z",
        "smartlead": "2026-11-27T05:30:00Z",
    }


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


def test_data_files_hold_the_rows_in_plan_order(built, plan):
    table = pq.read_table(built.plan_path.with_name("plan.data") / "changes.parquet")
    assert table.column_names == [
        "object",
        "record_id",
        "field",
        "before",
        "after",
        "rule",
        "status",
        "reason",
        "reasons",
        "evidence",
        "campaign_id",
        "gbu",
    ]
    assert table.column("record_id").to_pylist() == [c["record_id"] for c in plan["changes"]]
    findings = pq.read_table(built.plan_path.with_name("plan.data") / "findings.parquet")
    assert findings.column("kind").to_pylist() == [f["kind"] for f in plan["findings"]]


def test_json_export_and_json_format_are_one_change_per_line(tmp_path, plan):
    export = planmod.to_json(plan)
    change_lines = [ln for ln in export.splitlines() if ln.startswith('{"object":')]
    assert len(change_lines) == len(plan["changes"])
    assert json.loads(export)["changes"] == plan["changes"]
    v1 = build_plan(HANDMADE, out=tmp_path / "v1" / "plan.json", exports=False, fmt="json")
    doc = json.loads(v1.plan_path.read_text("utf-8"))
    assert doc["format"] == "reconcile.plan/1" and not (tmp_path / "v1" / "plan.data").exists()
    assert doc["changes"] == plan["changes"] and doc["findings"] == plan["findings"]
    assert len([ln for ln in v1.plan_path.read_text("utf-8").splitlines() if ln.startswith('{"object":')]) == len(
        plan["changes"]
    )


def test_a_json_export_of_a_v2_plan_is_not_taken_for_the_plan(tmp_path, plan):
    path = tmp_path / "export.json"
    path.write_text(planmod.to_json(plan), "utf-8")
    with pytest.raises(PlanError, match="is a JSON export of a reconcile.plan/2 plan, not the plan itself"):
        planmod.load_plan(path)


# ------------------------------------------------------------------------------------------ determinism


def _without_created_at(text: str) -> str:
    return re.sub(r'\n"created_at":"[^"]*",\n', "\n", text)


def test_identical_inputs_give_a_byte_identical_plan(tmp_path, built, plan):
    copy = tmp_path / "elsewhere" / "snapshot"
    shutil.copytree(HANDMADE, copy)
    again = build_plan(copy, out=tmp_path / "again" / "plan.json", exports=False, fmt="parquet")
    first, second = built.plan_path.read_text("utf-8"), again.plan_path.read_text("utf-8")
    assert _without_created_at(first) != first, "created_at is on its own line"
    assert _without_created_at(first) == _without_created_at(second)
    assert again.plan["plan_id"] == plan["plan_id"]
    for part in ("changes", "findings", "rejects"):
        name = f"plan.data/{part}.parquet"
        assert pq.read_table(built.plan_path.parent / name).equals(pq.read_table(again.plan_path.parent / name))


def test_plan_id_is_the_hash_of_the_manifest_without_created_at(manifest):
    assert planmod.compute_plan_id(manifest) == manifest["plan_id"]
    assert planmod.compute_plan_id({**manifest, "created_at": "1999-01-01T00:00:00Z"}) == manifest["plan_id"]
    assert planmod.compute_plan_id({**manifest, "gates": [{"gate": "x"}]}) != manifest["plan_id"]
    files = json.loads(json.dumps(manifest["files"]))
    files["changes"]["sha256"] = "sha256:" + "0" * 64
    assert planmod.compute_plan_id({**manifest, "files": files}) != manifest["plan_id"]


def test_v1_plan_id_is_the_hash_of_the_content_without_created_at(tmp_path):
    v1 = json.loads(
        build_plan(HANDMADE, out=tmp_path / "plan.json", exports=False, fmt="json").plan_path.read_text("utf-8")
    )
    assert planmod.compute_plan_id(v1) == v1["plan_id"]
    assert planmod.compute_plan_id({**v1, "created_at": "1999-01-01T00:00:00Z"}) == v1["plan_id"]
    assert planmod.compute_plan_id({**v1, "changes": v1["changes"][1:]}) != v1["plan_id"]


@pytest.mark.parametrize("fmt", ["parquet", "json"])
def test_plan_id_follows_the_readme_recipe_on_a_plan_with_non_ascii_text(tmp_path, fmt):
    """README "Plan format": the recipe a reader outside reconcile would write, on the file as written (/1 and the /2
    manifest), including details with `→` / `—` that an ASCII-escaping dump would hash differently."""
    doc = json.loads(build_plan(HANDMADE, out=tmp_path / "plan.json", exports=False, fmt=fmt).plan_path.read_bytes())
    body = {k: v for k, v in doc.items() if k not in ("plan_id", "created_at")}
    assert not json.dumps(body, ensure_ascii=False).isascii()  # the plan has non-ASCII text to get wrong
    readme = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    assert doc["plan_id"] == "sha256:" + readme.hexdigest()
    escaped = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    assert doc["plan_id"] != "sha256:" + escaped.hexdigest()


def test_a_different_input_gives_a_different_plan_id(tmp_path, plan):
    copy = tmp_path / "snapshot"
    shutil.copytree(HANDMADE, copy)
    with (copy / "sfdc" / "Contact.csv").open("a", encoding="utf-8") as fh:
        fh.write("0035g00000QrStVAAV,someone@else.com\n")
    other = loaded(build_plan(copy, out=tmp_path / "out" / "plan.json", exports=False, fmt="parquet").plan)
    assert other["plan_id"] != plan["plan_id"]
    assert other["changes"] == plan["changes"]


def test_blast_radius_gate_when_ready_changes_exceed_the_policy_limit(tmp_path):
    from conftest import policy_with

    policy = policy_with(tmp_path, replace={"max_ready_changes_per_field = 5000": "max_ready_changes_per_field = 1"})
    gated = build_plan(HANDMADE, out=tmp_path / "out" / "plan.json", policy=policy, exports=False, fmt="parquet").plan
    assert gated["gates"] == [
        {
            "gate": "blast_radius_field",
            "object": "CampaignMember",
            "field": "ReplyClassification__c",
            "count": 2,
            "limit": 1,
            "message": "2 ready changes on CampaignMember.ReplyClassification__c exceed the policy limit of 1; "
            "approval needs --override-gate.",
        },
        {
            "gate": "blast_radius_field",
            "object": "Lead",
            "field": "external_hard_bounced__c",
            "count": 2,
            "limit": 1,
            "message": "2 ready changes on Lead.external_hard_bounced__c exceed the policy limit of 1; approval needs "
            "--override-gate.",
        },
    ]
    assert gated["summary"]["gates"] == 2


# ------------------------------------------------------------------------------------------ load_plan


def test_load_plan_accepts_the_plan_it_wrote(built, manifest):
    assert planmod.load_plan(built.plan_path) == manifest


def test_load_plan_refuses_an_edited_data_file(tmp_path, built, plan):
    path = copy_plan(built.plan_path, tmp_path / "edited.json")
    data = path.with_name("edited.data") / "changes.parquet"
    table = pq.read_table(data)
    status = table.column("status").to_pylist()
    status[status.index("blocked")] = "ready"
    pq.write_table(table.set_column(table.column_names.index("status"), "status", pa.array(status)), data)
    with pytest.raises(PlanError) as e:
        planmod.load_plan(path)
    assert str(e.value) == (
        f"Plan '{path}' was edited after it was built: 'edited.data/changes.parquet' no longer "
        f"matches the manifest (plan_id '{plan['plan_id']}'). Rebuild the plan with "
        "`reconcile plan` and approve it again."
    )


def test_load_plan_refuses_an_edited_manifest_and_an_edited_v1_plan(tmp_path, built, plan):
    path = copy_plan(built.plan_path, tmp_path / "edited.json")
    planmod.save_plan(planmod.load_plan(path), path, rehash=False)  # same content: still the same plan
    assert planmod.load_plan(path)["plan_id"] == plan["plan_id"]
    doc = json.loads(path.read_text("utf-8"))
    doc["gates"] = [{"gate": "removed"}]
    path.write_text(planmod.dumps(doc), "utf-8")
    message = (
        f"Plan '{path}' was edited after it was built: its content no longer matches plan_id "
        f"'{plan['plan_id']}'. Rebuild the plan with `reconcile plan` and approve it again."
    )
    with pytest.raises(PlanError) as e:
        planmod.load_plan(path)
    assert str(e.value) == message
    edited = loaded(planmod.load_plan(copy_plan(built.plan_path, tmp_path / "v2.json")))
    blocked = next(c for c in edited["changes"] if c["status"] == "blocked")
    blocked["status"], blocked["reason"], blocked["reasons"] = "ready", None, []
    planmod.save_plan(edited, tmp_path / "v2.json", rehash=False)  # rows rewritten, manifest hashes follow them
    with pytest.raises(PlanError) as e:
        planmod.load_plan(tmp_path / "v2.json")
    assert "was edited after it was built: its content no longer matches plan_id" in str(e.value)
    v1 = json.loads(
        build_plan(HANDMADE, out=tmp_path / "v1" / "plan.json", exports=False, fmt="json").plan_path.read_text("utf-8")
    )
    blocked = next(c for c in v1["changes"] if c["status"] == "blocked")
    blocked["status"], blocked["reason"], blocked["reasons"] = "ready", None, []
    v1_path = tmp_path / "v1.json"
    v1_path.write_text(planmod.dumps(v1), "utf-8")
    with pytest.raises(PlanError) as e:
        planmod.load_plan(v1_path)
    assert str(e.value) == (
        f"Plan '{v1_path}' was edited after it was built: its content no longer matches plan_id "
        f"'{v1['plan_id']}'. Rebuild the plan with `reconcile plan` and approve it again."
    )


def test_a_plan_of_the_earlier_layout_is_checked_against_its_bytes_sha256(tmp_path, built):
    """Manifests written before the bytes became the only hash carry `bytes_sha256` (the bytes) beside a `sha256` of
    the rows' JSON lines: still read, their bytes checked against bytes_sha256, their sha256 their change-set hash."""
    from reconcile import provenance

    path = copy_plan(built.plan_path, tmp_path / "old.json")
    doc = json.loads(path.read_text("utf-8"))
    for entry in doc["files"].values():
        entry["bytes_sha256"], entry["sha256"] = entry["sha256"], "sha256:" + "ab" * 32  # the rows' hash, as recorded
    doc["plan_id"] = planmod.compute_plan_id(doc)
    path.write_text(planmod.dumps(doc), "utf-8")
    old = planmod.load_plan(path)
    assert provenance.changes_hash(old) == "sha256:" + "ab" * 32
    assert len(old["changes"]) == doc["files"]["changes"]["rows"]
    data = path.with_name("old.data") / "changes.parquet"
    table = pq.read_table(data)
    status = table.column("status").to_pylist()
    status[status.index("blocked")] = "ready"
    pq.write_table(table.set_column(table.column_names.index("status"), "status", pa.array(status)), data)
    with pytest.raises(PlanError, match="'old.data/changes.parquet' no longer matches the manifest"):
        planmod.load_plan(path)


def test_load_plan_refuses_a_plan_without_its_data_files(tmp_path, built):
    path = tmp_path / "alone.json"
    shutil.copy(built.plan_path, path)
    with pytest.raises(PlanError) as e:
        planmod.load_plan(path)
    assert str(e.value) == (
        f"Plan '{path}' is missing its changes file 'alone.data/changes.parquet'. Keep the "
        "plan's .data folder beside it, or rebuild it with `reconcile plan`."
    )


def test_load_plan_accepts_only_a_created_at_edit(tmp_path, built):
    path = copy_plan(built.plan_path, tmp_path / "retimed.json")
    text = path.read_text("utf-8")
    path.write_text(re.sub(r'"created_at":"[^"]*"', '"created_at":"2030-01-01T00:00:00Z"', text), "utf-8")
    assert planmod.load_plan(path)["created_at"] == "2030-01-01T00:00:00Z"


def test_a_plan_object_refuses_data_files_replaced_under_it(tmp_path):
    first = build_plan(HANDMADE, out=tmp_path / "plan.json", exports=False, fmt="parquet").plan
    build_plan(HANDMADE, out=tmp_path / "plan.json", exports=False, fmt="parquet")
    with pytest.raises(PlanError, match="was replaced on disk since it was opened"):
        first["changes"]


def test_a_file_that_is_not_a_plan_json_is_named_as_the_wrong_file(tmp_path):
    path = tmp_path / "plan.changes.csv"
    path.write_text("object,record_id\nLead,x\n", "utf-8")
    with pytest.raises(PlanError) as e:
        planmod.load_plan(path)
    assert str(e.value) == (
        f"'{path}' is not a plan: a plan is the .json file `reconcile plan --out` wrote (PLAN.json, beside "
        "PLAN.data/). Pass that file."
    )


@pytest.mark.parametrize(
    "content, message",
    [
        (
            "not json",
            "Plan '{p}' is not valid JSON (Expecting value: line 1 column 1 (char 0)). Rebuild it with "
            "`reconcile plan`.",
        ),
        (
            '{"format": "other/1"}',
            "Plan '{p}' is not a reconcile.plan/2 (or /1) file. Rebuild it with `reconcile plan`.",
        ),
    ],
)
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
        (c["object"], c["record_id"], c["field"], c["status"]) for c in plan["changes"]
    ]
    assert table.column("record_id").to_pylist() == [c["record_id"] for c in plan["changes"]]


def test_no_csv_export_beyond_a_spreadsheets_rows(tmp_path, monkeypatch, plan):
    (tmp_path / "plan.changes.csv").write_text("an older plan's export\n", "utf-8")
    monkeypatch.setattr(planmod, "SPREADSHEET_ROWS", len(plan["changes"]) - 1)
    res = build_plan(HANDMADE, out=tmp_path / "plan.json", fmt="parquet")
    assert [p.name for p in res.exports] == ["plan.changes.parquet"]
    assert not (tmp_path / "plan.changes.csv").exists()
    assert pq.read_table(res.exports[0]).num_rows == len(plan["changes"])


# ------------------------------------------------------------------------------------------ explain


def test_explain_prints_changes_findings_and_source_rows(built, plan, run_cli):
    result = run_cli("explain", "00Q5g00000AbCdE", "--plan", built.plan_path)
    assert result.exit_code == 0, result.stderr
    assert (
        result.stdout
        == f"""Record 00Q5g00000AbCdEEAV  (plan {plan["plan_id"]})

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
    evidence: sfdc sfdc/Lead.csv row 1 pi__pardot_hard_bounced__c = 'false'
    evidence: pardot pardot/prospects.csv row 1 isEmailHardBounced = 'true' at 2026-11-20T09:35:01Z
"""
    )


def test_explain_json_matches_the_plan(built, plan, run_cli):
    result = run_cli("explain", "00Q5g00000AbCdFEAV", "--plan", built.plan_path, "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    rid = "00Q5g00000AbCdFEAV"
    assert doc["record_id"] == rid and doc["plan_id"] == plan["plan_id"]
    assert doc["changes"] == [c for c in plan["changes"] if c["record_id"] == rid]
    assert {f["kind"] for f in doc["findings"]} == {"bounce_hop_lost", "overall_formula_mismatch"}


def test_explain_and_report_query_the_plan_without_loading_its_rows(tmp_path, built, plan):
    from reconcile.explain import explain
    from reconcile.report.report import render_report

    lazy = planmod.load_plan(built.plan_path, verify=False)
    rid = "00Q5g00000AbCdFEAV"
    assert explain(lazy, rid)["changes"] == [c for c in plan["changes"] if c["record_id"] == rid]
    render_report(lazy, tmp_path / "lazy.html")
    assert not {"changes", "findings", "rejects"} & set(lazy), "explain/report read whole lists"
    render_report(json.loads(planmod.to_json(plan)), tmp_path / "lists.html")  # the same plan as lists
    assert (tmp_path / "lazy.html").read_text("utf-8") == (tmp_path / "lists.html").read_text("utf-8")


def test_approve_queries_the_plan_without_loading_its_rows(tmp_path, monkeypatch):
    from reconcile.approval import approve, approved_changes, load_approval
    from reconcile.policy import load_policy

    from conftest import policy_with

    pol = policy_with(tmp_path, statuses={"company_description__c": "active", "Industry": "active"})
    res = build_plan(HANDMADE, out=tmp_path / "out" / "plan.json", exports=False, policy=pol, fmt="parquet")
    everything = loaded(planmod.load_plan(res.plan_path))

    def refuse(self, key):
        raise AssertionError(f"plan[{key!r}] loaded a whole part of the plan")

    monkeypatch.setattr(planmod.Plan, "__missing__", refuse)
    entry = approve(
        res.plan_path, by="Ana Admin", release_fields=["company_description__c"], release_reason="checked", policy=pol
    )
    plan = planmod.load_plan(res.plan_path)
    changes = approved_changes(plan, load_approval(res.plan_path, plan, load_policy(pol)))
    monkeypatch.undo()
    assert entry["overwrite_releases"] == [
        {"fields": ["Lead.company_description__c"], "records": [], "reason": "checked"}
    ]
    expected = [
        c
        for c in everything["changes"]
        if c["status"] == "ready"
        or (c["reasons"] == ["overwrite_not_approved"] and c["field"] == "company_description__c")
    ]
    assert len(expected) > sum(c["status"] == "ready" for c in everything["changes"]), "one change is released"
    assert [(c["record_id"], c["field"], c["after"]) for c in changes] == [
        (c["record_id"], c["field"], c["after"]) for c in expected
    ]


def test_a_v1_plan_is_still_read_explained_and_gated(tmp_path, plan):
    from reconcile.approval import plan_gates
    from reconcile.explain import explain
    from reconcile.policy import load_policy

    v1 = planmod.load_plan(build_plan(HANDMADE, out=tmp_path / "plan.json", exports=False, fmt="json").plan_path)
    assert v1["format"] == "reconcile.plan/1" and v1["changes"] == plan["changes"]
    rid = "00Q5g00000AbCdFEAV"
    lazy = planmod.load_plan(plan.path)
    assert explain(v1, rid)["changes"] == explain(lazy, rid)["changes"]
    assert explain(v1, rid)["findings"] == explain(lazy, rid)["findings"]
    assert plan_gates(v1, load_policy()) == plan_gates(lazy, load_policy()) == []


def test_explain_refuses_a_malformed_id(built, run_cli):
    result = run_cli("explain", "00Q5g00000AbCd", "--plan", built.plan_path)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Record id '00Q5g00000AbCd' is not a Salesforce id (15 or 18 letters and digits "
        "with a valid checksum). Copy the id from the plan or from Salesforce.\n"
    )


@pytest.mark.parametrize(
    "record_id, says",
    [
        ("00Q5g00000ZzZzZ", "Nothing planned and nothing found for this Lead: Salesforce already holds what the rules"),
        ("00v5g00000ZzZzZ", "Nothing planned and nothing found for this CampaignMember:"),
        ("0035g00000ZzZzZ", "A Contact: reconcile reads Contacts but never writes them"),
        ("7015g00000ZzZzZ", "A Campaign: never written itself; its members' changes carry its id as campaign_id"),
        ("0015g00000ZzZzZ", "Not a Lead, Campaign Member, Contact or Campaign id (key prefix '001')"),
    ],
    ids=["lead", "member", "contact", "campaign", "account"],
)
def test_explain_says_why_a_record_has_nothing_by_what_its_id_is(built, run_cli, record_id, says):
    """An id with nothing in the plan: a Lead or member the rules leave alone reads differently from a Contact (never
    written), a Campaign or another object's id (a wrong copy)."""
    result = run_cli("explain", record_id, "--plan", built.plan_path)
    assert result.exit_code == 0, result.stderr
    head, line = result.stdout.splitlines()
    assert head.startswith("Record " + record_id) and line.startswith("  " + says), line
    doc = json.loads(run_cli("explain", record_id, "--plan", built.plan_path, "--json").stdout)
    assert doc["object"] == {"00Q": "Lead", "00v": "CampaignMember", "003": "Contact", "701": "Campaign"}.get(
        record_id[:3]
    )


# ------------------------------------------------------------------------------------------ finding tables, summary


def test_each_finding_table_holds_only_its_own_kind(built):
    import duckdb

    con = duckdb.connect(str(built.db_path), read_only=True)
    try:
        for kind in FINDING_KINDS:
            assert {r[0] for r in con.execute(f"select distinct kind from find_{kind}").fetchall()} <= {kind}
    finally:
        con.close()


def test_summary_campaign_and_gbu_counts_equal_the_notebook_filters(built, plan):
    """One rule (plan_record_context) behind the summary's by_campaign/by_gbu and the notebooks' filters."""
    import duckdb

    from reconcile.notebook.explore import filter_changes

    s = plan["summary"]
    assert s["by_campaign"] and [g for g in s["by_gbu"] if g != "(none)"]
    con = duckdb.connect(str(built.db_path), read_only=True)
    try:
        for cid, c in s["by_campaign"].items():
            shown = filter_changes(con, campaign=cid, limit=10**6)
            assert len(shown) == c["ready"] + c["blocked"], cid
        for gbu, c in s["by_gbu"].items():
            if gbu != "(none)":
                shown = filter_changes(con, gbu=gbu, limit=10**6)
                assert len(shown) == c["ready"] + c["blocked"], gbu
    finally:
        con.close()


def test_canonical_line_is_the_rows_struct_as_json():
    """planfile._line_sql writes each column's to_json between the keys (cheaper than a struct's to_json): it must be
    byte for byte the row's to_json as a struct, the last key of the findings' and rejects' canonical order."""
    import duckdb

    from reconcile import planfile

    evidence = [
        {"source": "clay", "file": "a/b.csv", "row": 3, "column": 'q"uote', "value": "tab\there é 😀", "at": None},
        {"source": None, "file": None, "row": None, "column": None, "value": "\\ \u2028 \x01 /", "at": "2024-01-01"},
    ]
    values = ["plain", None, "", 'q"uote', "back\\slash", "nl\n", "é 😀", "\x01", "  spaced  ", "/"]
    jsons = [None, "null", "true", '"x"', '"\\u00e9"', "1.0", "1e5", "-0", "12345678901234567890", '{"b": 1, "a": [1]}']
    ev_type = 'struct(source varchar, file varchar, "row" bigint, "column" varchar, value varchar, "at" varchar)[]'
    con = duckdb.connect()
    con.execute(
        "create table t as select v as object, v as record_id, v as field, j::json as before, j::json as after, "
        f"v as rule, v as status, v as reason, [v, v] as reasons, ?::{ev_type} as evidence, v as campaign_id, "
        "v as gbu, v as file, length(v)::bigint as row, v as column, v as value, v as expected, v as message "
        "from unnest(?::varchar[]) as a(v) cross join unnest(?::varchar[]) as b(j)",
        [evidence, values, jsons],
    )
    for part in ("changes", "rejects"):
        cols = planfile.CHANGE_COLUMNS if part == "changes" else planfile.REJECT_COLUMNS
        struct = ", ".join(f'"{c}" := "{c}"::json' if c in ("before", "after") else f'"{c}" := "{c}"' for c in cols)
        pairs = con.execute(
            f"select to_json(struct_pack({struct}))::varchar, {planfile._line_sql(part)} from t"
        ).fetchall()
        assert len(pairs) == len(values) * len(jsons)
        assert all(a == b for a, b in pairs), next((a, b) for a, b in pairs if a != b)


def test_summary_campaign_and_gbu_counts_are_each_change_once_per_campaign_and_gbu_of_its_record(tmp_path):
    """The summary's query counts a record's changes once under each distinct campaign and GBU of the record (its own
    row and, for a Lead, its campaigns: plan_record_context) without a distinct over every (change, campaign) pair;
    on a generated backfill (Leads in several campaigns, campaigns of other GBUs, repeated memberships) it equals that
    distinct, written out."""
    from reconcile.build import build
    from reconcile.demo_data import generate_snapshot
    from reconcile.policy import load_policy
    from reconcile.sql import connect, sql_text

    generate_snapshot(tmp_path / "snap", leads=3000, profile="backfill")
    con = connect(tmp_path / "b.duckdb")
    build(con, tmp_path / "snap", load_policy(None))
    by_definition = con.execute(
        """
        with pairs as (
            select distinct 'campaign' as dimension, x.campaign_id as key, c.object, c.record_id, c.field, c.status
            from plan_changes as c
            join plan_record_context as x on x.object = c.object and x.record_id = c.record_id
            where x.campaign_id is not null
            union
            select distinct 'gbu', coalesce(x.gbu, '(none)'), c.object, c.record_id, c.field, c.status
            from plan_changes as c
            join plan_record_context as x on x.object = c.object and x.record_id = c.record_id
        )
        select dimension, key, count(*) filter (where status = 'ready'), count(*) filter (where status = 'blocked')
        from pairs group by all order by 1, 2
        """
    ).fetchall()
    summary = [
        (d, k, r, b) for d, k, _, _, r, b in con.execute(sql_text("plan/summary_by_campaign_and_gbu")).fetchall()
    ]
    assert summary == by_definition
    (shared,) = con.execute(  # the case the query has to get right: a Lead in a campaign of its own GBU, and of another
        "select count(distinct x.record_id) from plan_record_context as x join plan_record_context as o "
        "on o.object = x.object and o.record_id = x.record_id and o.is_own and not x.is_own "
        "and coalesce(o.gbu, '') = coalesce(x.gbu, '') join plan_changes as c on c.record_id = x.record_id"
    ).fetchone()
    (other,) = con.execute(
        "select count(distinct x.record_id) from plan_record_context as x join plan_record_context as o "
        "on o.object = x.object and o.record_id = x.record_id and o.is_own and not x.is_own "
        "and coalesce(o.gbu, '') <> coalesce(x.gbu, '') join plan_changes as c on c.record_id = x.record_id"
    ).fetchone()
    assert shared > 0 and other > 0, (shared, other)


def test_auto_format_writes_a_small_plan_as_one_json_document_and_a_large_one_as_manifest_and_parquet(
    tmp_path, monkeypatch
):
    """SPEC §6: a plan is one JSON document with its changes inline; only a large plan's rows may live in columnar
    files beside a manifest. `--format auto` (the default) chooses by the plan's rows (build.JSON_PLAN_ROWS), and a
    /1 plan written where a /2 plan was leaves no data folder of the other plan behind."""
    from reconcile import build

    out = tmp_path / "plan.json"
    small = build_plan(HANDMADE, out=out, exports=False)
    doc = json.loads(out.read_text("utf-8"))
    rows = len(doc["changes"]) + len(doc["findings"]) + len(doc["rejects"])
    assert doc["format"] == "reconcile.plan/1" and 0 < rows <= build.JSON_PLAN_ROWS
    assert not (tmp_path / "plan.data").exists()
    assert planmod.load_plan(out)["plan_id"] == small.plan["plan_id"]

    monkeypatch.setattr(build, "JSON_PLAN_ROWS", rows - 1)  # one row more than a /1 plan holds
    large = build_plan(HANDMADE, out=out, exports=False)
    manifest = json.loads(out.read_text("utf-8"))
    assert manifest["format"] == "reconcile.plan/2" and "changes" not in manifest
    assert sorted(p.name for p in (tmp_path / "plan.data").iterdir()) == [f"{p}.parquet" for p in planmod.LAZY]
    assert loaded(planmod.load_plan(out))["changes"] == doc["changes"]
    assert large.plan["plan_id"] != small.plan["plan_id"]  # the format is part of what plan_id binds

    monkeypatch.setattr(build, "JSON_PLAN_ROWS", rows)  # exactly as many rows as a /1 plan holds
    build_plan(HANDMADE, out=out, exports=False)
    assert json.loads(out.read_text("utf-8"))["plan_id"] == small.plan["plan_id"]
    assert not (tmp_path / "plan.data").exists()  # the /2 plan's rows went with it


def test_plan_command_writes_json_by_default_and_format_chooses(tmp_path, run_cli):
    for fmt, expected in ((None, "reconcile.plan/1"), ("parquet", "reconcile.plan/2"), ("json", "reconcile.plan/1")):
        out = tmp_path / (fmt or "default") / "plan.json"
        res = run_cli("plan", HANDMADE, "--out", out, *(["--format", fmt] if fmt else []))
        assert res.exit_code == 0, res.output
        assert json.loads(out.read_text("utf-8"))["format"] == expected
        assert (out.parent / "plan.data").is_dir() is (expected == "reconcile.plan/2")


def test_every_staging_table_holds_each_value_with_its_file_and_row(built):
    """README "The DuckDB file": the typed snapshot (stg_*), every value with its file and row."""
    import duckdb

    con = duckdb.connect(str(built.db_path), read_only=True)
    try:
        staged = con.execute(
            "select table_name, list(column_name) from information_schema.columns where table_name like 'stg\\_%' "
            "escape '\\' group by 1 order by 1"
        ).fetchall()
        assert len(staged) >= 9
        assert [t for t, cols in staged if not {"file", "row"} <= set(cols)] == []
        assert con.execute("select file, row from stg_sfdc__campaign").fetchall() == [("sfdc/Campaign.csv", 1)]
    finally:
        con.close()
