"""`reconcile digest --week`: the CRM Admin's weekly connector review from run bundles and the audit trail."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from conftest import lead_id
from test_notify import finding, notify_policy, rowless_day

from reconcile.standins.smtp import SmtpStandin


def bundle(root: Path, day: str, errors: list[tuple], findings: list[dict], audit: list[tuple] = ()) -> Path:
    """A finished run bundle of `day`: summary.json, plan.json and a DuckDB file with stg_clay__errors and audit."""
    b = root / f"{day}-{day[-2:]}abcdef"
    b.mkdir(parents=True)
    created = f"{day}T06:10:00Z"
    (b / "summary.json").write_text(
        json.dumps({"plan_id": "sha256:" + day, "created_at": created, "run_date": day, "summary": {}})
    )
    (b / "plan.json").write_text(
        json.dumps(
            {
                "format": "reconcile.plan/1",
                "plan_id": "sha256:" + day,
                "created_at": created,
                "findings": findings,
                "changes": [],
            }
        )
    )
    con = duckdb.connect(str(b / "reconcile.duckdb"))
    con.execute(
        "create table stg_clay__errors (file varchar, row bigint, error_at timestamptz, object varchar, "
        "record_id varchar, field varchar, message varchar)"
    )
    for at, obj, rid, fld, msg in errors:
        con.execute(
            "insert into stg_clay__errors values ('clay/errors.csv', 1, ?, ?, ?, ?, ?)", [at, obj, rid, fld, msg]
        )
    con.execute(
        "create table audit (seq bigint, run_id varchar, plan_id varchar, approver varchar, object varchar, "
        "record_id varchar, field varchar, before varchar, after varchar, result varchar, "
        'error_code varchar, message varchar, "at" timestamptz)'
    )
    for i, (approver, rid, fld, result, code, at) in enumerate(audit, start=1):
        con.execute(
            "insert into audit values (?, 'r', 'p', ?, 'Lead', ?, ?, 'null', 'true', ?, ?, null, ?)",
            [i, approver, rid, fld, result, code, at],
        )
    con.close()
    return b


MISSING = "Required fields are missing: [Company]"


def week_of_bundles(root: Path) -> None:
    before = [finding("pardot_sync_gap", 1, "CRM Admin"), finding("conflicting_enrichment", 2, "MARCOM Ops")]
    bundle(root, "2026-11-20", [("2026-11-20T01:00:00Z", "Lead", lead_id(1), "Company", MISSING)], before)
    # Monday: the export repeats Friday's error (outside the week) and logs two new ones; one finding closes
    bundle(
        root,
        "2026-11-23",
        [
            ("2026-11-20T01:00:00Z", "Lead", lead_id(1), "Company", MISSING),
            ("2026-11-23T02:00:00Z", "Lead", lead_id(5), "Company", MISSING),
            ("2026-11-23T03:00:00Z", "CampaignMember", lead_id(6), "Status", "bad value"),
        ],
        before[:1] + [finding("connector_error", 5, "CRM Admin")],
        audit=[
            ("Ana Admin", lead_id(1), "Industry", "applied", None, "2026-11-23T09:00:00Z"),
            ("Ana Admin", lead_id(2), "Industry", "applied", None, "2026-11-23T09:00:00Z"),
            ("Ana Admin", lead_id(3), "Industry", "failed", "REQUIRED_FIELD_MISSING", "2026-11-23T09:00:00Z"),
        ],
    )
    # Wednesday: the same errors again (counted once) plus one more of the same message
    bundle(
        root,
        "2026-11-25",
        [
            ("2026-11-23T02:00:00Z", "Lead", lead_id(5), "Company", MISSING),
            ("2026-11-25T02:00:00Z", "Lead", lead_id(7), "Company", MISSING),
        ],
        [finding("connector_error", 5, "CRM Admin"), finding("connector_error", 7, "CRM Admin")],
    )
    bundle(root, "2026-11-30", [("2026-11-30T02:00:00Z", "Lead", lead_id(9), "Company", MISSING)], [])


def test_weekly_review_counts_errors_once_with_first_and_last_seen(tmp_path, run_cli):
    week_of_bundles(tmp_path / "reports")
    r = run_cli("digest", "--week", "2026-11-25", "--reports-dir", tmp_path / "reports")
    assert r.exit_code == 0, r.stderr
    md = (tmp_path / "reports" / "weekly" / "2026-W48.md").read_text()
    assert "# Weekly connector review — 2026-W48 (2026-11-23 to 2026-11-29)" in md
    assert (
        "| Lead | Company | Required fields are missing: [Company] | 2 | 2 | 2026-11-23T02:00:00Z | "
        "2026-11-25T02:00:00Z |"
    ) in md
    assert "| CampaignMember | Status | bad value | 1 | 1 |" in md
    assert f"| 2026-11-23T09:00:00Z | Lead | {lead_id(3)} | Industry | failed | REQUIRED_FIELD_MISSING |" in md
    # with the runbook's next step (seed 3.5): a missing required field is the CRM Admin's, via validation bypass
    [exception] = [line for line in md.splitlines() if lead_id(3) in line and "REQUIRED_FIELD_MISSING" in line]
    assert exception.split(" | ")[-1].startswith("CRM Admin: a field the record requires is blank"), exception
    assert "| Ana Admin | Lead.Industry | 2 |" in md
    assert "| conflicting_enrichment | 0 | 1 | 0 |" in md  # closed on Monday against the Friday baseline
    assert "| connector_error | 2 | 0 | 2 |" in md
    html = (tmp_path / "reports" / "weekly" / "2026-W48.html").read_text()
    assert "--ink: #1f2937" in html and "Required fields are missing: [Company]" in html  # the report's look
    assert "<th>Next step</th>" in html and "validation-bypass permission" in html


def test_weekly_review_counts_findings_on_unmatched_source_rows_one_per_row(tmp_path, run_cli):
    reports = tmp_path / "reports"
    bundle(reports, "2026-11-20", [], [])
    bundle(reports, "2026-11-23", [], rowless_day())  # 3 unmatched rows, 2 ambiguous ones
    # Wednesday: the same rows moved down by the export, the smartlead one gone, one new unmatched row
    new_row = ("unmatched_source_row", "clay/replies.csv", 160, "new@nowhere.de", "clay row matches no Lead.")
    wednesday = [f for f in rowless_day(2, (new_row,)) if not f["evidence"][0]["file"].startswith("smartlead/")]
    bundle(reports, "2026-11-25", [], wednesday)
    r = run_cli("digest", "--week", "2026-11-25", "--reports-dir", reports)
    assert r.exit_code == 0, r.stderr
    md = (reports / "weekly" / "2026-W48.md").read_text()
    assert "| unmatched_source_row | 4 | 1 | 3 |" in md
    assert "| ambiguous_match | 2 | 0 | 2 |" in md


def test_weekly_review_escapes_data_in_html(tmp_path, run_cli):
    bundle(
        tmp_path / "reports",
        "2026-11-23",
        [("2026-11-23T02:00:00Z", "Lead", lead_id(5), "Company", "<script>alert(1)</script>")],
        [],
    )
    run_cli("digest", "--week", "2026-11-23", "--reports-dir", tmp_path / "reports")
    html = (tmp_path / "reports" / "weekly" / "2026-W48.html").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    # and the page forbids scripts and every load itself, as the daily report does
    assert """content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\"""" in html


@pytest.mark.parametrize("named_by", ["--policy", "--org"])
def test_weekly_review_is_sent_to_the_crm_admin_once(tmp_path, run_cli, monkeypatch, named_by):
    """The CRM Admin of the policy named by file or by org (policies/<org>.toml, SPEC §8)."""
    week_of_bundles(tmp_path / "reports")
    monkeypatch.setenv("RECONCILE_POLICY_DIR", str(tmp_path))
    with SmtpStandin() as smtp:
        for k, v in smtp.env().items():
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("RECONCILE_TEST_HOOK", raising=False)
        pol = notify_policy(tmp_path).read_text().replace('webhook_env = "RECONCILE_TEST_HOOK"\n', "")
        (tmp_path / "p.toml").write_text(pol)
        for _ in range(2):
            r = run_cli(
                "digest",
                "--week",
                "2026-11-25",
                "--reports-dir",
                tmp_path / "reports",
                "--notify",
                named_by,
                tmp_path / "p.toml" if named_by == "--policy" else "P",
            )
            assert r.exit_code == 0, r.stderr
        [mail] = smtp.messages
        assert mail["To"] == "crm.admin@example.com"
        assert mail["Subject"] == (
            "[reconcile] Weekly connector review 2026-W48: 3 connector error(s), 1 apply exception(s), 2 applied"
        )


def test_bad_week_date_is_a_usage_error(tmp_path, run_cli):
    r = run_cli("digest", "--week", "27/11/2026", "--reports-dir", tmp_path)
    assert r.exit_code == 2
    assert r.stderr.splitlines()[-1] == (
        "Error: Invalid value for '--week': Week date '27/11/2026' is not a date like 2026-11-27. Pass --week YYYY-MM-DD."
    )


def test_a_reports_dir_that_does_not_exist_is_a_usage_error_not_an_empty_review(tmp_path, run_cli):
    """A misspelt --reports-dir wrote 'Weekly review … (0 runs)' and exited 0: a cron job would mail an empty review
    (found by an audit). It is a usage error (exit 2) naming the folder, and nothing is written."""
    r = run_cli("digest", "--week", "2026-11-25", "--reports-dir", tmp_path / "reprots", "--out", tmp_path / "weekly")
    assert r.exit_code == 2, r.output
    assert "reprots" in r.output and "does not exist" in r.output
    assert not (tmp_path / "weekly").exists()
