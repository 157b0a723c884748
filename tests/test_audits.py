"""Build-time audits (sql/audits/assert_*.sql): each returns the rows that break an invariant of the plan. A clean
build passes them all; each is made to fail on purpose here (a tampered table or model) and stops the plan with one
`Error:` line naming the audit, the row count and the first rows — and no plan written."""

from __future__ import annotations

import re

import pytest
from conftest import HANDMADE

from reconcile import sql as sqlmod
from reconcile.build import build_plan, model_params
from reconcile.errors import AuditError
from reconcile.policy import load_policy
from reconcile.ingest.snapshots import Snapshot
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


# audit → (model, text in it, replacement): a model gone wrong in the way the audit guards against
BROKEN_MODEL = {
    "assert_one_change_per_record_field": (
        "plan/plan_changes",
        "\nfrom sorted",
        "\nfrom sorted cross join (values (1), (2)) as twice(n)",
    ),
    "assert_after_differs_from_before": ("plan/plan_changes", "    after,\n", "    before as after,\n"),
    "assert_ready_only_on_active_fields": (
        "plan/plan_changes",
        "case when len(reasons) = 0 then 'ready'",
        "case when true then 'ready'",
    ),
    "assert_reason_is_first_reason": ("plan/plan_changes", "reasons[1] as reason", "reasons[2] as reason"),
    "assert_reasons_are_known": (
        "plan/plan_changes",
        "|| c.rule_reasons as found",
        "|| c.rule_reasons || ['made_up_reason'] as found",
    ),
    "assert_every_finding_routed": (
        "plan/plan_findings",
        "coalesce(r.route, $default_route)",
        "nullif($default_route, $default_route)",
    ),
}


def test_every_audit_has_a_broken_model_case():
    assert sorted(BROKEN_MODEL) == sorted(TAMPER)


@pytest.mark.parametrize("audit", sorted(BROKEN_MODEL))
def test_a_failing_audit_stops_the_plan_with_one_error_line(tmp_path, run_cli, monkeypatch, audit):
    """`reconcile plan` on a model gone wrong: one Error: line naming the audit, its row count and first rows; no
    plan, no export."""
    model, old, new = BROKEN_MODEL[audit]
    original = sqlmod.sql_text

    def broken(name):
        text = original(name)
        if name == model:
            assert old in text, (model, old)
            return text.replace(old, new)
        return text

    monkeypatch.setattr(sqlmod, "sql_text", broken)
    out = tmp_path / "out" / "plan.json"
    result = run_cli("plan", HANDMADE, "--out", out)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert re.fullmatch(
        rf"Error: Audit '{audit}' failed \(.+\): \d+ offending row\(s\), first: .+\. No plan was "
        r"written: this is a bug in the SQL models; report it with the snapshot\.",
        lines[0],
    ), lines[0]
    assert not out.exists()
    assert not out.parent.exists() or not list(out.parent.glob("plan.*"))
