"""Build-time audits (sql/audits/assert_*.sql): each returns the rows that break an invariant of the plan. A clean
build passes them all; each is made to fail on purpose here (a tampered table or model) and stops the plan with one
`Error:` line naming the audit, the row count and the first rows — and no plan written."""

from __future__ import annotations

import pytest
from conftest import HANDMADE

from reconcile import sql as sqlmod
from reconcile.build import build_plan, model_params
from reconcile.errors import AuditError
from reconcile.policy import load_policy
from reconcile.snapshots import Snapshot
from reconcile.sql import AUDITS, SQL_DIR, connect, run_audits

# audit → SQL that breaks its invariant in a built database
TAMPER = {
    "assert_one_change_per_record_field": "insert into plan_changes select * from plan_changes limit 1",
    "assert_after_differs_from_before": "update plan_changes set after = before "
                                        "where record_id = (select min(record_id) from plan_changes)",
    "assert_ready_only_on_active_fields": "update policy_fields set status = 'pending_legal' where status = 'active'",
    "assert_reason_is_first_reason": "update plan_changes set reason = null where status = 'blocked'",
    "assert_reasons_are_known": "update plan_changes set reasons = list_append(reasons, 'made_up_reason')",
    "assert_every_finding_routed": "update plan_findings set route = ''",
}


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    out = tmp_path_factory.mktemp("audits") / "plan.json"
    return build_plan(HANDMADE, out=out, exports=False).db_path


def test_every_audit_file_is_registered_and_has_a_tamper_case():
    on_disk = sorted(p.relative_to(SQL_DIR).with_suffix("").as_posix() for p in (SQL_DIR / "audits").glob("*.sql"))
    assert sorted(AUDITS) == on_disk
    assert all(a.startswith("audits/assert_") for a in AUDITS)
    assert sorted(a.rsplit("/", 1)[1] for a in AUDITS) == sorted(TAMPER)


def test_a_clean_build_passes_every_audit(db):
    con = connect(db)
    try:
        run_audits(con, model_params(load_policy(), Snapshot(root=HANDMADE)))
    finally:
        con.close()


@pytest.mark.parametrize("audit", sorted(TAMPER))
def test_a_broken_invariant_fails_its_audit(db, audit):
    con = connect(db)
    try:
        con.begin()
        con.execute(TAMPER[audit])
        with pytest.raises(AuditError) as e:
            run_audits(con, model_params(load_policy(), Snapshot(root=HANDMADE)), names=[f"audits/{audit}"])
        con.rollback()
    finally:
        con.close()
    message = str(e.value)
    assert message.startswith(f"Audit '{audit}' failed (")
    assert "offending row(s), first: " in message
    assert message.endswith("No plan was written: this is a bug in the SQL models; report it with the snapshot.")


def test_a_failing_audit_stops_the_plan_with_one_error_line(tmp_path, run_cli, monkeypatch):
    """A model gone wrong (findings left without a route): `reconcile plan` names the audit and writes nothing."""
    original = sqlmod.sql_text

    def tampered(name):
        text = original(name)
        return text.replace("coalesce(r.route, $default_route)", "nullif($default_route, $default_route)") \
            if name == "plan/plan_findings" else text

    monkeypatch.setattr(sqlmod, "sql_text", tampered)
    out = tmp_path / "out" / "plan.json"
    result = run_cli("plan", HANDMADE, "--out", out)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: Audit 'assert_every_finding_routed' failed (every finding has a route "
                               "(someone owns it: policy [routes], else the default route)): ")
    assert "offending row(s), first: kind=" in lines[0]
    assert not out.exists()
    assert not out.parent.exists() or not list(out.parent.glob("plan.*"))
