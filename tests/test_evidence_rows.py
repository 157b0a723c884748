"""Acceptance: every evidence row of every rule and finding kind is what a person finds when opening that file at that
record (SPEC §4 provenance, §6 "every evidence row is the file's own record number"; README *Rows*), and `reconcile
explain` shows it for the ids a person types.

Written from SPEC.md and the README, not from the fixtures: one hand-made snapshot triggers every rule of sql/rules/
and every finding kind of sql/findings/, in files a person would get — a CSV with a BOM and CRLF line ends, a quoted
cell spanning lines, a semicolon-delimited Clay table, a JSONL file with a blank line, Parquet — with values as
people write them (mixed-case emails, a picklist value with a trailing space, booleans `TRUE`/`1`/`yes`/`0`, a
15-character id). Each evidence cell is checked against an independent read of the file (Python's csv, json and
pyarrow; not reconcile's reader): the record number counts a multi-line quoted cell once, JSONL rows are line numbers
(blank lines counted), Parquet rows are 1-based, and the value is the raw cell as written.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import (
    CLAY_HEADER,
    CONTACT_HEADER,
    LEAD_HEADER,
    MEMBER_HEADER,
    PARDOT_HEADER,
    SMARTLEAD_HEADER,
    campaign_id,
    contact_id,
    lead,
    lead_id,
    member,
    member_id,
    plan_in,
    write_snapshot,
)

from reconcile.sql import SQL_DIR

T0, T1 = "2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z"
L = {n: lead_id(f"AbC{n:02d}") for n in range(1, 20)}  # checksums other than the trivial 'AAA'
M = {n: member_id(f"XyZ{n:02d}") for n in range(1, 20)}
GHOST_15 = lead_id("ZzZ99", 15)  # a Lead id (15 characters) that is not in the snapshot
GHOST2_15 = lead_id("ZzZ98", 15)


def csv_bytes(header, rows, delimiter=",", bom=False, crlf=False) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
    w.writerow(header)
    for r in rows:
        unknown = set(r) - set(header)
        assert not unknown, unknown
        w.writerow(["" if r.get(h) is None else str(r[h]) for h in header])
    return ("\ufeff" if bom else "").encode() + buf.getvalue().encode()


def snapshot_files() -> dict[str, bytes | str]:
    leads = [
        # record 1 holds a company name spanning three lines: every later record is on a later physical line
        lead(0, Company="Acme\nHoldings\nGmbH", email="zero@example.com"),
        lead(1, Id=L[1], Email="Bounce.One@Example.com", external_hard_bounced__c="0"),  # hard_bounce_union (Clay)
        lead(2, Id=L[2], Email="hop@example.com", external_hard_bounced__c="FALSE"),  # bounce_hop_lost
        lead(3, Id=L[3], Email="sender@example.com"),  # sender_originated_bounce
        lead(4, Id=L[4], overall_hard_bounced__c="TRUE"),  # overall_formula_mismatch
        lead(5, Id=L[5], Email="Pardot@Example.com", pi__pardot_hard_bounced__c="no"),  # pardot_sync_gap
        lead(6, Id=L[6], Email="invalid@example.com"),  # deliverability_review
        lead(7, Id=L[7], company_description__c=" "),  # conflicting_enrichment
        lead(8, Id=L[8], Industry="", company_description__c=""),  # enrichment_fill_if_blank
        lead(9, Id=L[9], Email="classified@example.com"),
        lead(10, Id=L[10], Email="dnc@example.com"),
        lead(11, Id=L[11], Email="Latest@Example.com"),
        lead(12, Id=L[12], HasOptedOutOfEmail="yes", Cold_Lead_Eligible__c="TRUE"),  # eligibility_mismatch
        lead(13, Id=L[13], Email="Dup@Example.com"),  # ambiguous_match (two Leads, one email)
        lead(14, Id=L[14], Email="dup@example.COM"),
        lead(15, Id=L[15]),  # its Clay row (15-character LeadId) names Lead 16's CampaignMember: ambiguous_match
        lead(16, Id=L[16]),
    ]
    members = [
        member(9, 9, Id=M[9], LeadId=L[9]),
        member(10, 10, Id=M[10], LeadId=L[10], Has_Replied__c="0"),
        member(11, 11, Id=M[11], LeadId=L[11], Has_Replied__c="FALSE", ReplyClassification__c="Out Of Office "),
        member(16, 16, Id=M[16], LeadId=L[16]),
    ]
    clay = [
        {"Company Description": "Row one\nspans two lines", "Email": "zero@example.com"},
        {"LeadId": L[1][:15], "Hard Bounced": "yes"},
        {"Email": " INVALID@example.com", "Email Validation": "Invalid "},
        {"LeadId": L[7], "Company Description": "Makes widgets"},
        {"LeadId": L[7], "Company Description": "Makes gadgets"},
        {"LeadId": L[8], "Industry": "banking ", "Company Description": " Bank of Eight "},
        {"CampaignMemberId": M[9][:15], "Email": "Classified@Example.com", "Reply Category": "Interested"},
        {"CampaignMemberId": M[10], "Replied": "1", "Reply Category": "do not contact", "Reply At": T0},
        {"CampaignMemberId": M[11], "Email": "latest@example.com", "Smartlead Campaign ID": "77"},
        {"Email": " DUP@example.com"},  # ambiguous_match
        {"Email": "Nobody@Example.COM"},  # unmatched_source_row (by email)
        {"LeadId": GHOST_15},  # unmatched_source_row (by id)
        {"LeadId": L[15][:15], "CampaignMemberId": M[16]},  # ambiguous_match on CampaignMember 16
    ]
    events = [
        {"event_type": "EMAIL_BOUNCE", "event_timestamp": T0, "campaign_id": "77", "to_email": "Hop@Example.com"},
        None,  # a blank line: JSONL rows are line numbers, blank lines counted
        {"event_type": "EMAIL_BOUNCE", "event_timestamp": T0, "campaign_id": "88", "to_email": "Sender@example.com"},
        {"event_type": "EMAIL_REPLY", "event_timestamp": T0, "campaign_id": "77", "to_email": "LATEST@example.com"},
        {
            "event_type": "LEAD_CATEGORY_UPDATED",
            "event_timestamp": T1,
            "campaign_id": "77",
            "to_email": "latest@example.com",
            "lead_category": {"old_name": None, "new_name": "meeting request "},
        },
    ]
    smartlead = [
        {"id": "5001", "email": "Sender@Example.com", "category": "Sender Originated Bounce", "reply_count": "0"},
        {"id": "5002", "email": "ghost@example.com", "custom_fields": json.dumps({"sfdc_lead_id": GHOST2_15})},
    ]
    pardot = pa.table(
        {
            "id": ["p1", "p2"],
            "email": ["other@example.com", "PARDOT@example.com"],
            "salesforceLeadId": [None, L[5][:15]],
            "salesforceContactId": [None, None],
            "isEmailHardBounced": ["false", "True"],
            "emailBouncedAt": [None, T0],
            "updatedAt": [T0, T0],
        }
    )
    assert set(pardot.column_names) <= set(PARDOT_HEADER)
    buf = pa.BufferOutputStream()
    pq.write_table(pardot, buf)
    errors = [
        {"time": T0, "object": "Lead", "record id": L[1], "field": "Industry", "message": "INVALID_OR_NULL\nrow 2"},
        {"time": T1, "object": "Lead", "record id": L[2], "field": "Email", "message": " REQUIRED_FIELD_MISSING "},
    ]
    return {
        "sfdc/Lead.csv": csv_bytes(LEAD_HEADER, leads, bom=True, crlf=True),
        "sfdc/CampaignMember.csv": csv_bytes(MEMBER_HEADER, members, crlf=True),
        "sfdc/Contact.csv": csv_bytes(CONTACT_HEADER, [{"Id": contact_id(1), "Email": "someone@example.com"}]),
        "sfdc/Campaign.csv": csv_bytes(["Id", "Name"], [{"Id": campaign_id(1), "Name": "C1"}]),
        "clay/table.csv": csv_bytes(CLAY_HEADER, clay, delimiter=";", bom=True),
        "clay/errors.csv": csv_bytes(["time", "object", "record id", "field", "message"], errors, crlf=True),
        "smartlead/campaign-88.csv": csv_bytes(SMARTLEAD_HEADER, smartlead),
        "smartlead/events.jsonl": "".join(("" if e is None else json.dumps(e)) + "\n" for e in events),
        "pardot/prospects.parquet": buf.getvalue().to_pybytes(),
    }


# ------------------------------------------------------------------------------------------ an independent reader


class RawFiles:
    """The snapshot's files as a person opens them: records numbered from 1 after the header (a CSV record may span
    lines), JSONL by line number, Parquet rows from 1; cells exactly as written."""

    def __init__(self, snap: Path):
        self.snap = snap

    def record(self, rel: str, row: int) -> dict:
        path = self.snap / rel
        if path.suffix == ".jsonl":
            line = path.read_text("utf-8").split("\n")[row - 1]
            return json.loads(line)
        if path.suffix == ".parquet":
            return pq.read_table(path).to_pylist()[row - 1]
        text = path.read_bytes().decode("utf-8-sig")
        delim = ";" if rel.startswith("clay/table") else ","
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
        return dict(zip(records[0], records[row]))

    def cell(self, rel: str, row: int, column: str):
        rec = self.record(rel, row)
        if (self.snap / rel).suffix == ".jsonl":
            value = rec
            for key in column.split("."):
                value = value[key]
            return value
        by_name = {k.lower(): v for k, v in rec.items()}
        head, _, key = column.partition(".")
        if key and head.lower() in by_name:  # a key inside a JSON cell (Smartlead custom_fields)
            return json.loads(by_name[head.lower()])[key]
        assert column.lower() in by_name, f"{rel} has no column {column!r}: {list(rec)}"
        return by_name[column.lower()]


def as_written(value):
    """An empty cell reads as no value."""
    return None if value in ("", None) else str(value)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("evidence")
    snap = write_snapshot(root, snapshot_files())
    plan = plan_in(snap, root / "out")
    return snap, plan, root / "out" / "plan.json"


def rule_ids() -> set[str]:
    return {p.stem.removeprefix("rule_") for p in (SQL_DIR / "rules").glob("rule_*.sql")}


def finding_kinds() -> set[str]:
    return {p.stem.removeprefix("find_") for p in (SQL_DIR / "findings").glob("find_*.sql")}


def test_the_snapshot_triggers_every_rule_and_every_finding_kind(built):
    _, plan, _ = built
    assert plan["rejects"] == []
    assert {c["rule"] for c in plan["changes"]} == rule_ids()
    assert {f["kind"] for f in plan["findings"]} >= finding_kinds()


def test_every_evidence_row_is_the_files_record_and_its_value_as_written(built):
    snap, plan, _ = built
    files = RawFiles(snap)
    wrong, seen = [], set()
    for item in plan["changes"] + plan["findings"]:
        what = item.get("rule") or item["kind"]
        for e in item["evidence"]:
            seen.add((what, e["source"]))
            actual = as_written(files.cell(e["file"], e["row"], e["column"]))
            if actual != e["value"]:
                wrong.append(f"{what} {item.get('record_id')}: {e} — the file has {actual!r}")
            if e["source"] == "sfdc" and Path(e["file"]).stem == item["object"]:  # the record's own row
                in_file = files.cell(e["file"], e["row"], "Id")
                if in_file != item["record_id"]:
                    wrong.append(f"{what}: {e} is record {in_file}, not {item['record_id']}")
    assert not wrong, "\n".join(wrong)
    assert {s for _, s in seen} == {"sfdc", "clay", "smartlead", "pardot"}


@pytest.mark.parametrize(
    "what, file, row, column, value",
    [
        # CRLF + BOM + a three-line cell in record 1: Lead 1 is record 2 (physical line 5)
        ("hard_bounce_union", "sfdc/Lead.csv", 2, "external_hard_bounced__c", "0"),
        ("hard_bounce_union", "clay/table.csv", 2, "Hard Bounced", "yes"),
        ("bounce_hop_lost", "smartlead/events.jsonl", 1, "event_type", "EMAIL_BOUNCE"),
        ("sender_originated_bounce", "smartlead/campaign-88.csv", 1, "category", "Sender Originated Bounce"),
        ("overall_formula_mismatch", "sfdc/Lead.csv", 5, "overall_hard_bounced__c", "TRUE"),
        ("pardot_sync_gap", "pardot/prospects.parquet", 2, "isEmailHardBounced", "True"),
        ("deliverability_review", "clay/table.csv", 3, "Email Validation", "Invalid "),
        ("conflicting_enrichment", "clay/table.csv", 5, "Company Description", "Makes gadgets"),
        ("enrichment_fill_if_blank", "clay/table.csv", 6, "Industry", "banking "),
        ("classification_without_reply", "clay/table.csv", 7, "Reply Category", "Interested"),
        ("do_not_contact_reply", "clay/table.csv", 8, "Reply Category", "do not contact"),
        ("reply_set_once", "clay/table.csv", 8, "Replied", "1"),
        ("reply_classification_latest", "smartlead/events.jsonl", 5, "lead_category.new_name", "meeting request "),
        ("eligibility_mismatch", "sfdc/Lead.csv", 13, "Cold_Lead_Eligible__c", "TRUE"),
        ("ambiguous_match", "clay/table.csv", 10, "Email", " DUP@example.com"),
        ("unmatched_source_row", "clay/table.csv", 11, "Email", "Nobody@Example.COM"),
        ("unmatched_source_row", "clay/table.csv", 12, "LeadId", GHOST_15),
        ("connector_error", "clay/errors.csv", 2, "message", " REQUIRED_FIELD_MISSING "),
        ("ambiguous_match", "clay/table.csv", 13, "LeadId", L[15][:15]),
        ("unmatched_source_row", "smartlead/campaign-88.csv", 2, "custom_fields.sfdc_lead_id", GHOST2_15),
    ],
)
def test_each_rule_and_finding_names_the_row_a_person_opens(built, what, file, row, column, value):
    """The expected rows are counted by hand from the files above (not read back through any reader)."""
    _, plan, _ = built
    rows = {
        (e["file"], e["row"], e["column"].lower(), e["value"])
        for item in plan["changes"] + plan["findings"]
        if what in (item.get("rule"), item.get("kind"))
        for e in item["evidence"]
    }
    assert (file, row, column.lower(), value) in rows, sorted(rows)


# ------------------------------------------------------------------------------------------ reconcile explain


def explained(run_cli, record, plan_path, *extra):
    result = run_cli("explain", record, "--plan", plan_path, *extra)
    assert result.exit_code == 0, result.output
    return result.output


def listed(out: dict) -> list[tuple]:
    """What an explanation says: each change and finding with its evidence rows."""
    return [
        (c["field"], c["rule"], c["status"], [(e["file"], e["row"], e["column"], e["value"]) for e in c["evidence"]])
        for c in out["changes"]
    ] + [
        (f["kind"], f["route"], f["detail"], [(e["file"], e["row"], e["column"], e["value"]) for e in f["evidence"]])
        for f in out["findings"]
    ]


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param(L[1], id="18"),
        pytest.param(L[1][:15], id="15"),
        pytest.param(L[1][:15] + L[1][15:].lower(), id="18-lower-case-checksum"),
        pytest.param(f"  {L[1]} ", id="padded"),
    ],
)
def test_explain_takes_the_ids_a_person_types(built, run_cli, typed):
    """15 or 18 characters; the checksum (last 3) is case-insensitive, the first 15 are not (see the next test)."""
    _, _, plan_path = built
    out = json.loads(explained(run_cli, typed, plan_path, "--json"))
    assert out["record_id"] == L[1]
    assert [(c["field"], c["rule"]) for c in out["changes"]] == [("external_hard_bounced__c", "hard_bounce_union")]
    assert [e["value"] for e in out["changes"][0]["evidence"]] == ["0", "yes"]


def test_explain_refuses_an_id_whose_first_15_characters_are_in_another_case(built, run_cli):
    _, _, plan_path = built
    result = run_cli("explain", L[1].lower(), "--plan", plan_path)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: Record id '{L[1].lower()}' is not a Salesforce id"), result.output


def test_explain_of_a_lead_lists_the_findings_whose_source_row_names_it_as_written(built, run_cli):
    """Lead 15 is named (15 characters, as the Clay cell holds it) by a Clay row whose CampaignMember is Lead 16's:
    the finding is on the CampaignMember, and explaining Lead 15 shows it too."""
    _, _, plan_path = built
    out = json.loads(explained(run_cli, L[15], plan_path, "--json"))
    assert [(f["kind"], f["record_id"]) for f in out["findings"]] == [("ambiguous_match", M[16])]


@pytest.mark.parametrize("record", [L[8], M[11], GHOST_15, contact_id(1)], ids=["lead", "member", "ghost", "contact"])
def test_explain_text_and_json_say_the_same(built, run_cli, record):
    _, _, plan_path = built
    out = json.loads(explained(run_cli, record, plan_path, "--json"))
    text = explained(run_cli, record, plan_path)
    assert text.splitlines()[0] == f"Record {out['record_id']}  (plan {out['plan_id']})"
    for c in out["changes"]:
        assert f"{c['object']}.{c['field']}:" in text and f"rule: {c['rule']}" in text
    for f in out["findings"]:
        assert f"finding {f['kind']} → {f['route']}" in text
    for item in out["changes"] + out["findings"]:
        for e in item["evidence"]:
            shown = "(blank)" if e["value"] is None else repr(e["value"])
            assert f"{e['file']} row {e['row']} {e['column']} = {shown}" in text
    if not out["changes"] and not out["findings"]:
        assert "Nothing planned and nothing found for this record" in text


def test_explain_keeps_a_multi_line_value_on_its_own_lines(built, run_cli):
    """A connector error's message spans two lines in clay/errors.csv: the text shows it escaped, so its second line
    ("row 2") is not read as a line of the explanation."""
    _, _, plan_path = built
    text = explained(run_cli, L[1], plan_path)
    assert not any(line.startswith("row 2") for line in text.splitlines()), text
    assert "INVALID_OR_NULL\\nrow 2" in text


def test_explain_of_a_v1_plan_and_a_v2_plan_of_the_same_snapshot_is_the_same(built, tmp_path, run_cli):
    snap, _, plan_path = built
    plan_in(snap, tmp_path / "v1", fmt="json")
    v1 = tmp_path / "v1" / "plan.json"
    assert json.loads(v1.read_text())["format"] == "reconcile.plan/1"
    for record in (L[1], L[8], M[10], M[11], GHOST_15, L[15]):
        a = json.loads(explained(run_cli, record, plan_path, "--json"))
        b = json.loads(explained(run_cli, record, v1, "--json"))
        assert listed(a) == listed(b), record
