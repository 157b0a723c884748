"""What a plan was built from (issue 9): natural export names, no file silently ignored, sources present and fresh or
said loudly, every record staged or rejected, long cells and deep JSON read, and a report that never gives an
all-clear about data it did not receive."""

from __future__ import annotations

import json
import re

import duckdb
import pytest
from conftest import (
    CLAY_HEADER,
    LEAD_HEADER,
    MEMBER_HEADER,
    PARDOT_HEADER,
    SMARTLEAD_HEADER,
    csv_text,
    lead,
    lead_id,
    manifest,
    member,
    member_id,
    plan_in,
    policy_with,
    write_snapshot,
)

from reconcile.errors import SnapshotError
from reconcile.ingest import damaged
from reconcile.ingest.contract import CLAY_COLUMNS
from reconcile.report.report import render_report

L1, L2 = lead_id(1), lead_id(2)
LEADS = csv_text(LEAD_HEADER, [lead(1), lead(2)])
BOUNCED_IN_PARDOT = csv_text(
    PARDOT_HEADER, [{"id": "p1", "email": "lead1@example.com", "salesforceLeadId": L1, "isEmailHardBounced": "true"}]
)


def inputs(plan: dict) -> dict:
    return plan["summary"]["inputs"]


# ------------------------------------------------------------------------------------------ file names


def test_natural_export_names_feed_their_source(tmp_path):
    snap = write_snapshot(
        tmp_path,
        {
            "sfdc/Lead.csv": None,
            "sfdc/leads_2026-11-27.csv": LEADS,
            "pardot/Prospects export 2026-11-27.csv": BOUNCED_IN_PARDOT,
            "smartlead/events-2026-11-26.jsonl": '{"event_type":"EMAIL_REPLY"}\n',
            "smartlead/events-2026-11-27.jsonl": '{"event_type":"EMAIL_REPLY"}\n',
        },
    )
    plan = plan_in(snap)
    read = {f["file"]: f["source"] for f in inputs(plan)["files"]}
    assert read["sfdc/leads_2026-11-27.csv"] == "sfdc__lead"
    assert read["pardot/Prospects export 2026-11-27.csv"] == "pardot__prospects"
    assert read["smartlead/events-2026-11-26.jsonl"] == read["smartlead/events-2026-11-27.jsonl"] == "smartlead__events"
    assert [(f["kind"], f["record_id"]) for f in plan["findings"] if f["kind"] == "pardot_sync_gap"] == [
        ("pardot_sync_gap", L1)
    ]


def test_every_other_file_is_listed_as_ignored_with_its_reason(tmp_path):
    snap = write_snapshot(
        tmp_path,
        {
            "sfdc/Lead.csv": LEADS,
            "notes.txt": "hello",
            "archive/Lead.csv": LEADS,
            "sfdc/old/Lead.csv": LEADS,
            "clay/table.xlsx": b"PK",
            "smartlead/.DS_Store": b"\0",
            "smartlead/campaign-12.xlsx": b"PK",
        },
    )
    plan = plan_in(snap)
    assert inputs(plan)["ignored"] == [
        {
            "file": "archive/Lead.csv",
            "reason": "folder 'archive/' is not a source folder (sfdc/, clay/, smartlead/, pardot/)",
        },
        {"file": "clay/table.xlsx", "reason": "not a .csv, .parquet or .jsonl file"},
        {"file": "notes.txt", "reason": "not in a source folder (sfdc/, clay/, smartlead/, pardot/)"},
        {"file": "sfdc/old/Lead.csv", "reason": "in a subfolder: a source reads only the files directly in sfdc/"},
        {"file": "smartlead/.DS_Store", "reason": "a hidden or temporary file"},
        {"file": "smartlead/campaign-12.xlsx", "reason": "not a .csv, .parquet or .jsonl file"},
    ]
    assert "'notes.txt' ignored: not in a source folder (sfdc/, clay/, smartlead/, pardot/)" in inputs(plan)["warnings"]
    con = duckdb.connect(str(snap.parent / "out" / "reconcile.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from snapshot_ignored").fetchone()[0] == 6
    finally:
        con.close()


@pytest.mark.parametrize(
    "rel, error",
    [
        (
            "sfdc/LeadHistory.csv",
            "Snapshot 'sfdc/LeadHistory.csv' matches no source: the name is none of Lead, "
            "CampaignMember, Contact, Campaign (e.g. sfdc/Lead.csv). Rename it (see README: File "
            "names) or move it out of the snapshot folder.",
        ),
        (
            "pardot/visitors.csv",
            "Snapshot 'pardot/visitors.csv' matches no source: the name does not contain 'prospects' "
            "(e.g. pardot/prospects.csv). Rename it (see README: File names) or move it out of the "
            "snapshot folder.",
        ),
        (
            "smartlead/leads-9181.csv",
            "Snapshot 'smartlead/leads-9181.csv' matches no source: the name is neither "
            "campaign-<id>.* (a leads export) nor events*.jsonl (webhooks). Rename it (see README: "
            "File names) or move it out of the snapshot folder.",
        ),
        (
            "smartlead/events.csv",
            "Snapshot 'smartlead/events.csv' is .csv, but smartlead/events.jsonl must be .jsonl. "
            "Export it in that format.",
        ),
    ],
)
def test_a_data_file_that_matches_no_source_is_an_error(tmp_path, run_cli, rel, error):
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": LEADS, rel: "id\n"})
    result = run_cli("plan", snap, "--out", tmp_path / "out" / "plan.json", "--lenient")
    assert (result.exit_code, result.stderr) == (1, f"Error: {error}\n")
    assert not (tmp_path / "out" / "plan.json").exists()


def test_plan_output_accounts_for_every_file_records_planned_from_and_rejected(tmp_path, run_cli, monkeypatch):
    """README "Snapshot contract": records = planned from + rejected, shown per file in `plan` output — every file,
    or past console.FILES_SHOWN only those with rejected rows (and how many others there are)."""
    from reconcile import console

    repeated = csv_text(LEAD_HEADER, [lead(1), lead(2), lead(2, "other@example.com")])
    clay = csv_text(CLAY_HEADER, [{"LeadId": L1}, {"LeadId": L2, "Hard Bounced": "maybe"}])
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": repeated, "clay/table.csv": clay})
    result = run_cli("plan", snap, "--out", tmp_path / "out" / "plan.json", "--lenient")
    assert result.exit_code == 0, result.output
    table = result.stdout.split("Inputs by file", 1)[1]
    rows = {line.split("│")[1].strip(): line.split("│")[2:5] for line in table.splitlines() if line.count("│") == 5}
    assert [c.strip() for c in rows["sfdc/Lead.csv"]] == ["3", "1", "2"]  # the repeated Id: both rows rejected
    assert [c.strip() for c in rows["clay/table.csv"]] == ["2", "1", "1"]
    assert [c.strip() for c in rows["sfdc/Contact.csv"]] == ["0", "0", "0"]
    monkeypatch.setattr(console, "FILES_SHOWN", 1)
    result = run_cli("plan", snap, "--out", tmp_path / "out" / "plan.json", "--lenient")
    table = result.stdout.split("Inputs by file", 1)[1]
    shown = [line.split("│")[1].strip() for line in table.splitlines() if line.count("│") == 5]
    assert shown == ["clay/table.csv", "sfdc/Lead.csv"]
    files = len(json.loads((tmp_path / "out" / "plan.json").read_text("utf-8"))["summary"]["inputs"]["files"])
    assert f"{files - 2} more files, every record planned from" in result.stdout


@pytest.mark.parametrize("fmt", ["json", "parquet"])
def test_a_plan_written_into_the_snapshot_folder_is_not_an_input_of_the_next(tmp_path, run_cli, fmt):
    """SPEC §6: the same inputs give a byte-identical plan. A plan, its exports, approval and DuckDB file written into
    the snapshot's own folder (with the build's temporaries beside them while it runs) are no inputs: rebuilt there,
    the plan is the same, and another file there is still listed as ignored."""
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": LEADS, "notes.txt": "hello"})
    ids = []
    for _ in range(2):
        result = run_cli("plan", snap, "--out", snap / "plan.json", "--format", fmt)
        assert result.exit_code == 0, result.output
        assert "ignored" in result.output and "notes.txt" in result.output and "plan." not in result.stderr
        plan = json.loads((snap / "plan.json").read_text("utf-8"))
        assert plan["summary"]["inputs"]["ignored"] == [
            {"file": "notes.txt", "reason": "not in a source folder (sfdc/, clay/, smartlead/, pardot/)"}
        ]
        ids.append(plan["plan_id"])
        (snap / "plan.approval.json").write_text("{}", "utf-8")  # what approve writes beside the plan
    assert ids[0] == ids[1]
    assert {"reconcile.duckdb", "plan.json", "plan.changes.csv"} <= {p.name for p in snap.iterdir()}
    (snap / "plan2.json").write_text("{}", "utf-8")  # not this plan's: an input the snapshot holds
    run_cli("plan", snap, "--out", snap / "plan.json", "--format", fmt)
    ignored = json.loads((snap / "plan.json").read_text("utf-8"))["summary"]["inputs"]["ignored"]
    assert [f["file"] for f in ignored] == ["notes.txt", "plan2.json"]


@pytest.mark.parametrize("rel", ["sfdc/Lead.csv", "sfdc/Campaign.csv", "clay/replies.csv", "manifest.toml"])
def test_a_link_to_a_missing_file_in_a_source_folder_is_an_error_naming_it(tmp_path, run_cli, rel):
    # an export on a share that is not mounted: a Campaign file or a Clay table silently missing would plan without it
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": LEADS})
    (snap / rel).parent.mkdir(exist_ok=True)
    (snap / rel).unlink(missing_ok=True)
    (snap / rel).symlink_to("/mnt/exports/missing.csv")
    result = run_cli("plan", snap, "--out", tmp_path / "out" / "plan.json", "--lenient")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: Snapshot '{rel}' is a link to '/mnt/exports/missing.csv', which does not exist, so it cannot be "
        "read. Put the file itself there (or mount the share the link points into), or remove it.\n",
    )
    assert not (tmp_path / "out").exists()


def test_a_link_to_a_missing_file_outside_the_source_files_is_listed_as_ignored(tmp_path):
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": LEADS})
    (snap / "notes.txt").symlink_to(tmp_path / "nowhere.txt")
    assert inputs(plan_in(snap))["ignored"] == [
        {
            "file": "notes.txt",
            "reason": "not in a source folder (sfdc/, clay/, smartlead/, pardot/); "
            f"a link to '{tmp_path / 'nowhere.txt'}', which does not exist",
        }
    ]


def test_two_candidates_for_one_source_are_an_error_naming_both(tmp_path):
    snap = write_snapshot(
        tmp_path, {"pardot/prospects.csv": BOUNCED_IN_PARDOT, "pardot/prospects_2026-11-27.csv": BOUNCED_IN_PARDOT}
    )
    with pytest.raises(
        SnapshotError,
        match=r"has 2 files for pardot/prospects\.\* \(pardot/prospects\.csv, "
        r"pardot/prospects_2026-11-27\.csv\)\. Keep one of them\.",
    ):
        plan_in(snap)


def test_two_leads_exports_of_one_smartlead_campaign_are_an_error_naming_both(tmp_path):
    """One export per campaign: a second (yesterday's beside today's) would decide the category by file name."""
    leads = "id,email,category\n1,lead1@example.com,Interested\n"
    snap = write_snapshot(
        tmp_path,
        {
            "pardot/prospects.csv": BOUNCED_IN_PARDOT,
            "smartlead/campaign-9181.csv": leads,
            "smartlead/campaign-9181_2026-12-03.csv": leads.replace("Interested", "Wrong Person"),
            "smartlead/campaign-9182.csv": leads,
        },
    )
    with pytest.raises(
        SnapshotError,
        match=r"has 2 leads exports of Smartlead campaign 9181 \(smartlead/campaign-9181\.csv, "
        r"smartlead/campaign-9181_2026-12-03\.csv\)\. Keep the latest one\.$",
    ):
        plan_in(snap)


def test_a_smartlead_export_takes_its_campaign_id_from_the_digits_of_its_name(tmp_path):
    clay = csv_text(
        CLAY_HEADER,
        [{"LeadId": L1, "Email": "lead1@example.com", "Smartlead Campaign ID": "77", "CampaignMemberId": None}],
    )
    sl = csv_text(["id", "email", "category"], [{"id": "5", "email": "lead1@example.com", "category": "Interested"}])
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": LEADS, "clay/t.csv": clay, "smartlead/Campaign_77 leads.csv": sl})
    plan = plan_in(snap)
    assert {f["file"]: f["source"] for f in inputs(plan)["files"]}[
        "smartlead/Campaign_77 leads.csv"
    ] == "smartlead__leads"
    con = duckdb.connect(str(snap.parent / "out" / "reconcile.duckdb"), read_only=True)
    try:
        assert con.execute("select distinct smartlead_campaign_id from stg_smartlead__leads").fetchall() == [("77",)]
    finally:
        con.close()


# ------------------------------------------------------------------------------------------ sources and freshness


def test_sources_present_and_behind_salesforce_are_in_the_plan(tmp_path):
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": LEADS, "pardot/prospects.csv": BOUNCED_IN_PARDOT})
    src = inputs(plan_in(snap))["sources"]
    assert src["sfdc"] | {"files": None} == {
        "present": True,
        "required": True,
        "files": None,
        "records": 2,
        "taken_at": "2026-11-27T06:00:00Z",
        "behind_sfdc_hours": 0.0,
        "max_age_hours": None,
        "status": "ok",
    }
    assert (src["pardot"]["status"], src["pardot"]["behind_sfdc_hours"], src["pardot"]["records"]) == ("ok", 0.25, 1)
    assert (src["clay"]["present"], src["clay"]["status"]) == (False, "missing")


def test_missing_sources_are_warnings_never_an_all_clear(tmp_path):
    snap = write_snapshot(
        tmp_path,
        {"sfdc/Lead.csv": LEADS, "clay/t.csv": csv_text(CLAY_HEADER, [{"LeadId": L1, "Hard Bounced": "true"}])},
    )
    plan = plan_in(snap)
    assert inputs(plan)["warnings"] == [
        "Smartlead not provided — Smartlead bounces, replies and reply categories not checked",
        "Pardot not provided — Pardot hard bounces (pardot_sync_gap) not checked",
        "Clay error log not provided (clay/errors.csv) — connector errors not checked",
    ]
    html = render_report(plan, tmp_path / "report.html").read_text("utf-8")
    assert 'id="input-warnings"' in html
    assert "Smartlead not provided" in html and "connector errors not checked" in html
    assert "No connector errors in the last 7 days" not in html


def test_a_column_a_rule_reads_missing_from_its_files_is_a_warning_naming_it(tmp_path):
    # a misspelt Clay header, a Smartlead export without reply counts, a Pardot export without its bounce flag:
    # planned from, but never an all-clear about evidence that was not there
    clay_enrich = csv_text(["LeadId", "Industry"], [{"LeadId": L1, "Industry": "Banking"}])
    clay_replies = csv_text(["LeadId", "Hard Bounce", "Replied"], [{"LeadId": L2, "Hard Bounce": "true"}])
    sl = csv_text(["id", "email", "category", "custom_fields"], [{"id": "5", "email": "lead1@example.com"}])
    sl_full = csv_text(SMARTLEAD_HEADER, [{"id": "6", "email": "lead2@example.com"}])
    pardot = csv_text(["id", "email", "salesforceLeadId"], [{"id": "p1", "email": "lead1@example.com"}])
    files = {
        "sfdc/Lead.csv": LEADS,
        "clay/enrichment.csv": clay_enrich,
        "clay/replies.csv": clay_replies,
        "smartlead/campaign-77.csv": sl,
        "smartlead/campaign-78.csv": sl_full,
        "pardot/prospects.csv": pardot,
    }
    block = inputs(plan_in(write_snapshot(tmp_path, files)))
    assert [w for w in block["warnings"] if "column" in w] == [
        "no Clay table has a 'Hard Bounced' column — Clay hard bounces not checked",
        "no Clay table has a 'Reply Category' column — Clay reply categories not checked",
        "no Clay table has a 'Reply At' column — Clay reply categories count at Clay's taken_at",
        "no Clay table has a 'Company Description' column — Clay company descriptions not checked",
        "no Clay table has a 'Email Validation' column — Clay email validation (deliverability_review) not checked",
        "smartlead/campaign-77.csv has no 'reply_count' column — its reply counts not checked",
        "pardot/prospects.csv has no 'isEmailHardBounced' column — Pardot hard bounces (pardot_sync_gap) not checked",
    ]
    assert {k: v["status"] for k, v in block["sources"].items()} == {
        "sfdc": "ok",
        "clay": "partial",
        "smartlead": "partial",
        "pardot": "partial",
    }


def test_a_required_source_that_is_missing_stops_the_plan(tmp_path):
    policy = policy_with(
        tmp_path / "pol", replace={"[sources.pardot]\nrequired = false": "[sources.pardot]\nrequired = true"}
    )
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": LEADS})
    with pytest.raises(
        SnapshotError,
        match=re.escape(
            "Pardot not provided — Pardot hard bounces (pardot_sync_gap) not "
            "checked. Add the export (README: Sources and freshness) or "
            "relax [sources.pardot] in the policy."
        ),
    ):
        plan_in(snap, policy=policy)
    assert not (snap.parent / "out" / "plan.json").exists()


@pytest.mark.parametrize("on_problem", ["warn", "error"])
def test_a_source_taken_long_before_salesforce_is_stale(tmp_path, on_problem):
    policy = policy_with(
        tmp_path / "pol",
        replace={
            'max_age_hours = 24\non_problem = "warn"\n[sources.pardot]': f'max_age_hours = 2\non_problem = "{on_problem}"\n[sources.pardot]'
        },
    )
    taken = {
        "sfdc": "2026-11-27T06:00:00Z",
        "clay": "2026-11-27T05:00:00Z",
        "smartlead": "2026-11-26T06:00:00Z",
        "pardot": "2026-11-27T05:45:00Z",
    }
    snap = write_snapshot(
        tmp_path,
        {
            "sfdc/Lead.csv": LEADS,
            "manifest.toml": manifest(taken),
            "smartlead/events.jsonl": '{"event_type":"EMAIL_REPLY"}\n',
        },
    )
    stale = (
        "Smartlead was taken 24 h before Salesforce (taken_at 2026-11-26T06:00:00Z), more than the policy's "
        "2 h — its evidence may be out of date"
    )
    if on_problem == "error":
        with pytest.raises(
            SnapshotError,
            match=re.escape(
                stale + ". Export Smartlead again, or raise [sources.smartlead] max_age_hours in the policy."
            ),
        ):
            plan_in(snap, policy=policy)
    else:
        plan = plan_in(snap, policy=policy)
        assert inputs(plan)["sources"]["smartlead"]["status"] == "stale"
        assert stale in inputs(plan)["warnings"]


# ------------------------------------------------------------------------------------------ records accounted for

LONG = "Long text " * 150_000  # 1.5 MB in one cell: past Python csv's 128 KB field limit (the old salvage lost rows)


@pytest.mark.parametrize("lenient", [False, True])
def test_a_cell_over_one_megabyte_is_read_in_both_modes(tmp_path, lenient):
    clay = csv_text(
        CLAY_HEADER,
        [{"LeadId": L1, "Company Description": LONG}, {"LeadId": L2, "Hard Bounced": "yes"}]
        + [{"LeadId": L2, "Hard Bounced": "maybe" if lenient else "yes"}],
    )
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": LEADS, "clay/t.csv": clay})
    plan = plan_in(snap, lenient=lenient)
    (desc,) = [c for c in plan["changes"] if c["field"] == "company_description__c"]
    assert len(desc["after"]) == len(LONG.strip())
    assert [(c["record_id"], c["field"]) for c in plan["changes"] if c["field"] == "external_hard_bounced__c"] == [
        (L2, "external_hard_bounced__c")
    ]
    clay_file = next(f for f in inputs(plan)["files"] if f["file"] == "clay/t.csv")
    assert (clay_file["records"], clay_file["staged"], clay_file["rejected"]) == ((3, 2, 1) if lenient else (3, 3, 0))


@pytest.mark.parametrize("lenient", [False, True])
def test_a_record_longer_than_the_read_buffer_is_read_again_with_room_for_it(tmp_path, monkeypatch, lenient):
    """CSV files are read in READ_BUFFER-sized buffers (parallel reads); a longer record makes DuckDB stop with
    'Maximum line size exceeded', and the file is read once more allowing MAX_RECORD: no row is lost or rejected."""
    monkeypatch.setattr(damaged, "READ_BUFFER", 1 << 20)  # the 1.5 MB cell is longer than this buffer
    rows = [lead(n) for n in range(1, 51)]
    rows[20]["company_description__c"] = LONG
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": csv_text(LEAD_HEADER, rows)})
    plan = plan_in(snap, lenient=lenient)
    lead_file = next(f for f in inputs(plan)["files"] if f["file"] == "sfdc/Lead.csv")
    assert (lead_file["records"], lead_file["staged"], lead_file["rejected"]) == (50, 50, 0)


def test_a_small_file_is_read_in_small_buffers_and_a_long_record_still_fits(tmp_path):
    """A file smaller than READ_SPLIT × READ_BUFFER is read in buffers of 1/READ_SPLIT of its size, at least
    MIN_READ_BUFFER (parallel reads of small files): a record longer than that buffer is read again with room for
    it, whole — its value staged as the file holds it."""
    cell = "y" * (damaged.MIN_READ_BUFFER + (512 << 10))  # longer than the small file's first buffer
    rows = [lead(n) for n in range(1, 31)]
    rows[7]["company_description__c"] = cell
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": csv_text(LEAD_HEADER, rows)})
    size = (snap / "sfdc" / "Lead.csv").stat().st_size
    assert damaged.read_buffer(size) < len(cell) < damaged.READ_BUFFER
    out = tmp_path / "out"
    plan_in(snap, out)
    con = duckdb.connect(str(out / "reconcile.duckdb"), read_only=True)
    try:
        got = con.execute("select row, length(company_description) from stg_sfdc__lead order by row").fetchall()
    finally:
        con.close()
    assert [r for r, _ in got] == list(range(1, 31)) and got[7] == (8, len(cell))


def test_read_buffer_splits_small_files_and_caps_large_ones():
    mb = 1 << 20
    assert damaged.read_buffer(30 * mb) == -(-30 * mb // damaged.READ_SPLIT)  # a Smartlead export: 8 buffers
    assert damaged.read_buffer(10_000) == damaged.MIN_READ_BUFFER
    assert damaged.read_buffer(3 << 30) == damaged.READ_BUFFER


def test_lenient_keeps_every_good_row_after_a_long_cell_in_a_damaged_file(tmp_path):
    """A ragged row makes DuckDB refuse the file; the salvage pass must not take the long cell for an unclosed
    quote and swallow the rows after it."""
    rows = [lead(n) for n in range(1, 151)]
    rows[9]["company_description__c"] = LONG
    text = csv_text(LEAD_HEADER, rows)
    lines = text.split("\n")
    text = "\n".join(lines[:3] + [f"{lead_id(999)},ragged,row"] + lines[3:])
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": text})
    plan = plan_in(snap, lenient=True)
    assert [(r["file"], r["row"]) for r in plan["rejects"]] == [("sfdc/Lead.csv", 3)]
    lead_file = next(f for f in inputs(plan)["files"] if f["file"] == "sfdc/Lead.csv")
    assert (lead_file["records"], lead_file["staged"], lead_file["rejected"]) == (151, 150, 1)
    assert plan["summary"]["records"]["Lead"] == 150


def test_a_valid_line_nested_100000_deep_is_kept_in_lenient_mode(tmp_path):
    deep = '{"event_type":"EMAIL_BOUNCE","to_email":"lead2@example.com","x":' + "[" * 100_000 + "]" * 100_000 + "}"
    events = deep + "\n" + '{"event_type":"EMAIL_BOU\n'
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": LEADS, "smartlead/events.jsonl": events})
    plan = plan_in(snap, lenient=True)
    assert [(r["file"], r["row"]) for r in plan["rejects"]] == [("smartlead/events.jsonl", 2)]
    assert [(c["record_id"], c["field"]) for c in plan["changes"]] == [(L2, "external_hard_bounced__c")]
    assert json.dumps(inputs(plan)["files"][-1]) == json.dumps(
        {"file": "smartlead/events.jsonl", "source": "smartlead__events", "records": 2, "staged": 1, "rejected": 1}
    )


@pytest.mark.parametrize("lenient", [False, True])
def test_webhook_events_reconcile_does_not_read_are_counted_as_not_used_by_type(tmp_path, run_cli, lenient):
    """Smartlead sends every event type to the webhook; the ones no rule reads (EMAIL_SENT, EMAIL_OPEN, a payload
    without a type) are accounted for — per file, by type — not planned from without a word."""
    events = [
        {"event_type": "EMAIL_SENT", "to_email": "lead1@example.com"},
        {"event_type": "EMAIL_OPEN", "to_email": "lead1@example.com"},
        {"event": "email_open", "to_email": "lead1@example.com"},
        {"to_email": "lead1@example.com"},
        {"event_type": "EMAIL_BOUNCE", "to_email": "lead2@example.com"},
    ]
    if lenient:  # a rejected event is counted rejected, not also not used
        events.append({"event_type": "LEAD_CATEGORY_UPDATED", "to_email": "lead2@example.com", "event_timestamp": "x"})
    snap = write_snapshot(
        tmp_path,
        {"sfdc/Lead.csv": LEADS, "smartlead/events.jsonl": "".join(json.dumps(e) + "\n" for e in events)},
    )
    plan = plan_in(snap, lenient=lenient)
    assert [(c["record_id"], c["field"]) for c in plan["changes"]] == [(L2, "external_hard_bounced__c")]
    (events_file,) = [f for f in inputs(plan)["files"] if f["file"] == "smartlead/events.jsonl"]
    assert (events_file["records"], events_file["rejected"]) == ((6, 1) if lenient else (5, 0))
    reason = "event types reconcile does not read: EMAIL_OPEN 2, EMAIL_SENT 1, (no event type) 1"
    assert inputs(plan)["not_used"] == [{"file": "smartlead/events.jsonl", "records": 4, "reason": reason}]
    html = render_report(plan, tmp_path / "report.html").read_text("utf-8")
    assert 'id="not-used"' in html and reason in html
    result = run_cli("plan", snap, "--out", tmp_path / "cli" / "plan.json", *(["--lenient"] if lenient else []))
    assert result.exit_code == 0, result.output
    assert f"'smartlead/events.jsonl': 4 records not used — {reason}" in " ".join(result.output.split())


# ------------------------------------------------------------------------------------------ Clay headers renamed


def test_every_clay_evidence_column_is_the_header_the_policy_names(tmp_path):
    """A policy that renames every Clay header: the provenance names the renamed headers, never the defaults."""
    renamed = {h: f"Clay {h}" for h in CLAY_HEADER}
    columns = {c.header: c.name for c in CLAY_COLUMNS}  # [clay.columns] only (not the Industry field's name)
    policy = policy_with(
        tmp_path / "pol",
        replace={f'\n{columns[h]} = "{h}"\n': f'\n{columns[h]} = "{renamed[h]}"\n' for h in CLAY_HEADER},
    )
    rows = [
        {"LeadId": lead_id(99)},  # a Lead that is not in the snapshot
        {"CampaignMemberId": member_id(99)},  # a CampaignMember that is not either
        {"Email": "nobody@example.com"},  # matches no Lead
        {"LeadId": L1, "Hard Bounced": "yes", "Email Validation": "invalid"},
        {"LeadId": L2, "Company Description": "Makes anvils", "Industry": "Banking"},
        {
            "CampaignMemberId": member_id(1),
            "Replied": "yes",
            "Reply Category": "Interested",
            "Reply At": "2026-11-26T09:00:00Z",
        },
    ]
    clay = csv_text([renamed[h] for h in CLAY_HEADER], [{renamed[k]: v for k, v in r.items()} for r in rows])
    snap = write_snapshot(
        tmp_path,
        {
            "sfdc/Lead.csv": LEADS,
            "clay/t.csv": clay,
            "sfdc/CampaignMember.csv": csv_text(MEMBER_HEADER, [member(1, 1)]),
        },
    )
    plan = plan_in(snap, policy=policy)
    used = {
        e["column"] for item in plan["changes"] + plan["findings"] for e in item["evidence"] if e["source"] == "clay"
    }
    assert used <= set(renamed.values()), used - set(renamed.values())
    assert {
        "Clay LeadId",
        "Clay CampaignMemberId",
        "Clay Email",
        "Clay Hard Bounced",
        "Clay Company Description",
        "Clay Replied",
        "Clay Reply Category",
    } <= used
