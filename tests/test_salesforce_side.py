"""Preflight, pull, sandbox serve and the demo — through unmodified simple-salesforce over HTTPS."""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import HANDMADE, client_for, sandbox_env, seed

from reconcile.build import build_plan
from reconcile.policy import load_policy
from reconcile.preflight import run_preflight
from reconcile.pull import pull_snapshot
from reconcile.salesforce import connect
from reconcile.sandbox import start_sandbox
from reconcile.seeding import seed_org


@pytest.fixture
def org(sandbox_org):
    seed(sandbox_org, HANDMADE)
    return sandbox_org


def test_preflight_passes_for_the_least_privilege_integration_user(org):
    checks = run_preflight(client_for(org), load_policy())
    assert [c.name for c in checks if not c.ok] == []


def test_edit_granted_by_the_profile_is_no_dedicated_permission_set(org):
    """Seed §3.1 "create dedicated permission set, do not use existing sets": the System Administrator's Edit comes
    from its profile's own permission set (IsOwnedByProfile), which is not one."""
    checks = {c.name: c for c in run_preflight(client_for(org, "admin"), load_policy())}
    dedicated = checks["dedicated permission set"]
    assert dedicated.label == "FAIL" and "by the user's profile" in dedicated.detail, dedicated.detail


def test_preflight_names_each_problem_of_an_overprivileged_user(tmp_path, org):
    policy = tmp_path / "policy.toml"
    text = load_policy().path and Path(load_policy().path).read_text("utf-8")
    policy.write_text(text.replace("gbus = []", 'gbus = ["Novecare", "Aroma Performance"]'), "utf-8")
    checks = {c.name: c for c in run_preflight(client_for(org, "overprivileged"), load_policy(policy))}
    failed = sorted(n for n, c in checks.items() if not c.ok)
    assert "API-only profile" in failed
    assert "no admin-wide permissions" in failed and "ModifyAllData" in checks["no admin-wide permissions"].detail
    assert "read on Contacts, no edit" in failed
    assert "Lead edit limited to the allowlist" in failed
    assert "validation bypass" in failed
    assert "role SBS" in failed
    assert "GBU Aroma Performance visible" in failed
    assert all(checks[n].fix for n in failed)


def _policy_gbus(tmp_path, gbus):
    policy = tmp_path / "policy.toml"
    text = Path(load_policy().path).read_text("utf-8")
    policy.write_text(text.replace("gbus = []", f"gbus = {json.dumps(gbus)}"), "utf-8")
    return load_policy(policy)


class _OrgWithoutGbuAccessField:
    """A client of an org whose User has no field stating the user's GBUs: preflight can only look for records."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def describe(self, sobject):
        d = self._client.describe(sobject)
        if sobject == "User":
            d = {**d, "fields": [f for f in d["fields"] if f["name"] != "Visible_GBUs__c"]}
        return d


def test_preflight_does_not_call_a_gbu_without_records_invisible(tmp_path, org):
    """The handmade org has Novecare records and none of Composite Materials: the integration user sees every GBU
    (User.Visible_GBUs__c), so both pass; without that field the empty GBU cannot be confirmed either way (WARN)."""
    policy = _policy_gbus(tmp_path, ["Novecare", "Composite Materials"])
    checks = {c.name: c for c in run_preflight(client_for(org), policy)}
    assert [n for n, c in checks.items() if not c.ok] == []
    assert checks["GBU Novecare visible"].label == "PASS"
    empty = checks["GBU Composite Materials visible"]
    assert empty.label == "PASS" and "Visible_GBUs__c" in empty.detail, empty.detail
    checks = {c.name: c for c in run_preflight(_OrgWithoutGbuAccessField(client_for(org)), policy)}
    assert checks["GBU Novecare visible"].label == "PASS"
    empty = checks["GBU Composite Materials visible"]
    assert empty.label == "WARN" and "no records yet" in empty.detail, empty.detail
    # a GBU whose records the user cannot see still fails where the org states the user's GBUs
    hidden = {
        c.name: c
        for c in run_preflight(client_for(org, "overprivileged"), _policy_gbus(tmp_path, ["Aroma Performance"]))
    }
    assert hidden["GBU Aroma Performance visible"].label == "FAIL"
    # and with no GBU listed (the default policy), the org's own GBU__c values: stated as not granted → FAIL
    default = {c.name: c for c in run_preflight(client_for(org, "overprivileged"), load_policy())}
    assert default["GBU Aroma Performance visible"].label == "FAIL", default["GBU Aroma Performance visible"].detail
    assert "not granted by User.Visible_GBUs__c" in default["GBU Aroma Performance visible"].detail


def test_preflight_cli_exits_1_and_prints_fixes(org):
    env = {
        **os.environ,
        "SF_INSTANCE_URL": org.instance_url,
        "SF_SESSION_ID": org.overprivileged_session_id,
        "SF_CA_BUNDLE": org.ca_bundle,
    }
    r = subprocess.run([sys.executable, "-m", "reconcile.cli", "preflight"], env=env, capture_output=True, text=True)
    assert r.returncode == 1
    assert "FAIL  API-only profile" in r.stdout and "fix:" in r.stdout


def test_pull_round_trip_rest_and_bulk_agree_and_plan_the_same(tmp_path, org):
    client = client_for(org)
    client.bulk_wait = 0.05
    rest, bulk = tmp_path / "rest", tmp_path / "bulk"
    for target, threshold in ((rest, 10**9), (bulk, 0)):
        logged, made = len(org.org.request_log), client.requests_made
        counts = pull_snapshot(target, client, bulk_threshold=threshold, taken_at="2026-11-27T06:00:00Z")
        assert counts == {"Lead": 4, "CampaignMember": 2, "Contact": 1, "Campaign": 1}
        # every request the org served is counted (a Bulk API 2.0 query: create, polls, result pages — one call
        # into simple-salesforce); the manifest's and the plan's api_requests come from this count
        assert client.requests_made - made == len(org.org.request_log) - logged
    assert sorted((rest / "sfdc" / "Lead.csv").read_text().splitlines()) == sorted(
        (bulk / "sfdc" / "Lead.csv").read_text().splitlines()
    )
    assert json.loads((rest / "sfdc" / "describe" / "Lead.json").read_text())["name"] == "Lead"
    for sub in ("clay", "smartlead", "pardot"):
        shutil.copytree(HANDMADE / sub, rest / sub)
    pulled = build_plan(rest, out=tmp_path / "p1.json").plan
    original = build_plan(HANDMADE, out=tmp_path / "p2.json").plan

    def key(p):
        return sorted(
            (c["object"], c["record_id"], c["field"], json.dumps(c["after"]), c["status"]) for c in p["changes"]
        )

    assert key(pulled) == key(original)


def test_pulling_salesforce_keeps_everything_else_the_manifest_says(tmp_path, org):
    """A Salesforce-only pull sets taken_at.sfdc and keeps the rest: the other sources' taken_at and [pulled.*]
    (their api_requests in the plan summary), org_id, notes and typed values; it adds the instance it read."""
    client = client_for(org)
    (tmp_path / "manifest.toml").write_text(
        'org_id = "00D5g000004XyZ1EAK"\nnotes = "daily"\n\n[taken_at]\nclay = "2026-11-27T05:00:00Z"\n'
        'sfdc = "2026-11-26T06:00:00Z"\n\n[pulled.smartlead]\nfiles = 2\nrecords = 40\napi_requests = 3\n'
    )
    pull_snapshot(tmp_path, client, taken_at="2026-11-27T06:00:00Z")
    assert tomllib.loads((tmp_path / "manifest.toml").read_text()) == {
        "org_id": "00D5g000004XyZ1EAK",
        "notes": "daily",
        "taken_at": {"clay": "2026-11-27T05:00:00Z", "sfdc": "2026-11-27T06:00:00Z"},
        "pulled": {"smartlead": {"files": 2, "records": 40, "api_requests": 3}},
        "instance_url": org.instance_url,  # the org read: apply refuses the plan against another
    }


def test_sandbox_serve_prints_one_json_line_and_serves(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconcile.cli",
            "sandbox",
            "serve",
            "--state",
            str(tmp_path / "org.json"),
            "--seed",
            str(HANDMADE),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert set(info) >= {"instance_url", "session_id", "admin_session_id", "ca_bundle"}
        client = connect(
            env={
                "SF_INSTANCE_URL": info["instance_url"],
                "SF_SESSION_ID": info["session_id"],
                "SF_CA_BUNDLE": info["ca_bundle"],
            }
        )
        assert len(client.query_all("SELECT Id FROM Lead")) == 4
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_demo_runs_the_whole_day_and_leaves_nothing_ready(tmp_path):
    from reconcile.demo import run_demo

    r = run_demo(tmp_path / "demo", leads=40, say=lambda m: None)
    kinds = set(r.plan["summary"]["findings"]["by_kind"])
    assert {
        "bounce_hop_lost",
        "sender_originated_bounce",
        "overall_formula_mismatch",
        "pardot_sync_gap",
        "deliverability_review",
        "conflicting_enrichment",
        "classification_without_reply",
        "do_not_contact_reply",
        "eligibility_mismatch",
        "ambiguous_match",
        "unmatched_source_row",
        "connector_error",
    } <= kinds
    assert r.apply_counts.get("applied") == r.plan["summary"]["changes"]["ready"]
    assert r.replan_ready == 0
    sources = r.plan["summary"]["inputs"]["sources"]  # all four pulled: three over their APIs, Clay's drop folder
    assert {s: sources[s]["api_requests"] > 0 for s in ("sfdc", "smartlead", "pardot")} == dict.fromkeys(
        ("sfdc", "smartlead", "pardot"), True
    )
    assert sources["clay"]["present"] and sources["clay"]["api_requests"] == 0
    assert r.report_path.exists()
    assert_no_secret_in(r.workdir, org_secrets(r.workdir / "sandbox" / "org.json"))


def org_secrets(state: Path) -> set[str]:
    """Every credential the sandbox org's state holds: the app's client secret, the access tokens it issued, and each
    user's password, security token and session id."""
    org = json.loads(state.read_text("utf-8"))
    secrets = {org["app"]["client_secret"], *org["tokens"]}
    for user in org["users"]:
        secrets |= {user[k] for k in ("password", "security_token", "session_id") if user.get(k)}
    assert len(org["tokens"]) >= 1 and all(len(s) >= 16 for s in secrets)
    return secrets


def assert_no_secret_in(workdir: Path, secrets: set[str]) -> None:
    """No credential in any file a run wrote (the org's own state and keys under sandbox/ aside): text and binary
    files as bytes, and DuckDB files and Parquet files by their values (compressed pages hide bytes)."""
    import duckdb

    checked = 0
    for path in sorted(p for p in workdir.rglob("*") if p.is_file() and "sandbox" not in p.relative_to(workdir).parts):
        data = path.read_bytes()
        found = {s for s in secrets if s.encode() in data}
        if path.suffix in (".duckdb", ".parquet"):
            con = duckdb.connect(str(path), read_only=True) if path.suffix == ".duckdb" else duckdb.connect()
            try:
                relations = (
                    [f'"{t}"' for (t,) in con.execute("select table_name from duckdb_tables()").fetchall()]
                    if path.suffix == ".duckdb"
                    else [f"read_parquet('{path}')"]
                )
                for rel in relations:
                    text = con.execute(f"select string_agg(cast(columns(*) as varchar), '') from {rel}").fetchone()
                    found |= {s for s in secrets if any(s in (v or "") for v in text)}
            finally:
                con.close()
        assert not found, f"{path} holds a credential"
        checked += 1
    assert checked > 20


def test_preflight_checks_the_orgs_gbus_when_the_policy_lists_none_and_the_dedicated_permission_set(org):
    checks = {c.name: c for c in run_preflight(client_for(org), load_policy())}
    gbus = {n: c for n, c in checks.items() if n.startswith("GBU ")}
    assert set(gbus) == {
        f"GBU {g} visible" for g in ("Specialty Polymers", "Composite Materials", "Novecare", "Aroma Performance")
    }
    assert all("GBU__c picklist" in c.detail for c in gbus.values())
    assert {c.label for c in gbus.values()} <= {"PASS", "WARN"} and "PASS" in {c.label for c in gbus.values()}
    dedicated = checks["dedicated permission set"]
    assert dedicated.ok and dedicated.detail.startswith("edit granted by ")
    assert "bypass" not in dedicated.detail.lower()


def test_preflight_names_people_who_share_the_integrations_permission_set(org):
    """Assign the integration user's writing permission set to the (human) admin too: FAIL naming the admin."""
    sf = client_for(org)
    uid = sf.userinfo()["user_id"]
    mine = [
        a["PermissionSetId"]
        for a in sf.query_all(f"SELECT PermissionSetId FROM PermissionSetAssignment WHERE AssigneeId = '{uid}'")
    ]
    admin = org.org.user("admin")
    before = set(org.org.records("PermissionSetAssignment"))
    org.org.insert("PermissionSetAssignment", [{"AssigneeId": admin.user_id, "PermissionSetId": p} for p in mine])
    try:
        check = {c.name: c for c in run_preflight(sf, load_policy())}["dedicated permission set"]
        assert not check.ok
        assert "Clay_Integration_Writeback → " + admin.username in check.detail
    finally:
        for rid in set(org.org.records("PermissionSetAssignment")) - before:
            del org.org.data["PermissionSetAssignment"][rid]


def test_an_org_seeded_with_its_snapshots_formula_values_answers_them_and_keeps_them_after_a_restart(tmp_path):
    """keep_formula_values: the org answers the snapshot's deviating formula values (SOQL and GET alike), computes
    every other record's, and keeps them across a restart; a normal seed computes every formula."""
    from reconcile.build import staged

    con = staged(HANDMADE)
    held = {
        r[0]: (r[1], r[2])
        for r in con.execute(
            "select sf_lead_id, overall_hard_bounced, cold_lead_eligible from stg_sfdc__lead"
        ).fetchall()
    }
    con.close()
    soql = "SELECT Id, overall_hard_bounced__c, Cold_Lead_Eligible__c FROM Lead"
    plain = start_sandbox()
    try:
        seed_org(plain.org, HANDMADE)
        computed = {
            r["Id"]: (r["overall_hard_bounced__c"], r["Cold_Lead_Eligible__c"])
            for r in client_for(plain).query_all(soql)
        }
    finally:
        plain.stop()
    deviating = {i for i in held if held[i] != computed[i]}
    assert deviating, "the handmade snapshot holds formula values its own inputs do not give"

    state = tmp_path / "org.json"
    h = start_sandbox(state_path=state)
    try:
        counts = seed_org(h.org, HANDMADE, keep_formula_values=True)
        assert counts["deviating formula values"] == len(deviating)
        sf = client_for(h)
        answered = {r["Id"]: (r["overall_hard_bounced__c"], r["Cold_Lead_Eligible__c"]) for r in sf.query_all(soql)}
        assert answered == held
        one = sorted(deviating)[0]
        assert (sf.sf.Lead.get(one)["overall_hard_bounced__c"], sf.sf.Lead.get(one)["Cold_Lead_Eligible__c"]) == held[
            one
        ]
    finally:
        h.stop()
    again = start_sandbox(state_path=state)
    try:
        answered = {
            r["Id"]: (r["overall_hard_bounced__c"], r["Cold_Lead_Eligible__c"])
            for r in client_for(again).query_all(soql)
        }
        assert answered == held
    finally:
        again.stop()


@pytest.fixture(scope="module")
def misconfigured():
    """A sandbox org whose extra users each lack one thing of seed §3.1: read on an object, or the API itself."""
    from reconcile.sandbox.security import default_users

    objects = next(u for u in default_users() if u.key == "integration").objects
    users = {f"no_{o.lower()}": {"objects": {k: v for k, v in objects.items() if k != o}} for o in objects}
    campaign_edit = {"objects": {**objects, "Campaign": "edit"}, "permission_set": "Clay_Integration_Campaigns"}
    by_set = {"profile": "Minimum Access", "api_only": False, "permission_set": "Clay_Integration_Api_Only"}
    users = {**users, "no_api": {"api_enabled": False}, "campaign_edit": campaign_edit, "api_only_by_set": by_set}
    h = start_sandbox(users=users)
    seed(h, HANDMADE)
    yield h
    h.stop()


@pytest.mark.parametrize(
    "obj, check",
    [("Contact", "read on Contacts, no edit"), ("Lead", "edit on Lead"), ("CampaignMember", "edit on CampaignMember")],
)
def test_preflight_fails_the_check_of_an_object_the_user_cannot_see_instead_of_stopping(misconfigured, obj, check):
    """Salesforce answers NOT_FOUND to the describe of an object the user may not read: that is the check failing,
    with its fix, and every other check still runs."""
    checks = {c.name: c for c in run_preflight(client_for(misconfigured, f"no_{obj.lower()}"), load_policy())}
    assert not checks[check].ok and f"{obj} is not visible" in checks[check].detail, checks[check]
    assert "Read" in checks[check].fix and obj in checks[check].fix
    assert checks["validation bypass"].ok and checks["role SBS"].ok
    if obj != "Contact":
        assert not checks[f"{obj} edit limited to the allowlist"].ok


def test_preflight_fails_a_write_beyond_leads_and_campaign_members(misconfigured):
    """Seed §3.1, least privilege: Read Contacts, Write Leads and Campaign Members — nothing else. Edit on Campaign,
    or Delete / Modify All on any object (Modify All edits and deletes every record, sharing aside), is a FAIL naming
    the object, the permission and the permission set that grants it."""
    name = "writes only Lead and CampaignMember"
    ok = {c.name: c for c in run_preflight(client_for(misconfigured), load_policy())}
    assert ok[name].label == "PASS", ok[name]
    checks = {c.name: c for c in run_preflight(client_for(misconfigured, "campaign_edit"), load_policy())}
    assert checks[name].label == "FAIL" and "Campaign: Edit (Clay_Integration_Campaigns)" in checks[name].detail
    assert "Campaign" in checks[name].fix and "§3.1" in checks[name].fix
    # Modify All on Lead (and Delete on CampaignMember), granted through the integration user's own set
    sf = client_for(misconfigured)
    uid = sf.userinfo()["user_id"]
    sets = {
        a["PermissionSetId"]
        for a in sf.query_all(f"SELECT PermissionSetId FROM PermissionSetAssignment WHERE AssigneeId = '{uid}'")
    }
    rows = {
        rid: r
        for rid, r in misconfigured.org.data["ObjectPermissions"].items()
        if r["ParentId"] in sets and r["SobjectType"] in ("Lead", "CampaignMember")
    }
    saved = {rid: dict(r) for rid, r in rows.items()}
    try:
        for r in rows.values():
            r["PermissionsModifyAllRecords" if r["SobjectType"] == "Lead" else "PermissionsDelete"] = True
        check = {c.name: c for c in run_preflight(sf, load_policy())}[name]
        assert check.label == "FAIL"
        assert "Lead: Modify All" in check.detail and "CampaignMember: Delete" in check.detail, check.detail
    finally:
        misconfigured.org.data["ObjectPermissions"].update(saved)


def test_preflight_takes_api_only_from_a_permission_set_too(misconfigured):
    """Seed §3.1 "API Only / No UI access": Salesforce grants the API Only User permission through a profile or a
    permission set. Granted by the user's permission set on a profile without it, the check passes naming the set;
    granted by neither, it fails."""
    name = "API-only profile"
    sf = client_for(misconfigured, "api_only_by_set")
    assert not {c.name: c for c in run_preflight(sf, load_policy())}[name].ok
    sets = misconfigured.org.data["PermissionSet"].values()
    ps = next(r for r in sets if r["Name"] == "Clay_Integration_Api_Only")
    ps["PermissionsApiUserOnly"] = True
    try:
        check = {c.name: c for c in run_preflight(sf, load_policy())}[name]
        assert check.label == "PASS" and "Clay_Integration_Api_Only" in check.detail, check.detail
    finally:
        ps["PermissionsApiUserOnly"] = False


def test_preflight_of_a_user_without_api_access_names_the_permission_to_grant(misconfigured, run_cli, monkeypatch):
    for k, v in sandbox_env(misconfigured, "no_api").items():
        monkeypatch.setenv(k, v)
    r = run_cli("preflight")
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "API_CURRENTLY_DISABLED" in r.stderr and "'API Enabled'" in r.stderr, r.stderr


def test_a_plan_pulled_from_one_org_is_never_applied_to_another(org, tmp_path):
    """SPEC §8, one integration user per CRM system: two orgs side by side (the sandbox started twice, seeded alike,
    so every record id exists in both). A plan built from org A's pull is refused against org B before anything is
    read from or written to B — the pull records the instance it read (manifest.toml instance_url) and the plan
    carries it; against A it applies."""
    from reconcile.apply.apply import apply_plan
    from reconcile.approval import approve
    from reconcile.errors import ApplyError

    snap = tmp_path / "snap"
    shutil.copytree(HANDMADE, snap)
    pull_snapshot(snap, client_for(org))
    assert tomllib.loads((snap / "manifest.toml").read_text("utf-8"))["instance_url"] == org.instance_url
    plan_path = tmp_path / "plan.json"
    plan = build_plan(snap, out=plan_path, exports=False).plan
    assert plan["snapshot"]["instance_url"] == org.instance_url
    assert any(c["status"] == "ready" for c in plan["changes"])
    approve(plan_path, by="Ana Admin", override_gate="two orgs side by side" if plan["gates"] else None)
    other = start_sandbox()
    try:
        seed_org(other.org, HANDMADE)
        start = len(other.org.request_log)
        for dry_run in (True, False):
            with pytest.raises(ApplyError) as refused:
                apply_plan(plan_path, client=client_for(other), dry_run=dry_run)
            assert f"pulled from {org.instance_url}" in str(refused.value)
            assert f"log in to {other.instance_url}" in str(refused.value)
        assert other.org.request_log[start:] == []  # nothing asked of org B, nothing written
    finally:
        other.stop()
    assert apply_plan(plan_path, client=client_for(org), dry_run=True).counts.get("would_apply")
