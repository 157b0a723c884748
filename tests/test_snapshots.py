"""Snapshot contract (SPEC §2) through the CLI: bad input fails with one exact `Error: …` line and exit 1, and
writes no plan; --lenient quarantines the bad rows in `rejects` and plans the rest; every file format gives
the same plan.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from conftest import (
    CLAY_HEADER,
    LEAD_HEADER,
    MEMBER_HEADER,
    SMARTLEAD_HEADER,
    campaign_id,
    contact_id,
    csv_text,
    jsonl_text,
    lead,
    lead_id,
    loaded,
    member,
    member_id,
    plan_in,
    write_snapshot,
)

from reconcile.ingest.snapshots import _has_blank_line
from reconcile.plan import load_plan

HINT = "Fix the value in the export, or rerun with --lenient to quarantine bad rows and plan from the rest."
L1, L2, L3 = lead_id(1), lead_id(2), lead_id(3)
GOOD = [lead(1), lead(2)]
ID_EXPECTED = "a Salesforce id (15 or 18 letters and digits with a valid checksum)"
BOOL_EXPECTED = "a boolean (true/false/1/0/yes/no/y/n/t/f or empty)"
TS_EXPECTED = "an ISO 8601 timestamp such as 2025-03-28T09:35:01Z"


def leads_csv(rows) -> str:
    return csv_text(LEAD_HEADER, rows)


def plan_cli(run_cli, snap, *extra):
    out = snap.parent / "out" / "plan.json"
    result = run_cli("plan", snap, "--out", out, *extra)
    return result, out


def latin1_lead() -> tuple[bytes, int]:
    data = leads_csv([lead(1, Company="Café")]).encode("latin-1")
    return data, data.index(b"\xe9")


# ------------------------------------------------------------------------------------------ strict: exact errors

BAD_INPUT = [
    {
        "why": "missing required column",
        "files": {
            "sfdc/Lead.csv": csv_text(
                [h for h in LEAD_HEADER if h != "IsConverted"],
                [{k: v for k, v in lead(1).items() if k != "IsConverted"}],
            )
        },
        "error": "Snapshot 'sfdc/Lead.csv' has no column 'IsConverted' (found: Id, Email, Company, Industry, "
        "company_description__c, external_hard_bounced__c, overall_hard_bounced__c, pi__pardot_hard_bounced__c, "
        "Cold_Lead_Eligible__c, HasOptedOutOfEmail, Status, SystemModstamp). Add the column to the export "
        "(header names are case-insensitive).",
    },
    {
        "why": "a key left out of every JSONL line (an exporter that drops empty values)",
        "files": {
            "sfdc/Lead.jsonl": "".join(
                json.dumps({k: v for k, v in lead(i).items() if k != "Industry"}) + "\n" for i in (1, 2)
            )
        },
        "error": "Snapshot 'sfdc/Lead.jsonl' has no column 'Industry' (found: "
        + ", ".join(sorted(h for h in lead(1) if h != "Industry"))
        + "). Add the column to the export (header names are case-insensitive). A JSONL export needs the key on at "
        'least one line: an exporter that leaves out empty values must write them as null (or "").',
    },
    {
        "why": "unparseable boolean",
        "files": {"sfdc/Lead.csv": leads_csv([lead(1, IsConverted="maybe"), lead(2)])},
        "error": f"Snapshot 'sfdc/Lead.csv' row 1: column 'IsConverted' value 'maybe' is not {BOOL_EXPECTED}. {HINT}",
    },
    {
        "why": "unparseable timestamp",
        "files": {"sfdc/Lead.csv": leads_csv([lead(1), lead(2, SystemModstamp="yesterday")])},
        "error": f"Snapshot 'sfdc/Lead.csv' row 2: column 'SystemModstamp' value 'yesterday' is not {TS_EXPECTED}. {HINT}",
    },
    {
        "why": "id of the wrong length",
        "files": {"sfdc/Lead.csv": leads_csv([lead(1, Id="00Q5g00000AbCd"), lead(2)])},
        "error": f"Snapshot 'sfdc/Lead.csv' row 1: column 'Id' value '00Q5g00000AbCd' is not {ID_EXPECTED}. {HINT}",
    },
    {
        "why": "18-character id with a bad checksum",
        "files": {"sfdc/Lead.csv": leads_csv([lead(1), lead(2, Id=L2[:15] + "ZZZ")])},
        "error": f"Snapshot 'sfdc/Lead.csv' row 2: column 'Id' value '{L2[:15]}ZZZ' is not {ID_EXPECTED}. {HINT}",
    },
    {
        "why": "a Contact id in Lead.csv's Id column (another object's id is no Lead to plan for)",
        "files": {"sfdc/Lead.csv": leads_csv([lead(1), lead(2, Id=contact_id(9))])},
        "error": f"Snapshot 'sfdc/Lead.csv' row 2: column 'Id' value '{contact_id(9)}' is not a Lead id (key prefix "
        f"00Q; this file's Id column holds Lead ids only — was another object exported into it?). {HINT}",
    },
    {
        "why": "a Lead id in CampaignMember.csv's ContactId column",
        "files": {
            "sfdc/Lead.csv": leads_csv(GOOD),
            "sfdc/CampaignMember.csv": csv_text(MEMBER_HEADER, [member(1, 1, ContactId=lead_id(2))]),
        },
        "error": f"Snapshot 'sfdc/CampaignMember.csv' row 1: column 'ContactId' value '{lead_id(2)}' is not a Contact "
        f"id (key prefix 003; this file's ContactId column holds Contact ids only — was another object exported into "
        f"it?). {HINT}",
    },
    {
        "why": "malformed id in a Clay file names the Clay header",
        "files": {
            "sfdc/Lead.csv": leads_csv(GOOD),
            "clay/table.csv": csv_text(CLAY_HEADER, [{"LeadId": L1}, {"LeadId": "00Q-not-an-id"}]),
        },
        "error": f"Snapshot 'clay/table.csv' row 2: column 'LeadId' value '00Q-not-an-id' is not {ID_EXPECTED}. {HINT}",
    },
    {
        "why": "duplicate Id in sfdc/Lead (15 and 18 characters are the same record)",
        "files": {"sfdc/Lead.csv": leads_csv([lead(1), lead(2), lead(1, Id=L1[:15])])},
        "error": f"Snapshot 'sfdc/Lead.csv' row 1: column 'Id' value '{L1}' appears more than once; expected a unique Id "
        f"(each Salesforce record once per file; rows 1 and 3 hold the same record). {HINT} (1 more problem in this "
        "snapshot.)",
    },
    {
        "why": "a bad value in a Pardot v4 column names the column as the file does",
        "files": {
            "sfdc/Lead.csv": leads_csv(GOOD),
            "pardot/prospects.csv": csv_text(
                ["id", "email", "crm_lead_fid", "is_email_hard_bounced"],
                [{"id": "51", "email": "a@b.com", "crm_lead_fid": L1, "is_email_hard_bounced": "maybe"}],
            ),
        },
        "error": f"Snapshot 'pardot/prospects.csv' row 1: column 'is_email_hard_bounced' value 'maybe' is not "
        f"{BOOL_EXPECTED}. {HINT}",
    },
    {
        "why": "duplicate ID in an ALL-CAPS Data Loader export: headers match case-insensitively, the column is Id",
        "files": {
            "sfdc/Lead.csv": csv_text(
                [h.upper() for h in LEAD_HEADER],
                [{k.upper(): v for k, v in r.items()} for r in (lead(1), lead(2), lead(1, Id=L1[:15]))],
            )
        },
        "error": f"Snapshot 'sfdc/Lead.csv' row 1: column 'Id' value '{L1}' appears more than once; expected a unique Id "
        f"(each Salesforce record once per file; rows 1 and 3 hold the same record). {HINT} (1 more problem in this "
        "snapshot.)",
    },
    {
        "why": "duplicate Id in sfdc/CampaignMember",
        "files": {
            "sfdc/Lead.csv": leads_csv(GOOD),
            "sfdc/CampaignMember.csv": csv_text(MEMBER_HEADER, [member(1, 1), member(1, 2)]),
        },
        "error": f"Snapshot 'sfdc/CampaignMember.csv' row 1: column 'Id' value '{member_id(1)}' appears more than once; "
        f"expected a unique Id (each Salesforce record once per file; rows 1 and 2 hold the same record). {HINT} (1 more "
        "problem in this snapshot.)",
    },
    {
        "why": "a Lead without its Id (it would leave the snapshot and make its source rows look unmatched)",
        "files": {"sfdc/Lead.csv": leads_csv([lead(1), lead(2, Id=""), lead(3)])},
        "error": f"Snapshot 'sfdc/Lead.csv' row 2: column 'Id' is missing; expected the record's Salesforce Id (every row "
        f"of a Salesforce export has one). {HINT}",
    },
    {
        "why": "a CampaignMember whose Id is only spaces",
        "files": {
            "sfdc/Lead.csv": leads_csv(GOOD),
            "sfdc/CampaignMember.csv": csv_text(MEMBER_HEADER, [member(1, 1), member(2, 2, Id="  ")]),
        },
        "error": "Snapshot 'sfdc/CampaignMember.csv' row 2: column 'Id' is missing; expected the record's Salesforce Id "
        f"(every row of a Salesforce export has one). {HINT}",
    },
    {
        "why": "empty (0-byte) file",
        "files": {"sfdc/Contact.csv": b""},
        "error": "Snapshot 'sfdc/Contact.csv' is empty. Export it again (a file with only a header row is fine for a "
        "source with no rows).",
    },
    {
        "why": "file holding only a BOM and a newline is empty",
        "files": {"sfdc/CampaignMember.csv": b"\xef\xbb\xbf\r\n"},
        "error": "Snapshot 'sfdc/CampaignMember.csv' is empty. Export it again (a file with only a header row is fine "
        "for a source with no rows).",
    },
    {
        "why": "truncated JSONL line",
        "files": {
            "sfdc/Lead.csv": leads_csv(GOOD),
            "smartlead/events.jsonl": '{"event_type":"EMAIL_BOUNCE","to_email":"lead1@example.com"}\n'
            '{"event_type":"EMAIL_BOU',
        },
        "error": "Snapshot 'smartlead/events.jsonl' row 2: value '{\"event_type\":\"EMAIL_BOU' is not a complete JSON "
        "object (is the file truncated?). Each line must hold one JSON object. Export the file again. " + HINT,
    },
    {
        "why": "non-UTF-8 (latin-1) file",
        "files": {"sfdc/Lead.csv": latin1_lead()[0]},
        "error": f"Snapshot 'sfdc/Lead.csv' is not UTF-8 (byte 0xE9 at offset {latin1_lead()[1]}, line 2). Save or "
        "export it again as UTF-8 (Excel: 'CSV UTF-8').",
    },
    {
        "why": "UTF-16 file",
        "files": {"sfdc/Lead.csv": leads_csv(GOOD).encode("utf-16")},
        "error": "Snapshot 'sfdc/Lead.csv' is UTF-16. Save or export it again as UTF-8 (Excel: 'CSV UTF-8').",
    },
    {
        "why": "file cut in the middle of a UTF-8 character",
        "files": {"sfdc/Lead.csv": (leads_csv(GOOD) + "x,\u00e9").encode("utf-8")[:-1]},
        "error": "Snapshot 'sfdc/Lead.csv': the file ends in the middle of a UTF-8 character (truncated?). Export it "
        "again.",
    },
    {
        "why": "a gzip-compressed file under a .csv name (a download saved as it came)",
        "files": {"sfdc/Lead.csv": gzip.compress(leads_csv(GOOD).encode())},
        "error": "Snapshot 'sfdc/Lead.csv' is a gzip-compressed file, not CSV text. Decompress it (gunzip) and put the "
        ".csv file it holds in the snapshot, or export it again uncompressed.",
    },
    {
        "why": "an Excel workbook (a zip archive) saved under a .csv name",
        "files": {"sfdc/Contact.csv": b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256))},
        "error": "Snapshot 'sfdc/Contact.csv' is a zip archive (an Excel .xlsx workbook is one too), not CSV text. Unzip "
        "it and put the .csv file it holds in the snapshot, or export it again uncompressed.",
    },
    {
        "why": "a NUL byte in a text value (named as \\x00, not printed raw)",
        "files": {"sfdc/Lead.csv": leads_csv([lead(1), lead(2, company_description__c="ab\x00cd")])},
        "error": "Snapshot 'sfdc/Lead.csv' row 2: column 'company_description__c' value 'ab\\x00cd' is not text without "
        f"NUL bytes (shown as \\x00: a sign of a damaged or wrongly encoded export). {HINT}",
    },
    {
        "why": "a line of a Clay JSONL file that is JSON but not an object (it is not read as a row of blanks)",
        "files": {
            "sfdc/Lead.csv": leads_csv(GOOD),
            "clay/table.jsonl": json.dumps({"LeadId": L1, "Hard Bounced": "yes"}) + '\n["a", 1]\n',
        },
        "error": "Snapshot 'clay/table.jsonl' row 2: value '[\"a\", 1]' is a JSON value, but not an object. Each line "
        f"must hold one JSON object. {HINT}",
    },
    {
        "why": "missing sfdc/Lead file",
        "files": {"sfdc/Lead.csv": None},
        "error": "Snapshot '{snap}' has no sfdc/Lead.{csv,parquet,jsonl} file. Export it (SPEC §2 / README: Snapshot "
        "contract) and rerun.",
    },
    {
        "why": "a header naming the Id column twice (both positions named)",
        "files": {"sfdc/Lead.csv": csv_text(LEAD_HEADER + ["ID"], [lead(1)])},
        "error": "Snapshot 'sfdc/Lead.csv' header names the column 'Id' 2 times: 'Id' (column 1) and 'ID' (column 14). "
        "Keep one of them in the export (reconcile will not guess which is right).",
    },
    {
        "why": "a broken JSONL line nested 100,000 levels deep (no RecursionError)",
        "files": {
            "sfdc/Lead.csv": leads_csv(GOOD),
            "smartlead/events.jsonl": '{"event_type":"EMAIL_REPLY"}\n{"x":' + "[" * 100_000 + "\n",
        },
        "error": "Snapshot 'smartlead/events.jsonl' row 2: value '{\"x\":"
        + "[" * 75
        + "… (99,925 more characters)' is "
        "not a complete JSON "
        "object (is the file truncated?). Each line must hold one JSON object. Export the file again. " + HINT,
    },
    {
        "why": "a manifest taken_at in the future",
        "files": {"manifest.toml": '[taken_at]\nsfdc = "2099-01-01T00:00:00Z"\n'},
        "error": "Snapshot 'manifest.toml': taken_at.sfdc value '2099-01-01T00:00:00Z' is in the future (now {now}): "
        "the data's age could never be checked. Correct taken_at in manifest.toml (UTC, e.g. "
        "2026-11-27T06:00:00Z).",
    },
    {
        "why": "manifest taken_at that is not a timestamp",
        "files": {
            "manifest.toml": '[taken_at]\nclay = "last tuesday"\n',
            "clay/table.csv": csv_text(CLAY_HEADER, [{"LeadId": L1}]),
        },
        "error": "Snapshot 'manifest.toml': taken_at.clay value 'last tuesday' is not an ISO 8601 timestamp such as "
        "2026-11-27T06:00:00Z.",
    },
    {
        "why": "manifest taken_at that is empty (no silent fall-back to the file's modification time)",
        "files": {"manifest.toml": '[taken_at]\nsfdc = ""\n'},
        "error": "Snapshot 'manifest.toml': taken_at.sfdc value '' is not an ISO 8601 timestamp such as "
        "2026-11-27T06:00:00Z.",
    },
    {
        "why": "manifest taken_at as one value instead of the [taken_at] table",
        "files": {"manifest.toml": 'taken_at = "2026-12-03T09:00:00Z"\n'},
        "error": "Snapshot 'manifest.toml': taken_at = \"2026-12-03T09:00:00Z\" is one value, but taken_at holds one "
        "timestamp per source. Write [taken_at] on a line of its own, then one line per source below it: "
        'sfdc = "2026-12-03T09:00:00Z" (and clay, smartlead, pardot).',
    },
    {
        "why": "manifest [sfdc] table holding more than its taken_at",
        "files": {"manifest.toml": '[sfdc]\ntaken_at = "2026-11-27T06:00:00Z"\nrows = 3\n'},
        "error": "Snapshot 'manifest.toml': [sfdc] is not a manifest key; manifest.toml holds org_id, notes, "
        "[taken_at] and [pulled]. A source's taken_at goes under [taken_at] (e.g. [taken_at] then "
        'sfdc = "2026-11-27T06:00:00Z"): move or remove [sfdc].',
    },
    {
        "why": "manifest [sfdc] taken_at and [taken_at] sfdc that disagree",
        "files": {
            "manifest.toml": '[sfdc]\ntaken_at = "2026-11-27T06:00:00Z"\n[taken_at]\nsfdc = "2026-11-27T07:00:00Z"\n'
        },
        "error": "Snapshot 'manifest.toml': [sfdc] taken_at = \"2026-11-27T06:00:00Z\" and [taken_at] sfdc = "
        '"2026-11-27T07:00:00Z" give sfdc two times. Keep one of them.',
    },
    {
        "why": "manifest org_id that is not an org id",
        "files": {"manifest.toml": 'org_id = "not-an-id"\n'},
        "error": "Snapshot 'manifest.toml': org_id = \"not-an-id\" is not a Salesforce org id (00D followed by 12 "
        "more characters, or 15 with the 3-character checksum: Setup → Company Information → Salesforce.com "
        "Organization ID). Fix it in manifest.toml or remove the line.",
    },
    {
        "why": "manifest org_id of another object (a Lead id) or with a bad checksum",
        "files": {"manifest.toml": 'org_id = "00Q5g000004AbCdEAK"\n'},
        "error": "Snapshot 'manifest.toml': org_id = \"00Q5g000004AbCdEAK\" is not a Salesforce org id (00D followed "
        "by 12 more characters, or 15 with the 3-character checksum: Setup → Company Information → Salesforce.com "
        "Organization ID). Fix it in manifest.toml or remove the line.",
    },
    {
        "why": "manifest taken_at of a source as a top-level key",
        "files": {"manifest.toml": 'sfdc_taken_at = "2026-11-27T06:00:00Z"\n'},
        "error": "Snapshot 'manifest.toml': sfdc_taken_at = \"2026-11-27T06:00:00Z\" is not a manifest key; manifest.toml "
        "holds org_id, notes, [taken_at] and [pulled]. A source's taken_at goes under [taken_at] (e.g. [taken_at] then "
        'sfdc = "2026-11-27T06:00:00Z"): move or remove sfdc_taken_at.',
    },
    {
        "why": "manifest [taken_at] source name with a typo",
        "files": {"manifest.toml": '[taken_at]\nsfcd = "2026-11-27T06:00:00Z"\n'},
        "error": "Snapshot 'manifest.toml': [taken_at] sfcd = \"2026-11-27T06:00:00Z\": 'sfcd' is not a source; use "
        "one of sfdc, clay, smartlead, pardot. Fix the name in manifest.toml.",
    },
    {
        "why": "manifest [pulled] source name with a typo",
        "files": {"manifest.toml": '[taken_at]\nsfdc = "2026-11-27T06:00:00Z"\n[pulled.sfcd]\napi_requests = 3\n'},
        "error": "Snapshot 'manifest.toml': [pulled.sfcd]: 'sfcd' is not a source; use one of sfdc, clay, "
        "smartlead, pardot. Fix the name in manifest.toml.",
    },
    {
        "why": "manifest org_id that is not text",
        "files": {"manifest.toml": 'org_id = 7\n[taken_at]\nsfdc = "2026-11-27T06:00:00Z"\n'},
        "error": "Snapshot 'manifest.toml': org_id = 7: expected text in quotes (e.g. org_id = \"00D5g000004XyZ1EAK\"). "
        "Fix it in manifest.toml.",
    },
    {
        "why": "a Smartlead custom_fields Lead id with a bad checksum (not re-matched by email)",
        "files": {
            "sfdc/Lead.csv": leads_csv(GOOD),
            "smartlead/campaign-9181.csv": csv_text(
                SMARTLEAD_HEADER,
                [
                    {
                        "id": "1",
                        "email": "lead2@example.com",
                        "custom_fields": json.dumps({"sfdc_lead_id": L1[:15] + "XYZ"}),
                    }
                ],
            ),
        },
        "error": f"Snapshot 'smartlead/campaign-9181.csv' row 1: column 'custom_fields.sfdc_lead_id' value "
        f"'{L1[:15]}XYZ' is not {ID_EXPECTED}. {HINT}",
    },
    {
        "why": "a Smartlead custom_fields cell that is not JSON (named, not a DuckDB error from staging)",
        "files": {
            "sfdc/Lead.csv": leads_csv(GOOD),
            "smartlead/campaign-9181.csv": csv_text(
                SMARTLEAD_HEADER,
                [
                    {"id": "1", "email": "lead1@example.com", "custom_fields": '{"sfdc_lead_id": "00Q'},
                    {"id": "2", "email": "lead2@example.com", "custom_fields": "{}"},
                ],
            ),
        },
        "error": "Snapshot 'smartlead/campaign-9181.csv' row 1: column 'custom_fields' value '{\"sfdc_lead_id\": \"00Q' "
        f"is not a JSON document. {HINT}",
    },
    {
        "why": "a Smartlead reply_count that is not a whole number (DuckDB's cast rounds 2.5 to 3 and reads 0x10, 1e3)",
        "files": {
            "sfdc/Lead.csv": leads_csv(GOOD),
            "smartlead/campaign-9181.csv": csv_text(
                SMARTLEAD_HEADER,
                [{"id": "1", "email": "lead1@example.com", "reply_count": v} for v in ("2.5", "0x10", "1e3", "2.0")],
            ),
        },
        "error": "Snapshot 'smartlead/campaign-9181.csv' row 1: column 'reply_count' value '2.5' is not a whole number. "
        f"{HINT} (2 more problems in this snapshot.)",
    },
    {
        "why": "empty (0-byte) JSONL file: no header row to keep, so the fix is to leave it out",
        "files": {"sfdc/Lead.csv": leads_csv(GOOD), "smartlead/events-2026-11-27.jsonl": b""},
        "error": "Snapshot 'smartlead/events-2026-11-27.jsonl' is empty. Export it again, or leave the file out when the "
        "source has no records (a JSON Lines file has no header row).",
    },
    {
        "why": "a webhook event time that is not a timestamp",
        "files": {
            "sfdc/Lead.csv": leads_csv(GOOD),
            "smartlead/events.jsonl": jsonl_text(
                [{"event_type": "EMAIL_BOUNCE", "event_timestamp": "28/03/2025 09:35", "to_email": "lead1@example.com"}]
            ),
        },
        "error": f"Snapshot 'smartlead/events.jsonl' row 1: column 'event_timestamp' value '28/03/2025 09:35' is not "
        f"{TS_EXPECTED}. {HINT}",
    },
    {
        "why": "a webhook category event without a time (old field name time_sent named when it is the one given)",
        "files": {
            "sfdc/Lead.csv": leads_csv(GOOD),
            "smartlead/events.jsonl": jsonl_text(
                [
                    {"event": "LEAD_CATEGORY_UPDATED", "time_sent": "2025-03-28T09:35:01Z", "to_email": "x@y.z"},
                    {"event_type": "LEAD_CATEGORY_UPDATED", "lead_category": {"new_name": "Interested"}},
                    {"event": "EMAIL_REPLIED", "time_sent": "yesterday", "to_email": "x@y.z"},
                ]
            ),
        },
        "error": f"Snapshot 'smartlead/events.jsonl' row 2: column 'event_timestamp' is missing; expected "
        f"{TS_EXPECTED}. {HINT} (1 more problem in this snapshot.)",
    },
    {
        "why": "a webhook event's custom_fields Campaign id that is not an id",
        "files": {
            "sfdc/Lead.csv": leads_csv(GOOD),
            "smartlead/events.jsonl": jsonl_text(
                [
                    {
                        "event_type": "EMAIL_REPLY",
                        "event_timestamp": "2025-03-28T09:35:01Z",
                        "lead_data": {"email": "lead1@example.com", "custom_fields": {"sfdc_campaign_id": "701"}},
                    }
                ]
            ),
        },
        "error": f"Snapshot 'smartlead/events.jsonl' row 1: column 'custom_fields.sfdc_campaign_id' value '701' is not "
        f"{ID_EXPECTED}. {HINT}",
    },
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c["why"]) for c in BAD_INPUT])
def test_bad_input_fails_with_exact_error_and_writes_no_plan(tmp_path, run_cli, case):
    snap = write_snapshot(tmp_path, case["files"])
    result, out = plan_cli(run_cli, snap)
    assert result.exit_code == 1
    expected = "Error: " + case["error"].replace("{snap}", str(snap)) + "\n"
    if "{now}" in expected:  # the clock at the time of the check, to the second
        now = re.search(r"\(now (\S+)\)", result.stderr)
        expected = expected.replace("{now}", now.group(1) if now else "?")
    assert result.stderr == expected
    assert result.stdout == ""
    assert not out.parent.exists()  # not even the folder the plan would have gone to


def _writer_manifest(snap):
    from reconcile.demo_data.writers import SnapshotWriter  # what `reconcile demo` and bench/generate.py write

    SnapshotWriter(snap, "csv", False).manifest("00D000000000001", "demo", {"sfdc": T_SFDC, "clay": T_CLAY})


def _pull_manifest(snap):
    from reconcile.pull import _stamp_manifest
    from reconcile.sources.pull_all import _stamp
    from reconcile.sources.smartlead import SourcePull

    _stamp_manifest(snap / "manifest.toml", T_SFDC)  # `reconcile pull` (Salesforce), then the other sources
    _stamp(snap / "manifest.toml", SourcePull("sfdc", ["sfdc/Lead.csv"], 2, 5, T_SFDC))
    _stamp(snap / "manifest.toml", SourcePull("clay", ["clay/t.csv"], 1, 0, T_CLAY, detail={"tables": ["t.csv"]}))


T_SFDC, T_CLAY = "2026-11-27T06:00:00Z", "2026-11-27T05:00:00Z"
GOOD_MANIFESTS = {
    "demo and bench generators": _writer_manifest,
    "reconcile pull": _pull_manifest,
    "by hand, TOML datetimes unquoted": lambda snap: (snap / "manifest.toml").write_text(
        f'org_id = "00D000000000001"\nnotes = "by hand"\n\n[taken_at]\nsfdc = {T_SFDC}\nclay = 2026-11-27T06:00:00+01:00\n'
    ),
    "with a person's own key (kept, not read)": lambda snap: (snap / "manifest.toml").write_text(
        f'exported_by = "Ana"\n[taken_at]\nsfdc = "{T_SFDC}"\nclay = "{T_CLAY}"\n'
    ),
    "each source's own table, names in capitals": lambda snap: (snap / "manifest.toml").write_text(
        f'org_id = "00D5g000004AbCd"\n[SFDC]\ntaken_at = "{T_SFDC}"\n[taken_at]\nClay = "{T_CLAY}"\n'
    ),
}


@pytest.mark.parametrize("write", GOOD_MANIFESTS.values(), ids=GOOD_MANIFESTS)
def test_every_documented_manifest_loads(tmp_path, write):
    snap = write_snapshot(tmp_path, {"manifest.toml": None, "clay/t.csv": csv_text(CLAY_HEADER, [{"LeadId": L1}])})
    write(snap)
    plan = plan_in(snap)
    assert plan["snapshot"]["taken_at"] == {"clay": T_CLAY, "sfdc": T_SFDC}
    org_id = plan["snapshot"]["org_id"]
    assert org_id is None or (len(org_id) == 18 and org_id.startswith("00D"))  # 15 → 18 characters


def test_a_15_character_org_id_is_given_as_18(tmp_path):
    snap = write_snapshot(tmp_path, {"manifest.toml": 'org_id = "00D5g000004AbCd"\n'})
    assert plan_in(snap)["snapshot"]["org_id"] == "00D5g000004AbCdEAK"


def test_missing_snapshot_directory(tmp_path, run_cli):
    result, out = plan_cli(run_cli, tmp_path / "nope")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: Snapshot directory '{tmp_path / 'nope'}' does not exist. Pass the folder that "
        "holds sfdc/, clay/, smartlead/ and pardot/ (see README: Snapshot contract).\n"
    )
    assert not out.exists()
    (tmp_path / "Lead.csv").write_text("Id\n")  # a file given for the folder: said as such
    result, _ = plan_cli(run_cli, tmp_path / "Lead.csv")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: Snapshot directory '{tmp_path / 'Lead.csv'}' is a file, not a directory.")


# Truncated CSVs: SPEC §2 wants the file, row and what was expected; the product passes DuckDB's sniffer
# message through (with the absolute path and no row), or a binder error when the sniffer guesses wrong.
UNTERMINATED = leads_csv(GOOD) + f'{L3},"broken@example.com,Co\n'
TOO_FEW = leads_csv(GOOD) + f"{L3},x@example.com,Co\n"
TOO_MANY = leads_csv(GOOD) + leads_csv([lead(3)]).splitlines()[1] + ",extra,cols\n"
TRUNCATED_CSV = [
    pytest.param(UNTERMINATED, id="unterminated quote"),
    pytest.param(TOO_FEW, id="ragged row, too few columns"),
    pytest.param(TOO_MANY, id="ragged row, too many columns"),
]


@pytest.mark.parametrize("text", TRUNCATED_CSV)
def test_truncated_csv_error_names_the_row(tmp_path, run_cli, text):
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": text})
    result, out = plan_cli(run_cli, snap)
    assert result.exit_code == 1 and not out.exists()
    message = result.stderr.strip()
    assert message.startswith("Error: Snapshot 'sfdc/Lead.csv' row 3")
    assert str(snap) not in message and ".." not in message and "Binder Error" not in message


def test_an_unclosed_quote_names_the_column_and_value_where_it_opens(tmp_path, run_cli):
    """SPEC §2: file, row, column, value. The quote opens in row 3's Email; the rows after it are in its value."""
    text = leads_csv(GOOD) + f'{L3},"broken@example.com,Co\n' + leads_csv([lead(4)]).splitlines()[1] + "\n"
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": text})
    result, _ = plan_cli(run_cli, snap)
    value = f'"broken@example.com,Co\n{leads_csv([lead(4)]).splitlines()[1]}'
    NL, BACKSLASH_N = "\n", "\\n"  # noqa: N806 - the error writes a line break as \n (one line per error)
    assert result.stderr == (
        f"Error: Snapshot 'sfdc/Lead.csv' row 3: column 'Email' value '{value[:80].replace(NL, BACKSLASH_N)}… "
        f"({len(value) - 80:,} more characters)' opens a quote that is not closed before the end of the "
        f"file (is the file truncated, or a quote missing?). Close the quote or export the file again. {HINT}\n"
    )


def test_a_ragged_row_quoted_in_an_error_says_where_it_was_cut(tmp_path, run_cli):
    row = leads_csv([lead(3)]).splitlines()[1] + ",extra,cells"
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": leads_csv(GOOD) + row + "\n"})
    result, _ = plan_cli(run_cli, snap)
    assert f"(value '{row[:80]}… ({len(row) - 80:,} more characters)')" in result.stderr, result.stderr


def test_truncated_csv_fails_and_writes_no_plan(tmp_path, run_cli):
    for text in (UNTERMINATED, TOO_FEW, TOO_MANY):
        snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": text})
        result, out = plan_cli(run_cli, snap)
        assert result.exit_code == 1 and not out.exists()
        assert result.stderr.startswith("Error: Snapshot 'sfdc/Lead.csv'")
        assert result.stderr.rstrip().endswith(HINT)


# ------------------------------------------------------------------------------------------ --lenient


def reject(file, row, column, value, expected):
    return {
        "file": file,
        "row": row,
        "column": column,
        "value": value,
        "expected": expected,
        "message": f"column '{column}' is missing; expected {expected}"
        if not value
        else f"column '{column}' value '{value}' appears more than once; expected {expected}"
        if expected.startswith("a unique Id")
        else f"column '{column}' value '{value}' is not {expected}",
    }


def bounce_both(leads_text):
    """Lead file under test + Clay bounce evidence for leads 1 and 2 (lead 1's row is the bad one)."""
    return {
        "sfdc/Lead.csv": leads_text,
        "clay/table.csv": csv_text(
            CLAY_HEADER, [{"LeadId": L1, "Hard Bounced": "yes"}, {"LeadId": L2, "Hard Bounced": "yes"}]
        ),
    }


LENIENT = [
    {
        "why": "unparseable boolean",
        "files": bounce_both(leads_csv([lead(1, IsConverted="maybe"), lead(2)])),
        "rejects": [reject("sfdc/Lead.csv", 1, "IsConverted", "maybe", BOOL_EXPECTED)],
    },
    {
        "why": "unparseable timestamp",
        "files": bounce_both(leads_csv([lead(1, SystemModstamp="27/11/2026"), lead(2)])),
        "rejects": [reject("sfdc/Lead.csv", 1, "SystemModstamp", "27/11/2026", TS_EXPECTED)],
    },
    {
        "why": "id of the wrong length",
        "files": bounce_both(leads_csv([lead(1, Id=L1[:14]), lead(2)])),
        "rejects": [reject("sfdc/Lead.csv", 1, "Id", L1[:14], ID_EXPECTED)],
    },
    {
        "why": "bad checksum",
        "files": bounce_both(leads_csv([lead(1, Id=L1[:15] + "XYZ"), lead(2)])),
        "rejects": [reject("sfdc/Lead.csv", 1, "Id", L1[:15] + "XYZ", ID_EXPECTED)],
    },
    {
        "why": "duplicate Id: every copy is quarantined",
        "files": bounce_both(leads_csv([lead(1), lead(2), lead(1, Id=L1[:15])])),
        "rejects": [
            reject(
                "sfdc/Lead.csv",
                r,
                "Id",
                v,
                "a unique Id (each Salesforce record once per file; rows 1 and 3 hold the same record)",
            )
            for r, v in ((1, L1), (3, L1[:15]))
        ],
    },
    {
        "why": "an Id in seven rows: each names five of them and how many more",
        "files": bounce_both(leads_csv([lead(2)] + [lead(1)] * 7)),
        "rejects": [
            reject(
                "sfdc/Lead.csv",
                r,
                "Id",
                L1,
                "a unique Id (each Salesforce record once per file; rows 2, 3, 4, 5, 6 "
                "and 2 more hold the same record)",
            )
            for r in range(2, 9)
        ],
    },
    {
        "why": "a Lead without its Id: quarantined, not silently left out",
        "files": bounce_both(leads_csv([lead(1, Id=""), lead(2)])),
        "rejects": [
            reject(
                "sfdc/Lead.csv", 1, "Id", "", "the record's Salesforce Id (every row of a Salesforce export has one)"
            )
        ],
    },
    {
        "why": "a NUL byte in a Lead's text value",
        "files": bounce_both(leads_csv([lead(1, Status="Op\x00en"), lead(2)])),
        "rejects": [
            reject(
                "sfdc/Lead.csv",
                1,
                "Status",
                "Op\\x00en",
                "text without NUL bytes (shown as \\x00: a sign of a damaged or wrongly encoded export)",
            )
        ],
    },
    {
        "why": "bad value in a source file: the source row is quarantined",
        "files": {
            "sfdc/Lead.csv": leads_csv([lead(1), lead(2)]),
            "clay/table.csv": csv_text(
                CLAY_HEADER, [{"LeadId": L1, "Hard Bounced": "ja"}, {"LeadId": L2, "Hard Bounced": "yes"}]
            ),
        },
        "rejects": [reject("clay/table.csv", 1, "Hard Bounced", "ja", BOOL_EXPECTED)],
    },
    {
        "why": "a bad id inside Smartlead custom_fields: the leads-export row is quarantined, not matched by email",
        "files": {
            "sfdc/Lead.csv": leads_csv([lead(1), lead(2)]),
            "sfdc/CampaignMember.csv": csv_text(MEMBER_HEADER, [member(1, 1), member(2, 2)]),
            "clay/table.csv": csv_text(CLAY_HEADER, [{"LeadId": L2, "Hard Bounced": "yes"}]),
            "smartlead/events.jsonl": jsonl_text(
                [
                    {
                        "event_type": "EMAIL_BOUNCE",
                        "event_timestamp": "2025-03-28T09:35:01Z",
                        "to_email": "lead1@example.com",
                        "custom_fields": {"sfdc_lead_id": L1[:15] + "XYZ"},
                    }
                ]
            ),
        },
        "rejects": [reject("smartlead/events.jsonl", 1, "custom_fields.sfdc_lead_id", L1[:15] + "XYZ", ID_EXPECTED)],
    },
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c["why"]) for c in LENIENT])
def test_lenient_quarantines_bad_rows_and_plans_the_rest(tmp_path, run_cli, case):
    snap = write_snapshot(tmp_path, case["files"])
    result, out = plan_cli(run_cli, snap, "--lenient", "--json")
    assert result.exit_code == 0, result.stderr
    plan = loaded(load_plan(out))
    assert plan["rejects"] == case["rejects"]
    by_file = {}
    for r in case["rejects"]:
        by_file[r["file"]] = by_file.get(r["file"], 0) + 1
    assert plan["summary"]["rejects"] == {"total": len(case["rejects"]), "by_file": by_file}
    assert json.loads(result.stdout)["rejects"] == plan["summary"]["rejects"]
    # lead 2 is planned from the good rows; lead 1's bad row is not planned but not silently lost either
    assert [(c["record_id"], c["field"], c["status"]) for c in plan["changes"]] == [
        (L2, "external_hard_bounced__c", "ready")
    ]


def test_lenient_reports_a_lead_row_it_quarantined_when_a_source_names_it(tmp_path):
    snap = write_snapshot(tmp_path, bounce_both(leads_csv([lead(1, IsConverted="maybe"), lead(2)])))
    plan = plan_in(snap, lenient=True)
    assert [(f["kind"], f["record_id"]) for f in plan["findings"]] == [("unmatched_source_row", L1)]
    assert plan["summary"]["records"]["Lead"] == 1


def test_a_quarantined_lead_still_shares_its_email_so_the_other_lead_is_not_its_only_match(tmp_path):
    # leads 1 and 2 share an email; lead 2's row has a bad time. Without that row lead 1 would be the email's only
    # Lead and get the bounce; a bad value in one person's row must not send another person a change
    leads = leads_csv([lead(1, "shared@example.com"), lead(2, "shared@example.com", SystemModstamp="not-a-time")])
    clay = csv_text(CLAY_HEADER, [{"Email": " Shared@Example.com", "Hard Bounced": "yes"}])
    plan = plan_in(write_snapshot(tmp_path, {"sfdc/Lead.csv": leads, "clay/table.csv": clay}), lenient=True)
    assert plan["changes"] == []
    (finding,) = plan["findings"]
    assert finding["kind"] == "ambiguous_match"
    assert finding["detail"] == (
        f"Email shared@example.com matches 2 Leads ({L1}, {L2} (rejected: sfdc/Lead.csv row 2)); "
        "nothing is changed for this row."
    )
    assert [r["row"] for r in plan["rejects"]] == [2]


def test_a_source_row_whose_only_lead_was_quarantined_says_so(tmp_path):
    leads = leads_csv([lead(1, IsConverted="maybe"), lead(2, "two@example.com", SystemModstamp="not-a-time")])
    clay = csv_text(
        CLAY_HEADER, [{"LeadId": L1, "Hard Bounced": "yes"}, {"Email": "two@example.com", "Hard Bounced": "yes"}]
    )
    plan = plan_in(write_snapshot(tmp_path, {"sfdc/Lead.csv": leads, "clay/table.csv": clay}), lenient=True)
    assert plan["changes"] == []
    found = [(f["record_id"], f["detail"]) for f in plan["findings"] if f["kind"] == "unmatched_source_row"]
    assert sorted(found, key=lambda f: f[1]) == [
        (
            None,
            f"clay row matches by email Lead {L2} (rejected: sfdc/Lead.csv row 2), a row this lenient plan "
            "quarantined (see rejects): nothing is planned from this row for it.",
        ),
        (
            L1,
            f"clay row names Lead {L1} (rejected: sfdc/Lead.csv row 1), a row this lenient plan quarantined "
            "(see rejects): nothing is planned from this row for it.",
        ),
    ]


def test_a_clay_row_naming_a_quarantined_campaign_member_says_it_was_rejected(tmp_path):
    members = csv_text(MEMBER_HEADER, [member(1, 1, Has_Replied__c="maybe")])
    clay = csv_text(CLAY_HEADER, [{"LeadId": L1, "CampaignMemberId": member_id(1), "Replied": "yes"}])
    files = {"sfdc/Lead.csv": leads_csv([lead(1)]), "sfdc/CampaignMember.csv": members, "clay/table.csv": clay}
    plan = plan_in(write_snapshot(tmp_path, files), lenient=True)
    assert plan["changes"] == []
    assert [(f["kind"], f["record_id"], f["detail"]) for f in plan["findings"]] == [
        (
            "unmatched_source_row",
            member_id(1),
            f"Clay row names CampaignMember {member_id(1)} (rejected: sfdc/CampaignMember.csv row 1), a row this "
            "lenient plan quarantined (see rejects).",
        )
    ]


def test_lenient_still_refuses_a_file_it_cannot_read(tmp_path, run_cli):
    """A missing column or a wrong encoding is not a bad row: the whole file is unusable."""
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": leads_csv(GOOD).encode("utf-16")})
    result, out = plan_cli(run_cli, snap, "--lenient")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: Snapshot 'sfdc/Lead.csv' is UTF-16. Save or export it again as UTF-8 (Excel: 'CSV UTF-8').\n",
    )
    assert not out.exists()


def test_lenient_quarantines_a_ragged_csv_row_once(tmp_path):
    snap = write_snapshot(tmp_path, bounce_both(TOO_FEW))
    plan = plan_in(snap, lenient=True)
    assert [(r["file"], r["row"]) for r in plan["rejects"]] == [("sfdc/Lead.csv", 3)]
    assert plan["summary"]["rejects"]["total"] == 1


def test_lenient_plans_the_rest_around_a_ragged_csv_row(tmp_path):
    snap = write_snapshot(tmp_path, bounce_both(TOO_FEW))
    plan = plan_in(snap, lenient=True)
    assert {(r["file"], r["row"], r["value"]) for r in plan["rejects"]} == {
        ("sfdc/Lead.csv", 3, f"{L3},x@example.com,Co")
    }
    assert plan["summary"]["records"]["Lead"] == 2
    assert [(c["record_id"], c["status"]) for c in plan["changes"]] == [(L1, "ready"), (L2, "ready")]


def test_lenient_keeps_the_rows_after_a_ragged_row_and_their_numbers(tmp_path):
    """A short row in the middle: the good row right after it is kept (DuckDB's own error recovery dropped it) and
    every row keeps its record number."""
    lines = leads_csv([lead(1), lead(2), lead(3)]).splitlines()
    text = "\n".join([lines[0], lines[1], f"{lead_id(9)},short,row", *lines[2:]]) + "\n"
    snap = write_snapshot(tmp_path, bounce_both(text))
    plan = plan_in(snap, lenient=True)
    assert [(r["file"], r["row"]) for r in plan["rejects"]] == [("sfdc/Lead.csv", 2)]
    assert [(c["record_id"], c["status"]) for c in plan["changes"]] == [(L1, "ready"), (L2, "ready")]
    con = duckdb.connect(str(tmp_path / "out" / "reconcile.duckdb"), read_only=True)
    try:
        assert con.execute("select sf_lead_id, row from stg_sfdc__lead order by row").fetchall() == [
            (L1, 1),
            (L2, 3),
            (L3, 4),
        ]
    finally:
        con.close()


def test_lenient_counts_an_event_its_staging_check_quarantined_as_rejected_not_staged(tmp_path):
    """Webhook values are typed by staging (sql/checks): a quarantined event leaves the staging table and moves from
    staged to rejected in the file's count (records = staged + rejected); its bounce is not used, the good one is."""
    events = [
        {"event_type": "EMAIL_BOUNCE", "event_timestamp": "garbage", "to_email": "lead1@example.com"},
        {"event_type": "EMAIL_BOUNCE", "event_timestamp": "2025-03-28T09:35:01Z", "to_email": "lead2@example.com"},
        {"event_type": "EMAIL_SENT", "event_timestamp": "2025-03-28T09:35:01Z", "to_email": "lead1@example.com"},
    ]
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": leads_csv(GOOD), "smartlead/events.jsonl": jsonl_text(events)})
    plan = plan_in(snap, lenient=True)
    assert [(r["file"], r["row"], r["column"], r["value"]) for r in plan["rejects"]] == [
        ("smartlead/events.jsonl", 1, "event_timestamp", "garbage")
    ]
    files = {f["file"]: f for f in plan["summary"]["inputs"]["files"]}
    assert files["smartlead/events.jsonl"] == {
        "file": "smartlead/events.jsonl",
        "source": "smartlead__events",
        "records": 3,
        "staged": 2,
        "rejected": 1,
    }
    assert [(c["record_id"], c["field"]) for c in plan["changes"]] == [(L2, "external_hard_bounced__c")]
    con = duckdb.connect(str(tmp_path / "out" / "reconcile.duckdb"), read_only=True)
    try:
        assert con.execute("select row from stg_smartlead__events").fetchall() == [(2,)]
        assert con.execute(
            "select staged, rejected from snapshot_files where file = 'smartlead/events.jsonl'"
        ).fetchall() == [(2, 1)]
    finally:
        con.close()


def test_strict_and_lenient_name_the_same_row_of_a_damaged_csv(tmp_path, run_cli):
    """One scan (damaged.scan_csv) serves both modes: a blank line before a ragged row counts in neither."""
    lines = leads_csv([lead(1), lead(2)]).splitlines()
    text = "\n".join([lines[0], lines[1], "", lines[2], f"{lead_id(9)},short,row"]) + "\n"
    snap = write_snapshot(tmp_path / "a", bounce_both(text))
    result, _ = plan_cli(run_cli, snap)
    assert result.exit_code == 1 and result.stderr.startswith("Error: Snapshot 'sfdc/Lead.csv' row 3: expected ")
    plan = plan_in(write_snapshot(tmp_path / "b", bounce_both(text)), lenient=True)
    assert [(r["file"], r["row"]) for r in plan["rejects"]] == [("sfdc/Lead.csv", 3)]


def test_lenient_quarantines_an_unterminated_quote(tmp_path, run_cli):
    snap = write_snapshot(tmp_path, bounce_both(UNTERMINATED))
    result, out = plan_cli(run_cli, snap, "--lenient")
    assert result.exit_code == 0, result.stderr
    plan = loaded(load_plan(out))
    assert [(r["file"], r["row"]) for r in plan["rejects"]] == [("sfdc/Lead.csv", 3)]
    # nothing is lost: the reject holds what the quote swallowed, and says where it opened
    (reject,) = plan["rejects"]
    assert reject["value"] == UNTERMINATED.splitlines()[-1]
    assert "the quote opened in column 'Email' takes in every line to the end of the file (1 line)" in reject["message"]


def test_lenient_quarantines_a_truncated_jsonl_line(tmp_path, run_cli):
    events = '{"event_type":"EMAIL_BOUNCE","to_email":"lead2@example.com"}\n{"event_type":"EMAIL_BOU'
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": leads_csv(GOOD), "smartlead/events.jsonl": events})
    result, out = plan_cli(run_cli, snap, "--lenient")
    assert result.exit_code == 0, result.stderr
    plan = loaded(load_plan(out))
    assert [(r["file"], r["row"]) for r in plan["rejects"]] == [("smartlead/events.jsonl", 2)]
    assert [(c["record_id"], c["field"]) for c in plan["changes"]] == [(L2, "external_hard_bounced__c")]


@pytest.mark.parametrize("damaged", [False, True], ids=["read by DuckDB", "salvaged by --lenient"])
def test_a_jsonl_row_is_its_line_number_also_after_blank_lines(tmp_path, damaged):
    """README: a JSONL row is its line number. DuckDB's read skips blank lines, and numbered the objects it read: the
    bounce on line 4 was row 2 — and row 4 when a damaged line elsewhere made lenient mode read the file itself."""
    bounce = json.dumps(
        {"event_type": "EMAIL_BOUNCE", "event_timestamp": "2026-11-20T10:00:00Z", "to_email": "lead2@example.com"}
    )
    events = (
        "\n" + json.dumps({"event_type": "EMAIL_OPEN"}) + "\n \t\n" + bounce + "\n" + ('{"event' if damaged else "")
    )
    leads = [dict(lead(2), Email="lead2@example.com", Id=L2)]
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": csv_text(LEAD_HEADER, leads), "smartlead/events.jsonl": events})
    plan = plan_in(snap, lenient=damaged)
    [change] = plan["changes"]
    assert [(e["file"], e["row"]) for e in change["evidence"]] == [("sfdc/Lead.csv", 1), ("smartlead/events.jsonl", 4)]
    assert [(r["file"], r["row"]) for r in plan["rejects"]] == ([("smartlead/events.jsonl", 5)] if damaged else [])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list(b"{a} \t\r\n\f\v")), max_size=40).map(bytes))
def test_a_blank_line_is_found_wherever_it_is(tmp_path_factory, data):
    """The JSONL blank-line scan (its row numbers are line numbers only when it finds one) against the definition:
    a line — the first, or one after a line break, ended by a line break — of nothing but spaces."""
    path = tmp_path_factory.mktemp("jsonl") / "events.jsonl"
    path.write_bytes(data)
    lines = data.split(b"\n")[:-1]  # the text after the last line break ends no line
    assert _has_blank_line(path) == any(line.strip(b" \t\r\f\v") == b"" for line in lines)


def test_lenient_reads_an_empty_string_of_a_damaged_jsonl_file_as_blank(tmp_path):
    """The well-formed lines of a JSONL file DuckDB refused are loaded by reconcile itself: "" is blank there too."""
    lines = [json.dumps({**lead(1, Industry="", company_description__c=""), "Id": L1}), '{"Id": "00Q']
    snap = write_snapshot(
        tmp_path,
        {
            "sfdc/Lead.csv": None,
            "sfdc/Lead.jsonl": "\n".join(lines) + "\n",
            "clay/t.csv": csv_text(CLAY_HEADER, [{"LeadId": L1, "Industry": "Banking"}]),
        },
    )
    plan = plan_in(snap, lenient=True)
    assert [(r["file"], r["row"]) for r in plan["rejects"]] == [("sfdc/Lead.jsonl", 2)]
    assert [(c["field"], c["before"], c["evidence"][0]["value"]) for c in plan["changes"]] == [("Industry", None, None)]


def test_a_jsonl_line_that_is_json_but_not_an_object_is_named_as_such(tmp_path, run_cli):
    """Strict names the line and says what it is; lenient quarantines it with a JSON expectation, not a CSV one."""
    events = '{"event_type":"EMAIL_BOUNCE","to_email":"lead2@example.com"}\n[1, 2]\n'
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": leads_csv(GOOD), "smartlead/events.jsonl": events})
    result, _ = plan_cli(run_cli, snap)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Snapshot 'smartlead/events.jsonl' row 2: value '[1, 2]' is a JSON value, but not an object. Each line "
        f"must hold one JSON object. {HINT}\n"
    )
    result, out = plan_cli(run_cli, snap, "--lenient")
    assert result.exit_code == 0, result.stderr
    assert [(r["row"], r["value"], r["expected"], r["message"]) for r in loaded(load_plan(out))["rejects"]] == [
        (2, "[1, 2]", "one JSON object on the line", "a JSON value, but not an object")
    ]


def test_a_damaged_parquet_file_is_refused_without_csv_advice_in_both_modes(tmp_path, run_cli):
    data = _parquet(tmp_path, "sfdc/Lead.csv", leads_csv(GOOD))
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": None, "sfdc/Lead.parquet": data[:300]})
    for extra in ((), ("--lenient",)):
        result, out = plan_cli(run_cli, snap, *extra)
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: Snapshot 'sfdc/Lead.parquet' cannot be read as Parquet: ")
        assert result.stderr.endswith(
            ". Is the file truncated or not Parquet? Export it again (--lenient cannot keep part of a Parquet file).\n"
        )
        assert "quoting" not in result.stderr and not out.exists()


# ------------------------------------------------------------------------------------------ format variety

FORMAT_LEADS = [
    lead(1),
    lead(2, email="Lead2@Example.com", Industry="Retail", company_description__c="Has one", IsConverted=True),
    lead(3, external_hard_bounced__c=True, overall_hard_bounced__c=True, Cold_Lead_Eligible__c=False),
]
FORMAT_MEMBERS = [member(1, 1), member(2, 2, Has_Replied__c=True, ReplyClassification__c="Interested")]
FORMAT_CLAY = [
    {
        "CampaignMemberId": member_id(1),
        "LeadId": L1,
        "Email": "lead1@example.com",
        "Hard Bounced": "yes",
        "Replied": "true",
        "Reply Category": "meeting request",
        "Reply At": "2026-11-20T10:00:00Z",
        "Industry": "banking",
        "Company Description": 'Acme; the "anvil" people',
    },
    {
        "Email": "lead2@example.com",
        "Industry": "Banking",
        "Company Description": "New one",
        "Email Validation": "invalid",
    },
]
FORMAT_BASE = {
    "sfdc/Lead.csv": csv_text(LEAD_HEADER, FORMAT_LEADS),
    "sfdc/CampaignMember.csv": csv_text(MEMBER_HEADER, FORMAT_MEMBERS),
    "clay/table.csv": csv_text(CLAY_HEADER, FORMAT_CLAY),
}


def _caps(text: str) -> str:
    head, rest = text.split("\n", 1)
    return head.upper() + "\n" + rest


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _parquet(tmp_path, rel: str, text: str) -> bytes:
    src, dst = tmp_path / "src.csv", tmp_path / "dst.parquet"
    src.write_text(text, "utf-8")
    con = duckdb.connect()
    con.execute(f"copy (select * from read_csv('{src}', all_varchar=true, header=true)) to '{dst}' (format parquet)")
    con.close()
    return dst.read_bytes()


def _jsonl(text: str, blank=None) -> str:
    return "".join(json.dumps({k: (v if v != "" else blank) for k, v in r.items()}) + "\n" for r in _rows(text))


def _parquet_of_text(tmp_path, text: str) -> bytes:
    """Parquet whose every column is text, an empty cell an empty string (not NULL) as a tool writing strings makes it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "text.parquet"
    pq.write_table(pa.Table.from_pylist(_rows(text)), path)
    return path.read_bytes()


def _spaced(text: str) -> str:
    """A header typed by hand: a space after every comma (`Id, Email, Company`); the rows as exported."""
    head, rest = text.split("\n", 1)
    return head.replace(",", ", ") + "\n" + rest


def _semicolon(text: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    w.writerows(rows)
    return buf.getvalue()


FORMATS = {
    "BOM": lambda tmp, rel, t: {rel: "\ufeff" + t},
    "semicolon, CRLF": lambda tmp, rel, t: {rel: _semicolon(t)},
    "ALL-CAPS headers": lambda tmp, rel, t: {rel: _caps(t)},
    "BOM + ALL-CAPS + semicolon": lambda tmp, rel, t: {rel: "\ufeff" + _caps(_semicolon(t))},
    "a space after each comma of the header": lambda tmp, rel, t: {rel: _spaced(t)},
    "Parquet": lambda tmp, rel, t: {rel: None, rel.replace(".csv", ".parquet"): _parquet(tmp, rel, t)},
    "JSONL": lambda tmp, rel, t: {rel: None, rel.replace(".csv", ".jsonl"): _jsonl(t)},
    # an empty string is a blank value, as an empty CSV cell (quoted or not) is: `before` null, not ""
    "Parquet, empty strings": lambda tmp, rel, t: {
        rel: None,
        rel.replace(".csv", ".parquet"): _parquet_of_text(tmp, t),
    },
    "JSONL, empty strings": lambda tmp, rel, t: {rel: None, rel.replace(".csv", ".jsonl"): _jsonl(t, blank="")},
}


def comparable(plan: dict) -> dict:
    """The plan without what a file format may change: file names (and fingerprints) in evidence."""

    def ev(items):
        return [{k: v for k, v in e.items() if k != "file"} for e in items]

    def stem(files):
        return [{**f, "file": f["file"].rsplit(".", 1)[0]} for f in files]

    summary = {
        **plan["summary"],
        "inputs": {**plan["summary"]["inputs"], "files": stem(plan["summary"]["inputs"]["files"])},
    }
    return {
        "changes": [{**c, "evidence": ev(c["evidence"])} for c in plan["changes"]],
        "findings": [{**f, "evidence": ev(f["evidence"])} for f in plan["findings"]],
        "summary": summary,
        "rejects": plan["rejects"],
    }


@pytest.fixture(scope="module")
def csv_plan(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("csv")
    plan = plan_in(write_snapshot(tmp, FORMAT_BASE), tmp / "out")
    assert len(plan["changes"]) == 7 and plan["rejects"] == []
    return plan


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_gives_the_same_plan(tmp_path, csv_plan, fmt):
    files = {}
    for rel, text in FORMAT_BASE.items():
        files.update(FORMATS[fmt](tmp_path, rel, text))
    plan = plan_in(write_snapshot(tmp_path, files), tmp_path / "out")
    assert comparable(plan) == comparable(csv_plan)
    suffix = next((s for f, s in (("Parquet", ".parquet"), ("JSONL", ".jsonl")) if fmt.startswith(f)), ".csv")
    assert {e["file"].rsplit(".", 1)[1] for c in plan["changes"] for e in c["evidence"]} == {suffix.lstrip(".")}


def test_typed_parquet_and_json_values_read_like_text(tmp_path):
    """Parquet with real boolean/timestamp columns and JSONL with JSON booleans mean the same as their text."""
    con = duckdb.connect()
    path = tmp_path / "Lead.parquet"
    con.execute(f"""copy (select '{L1}' as Id, 'lead1@example.com' as Email, 'Co' as Company,
                                 null::varchar as Industry, null::varchar as company_description__c,
                                 false as external_hard_bounced__c, false as overall_hard_bounced__c,
                                 false as pi__pardot_hard_bounced__c, true as Cold_Lead_Eligible__c,
                                 false as HasOptedOutOfEmail, false as IsConverted, 'Open' as Status,
                                 timestamptz '2026-11-26 09:41:02+00' as SystemModstamp)
                    to '{path}' (format parquet)""")
    con.close()
    snap = write_snapshot(
        tmp_path,
        {
            "sfdc/Lead.parquet": path.read_bytes(),
            "clay/t.jsonl": json.dumps({"LeadId": L1, "Hard Bounced": True}) + "\n",
        },
    )
    plan = plan_in(snap)
    assert (plan["rejects"], plan["findings"]) == ([], [])
    assert [
        (c["record_id"], c["before"], c["after"], [e["value"] for e in c["evidence"]]) for c in plan["changes"]
    ] == [(L1, False, True, ["false", "true"])]


SMARTLEAD_ROWS = [  # the leads-export as Smartlead's API gives it: numbers, booleans, custom_fields an object
    {
        "id": 2995276770,
        "campaign_lead_map_id": 2433664091,
        "status": "COMPLETED",
        "category": "Interested",
        "is_interested": True,
        "email": "Lead1@Example.com",
        "custom_fields": {"job_title": "CFO", "sfdc_lead_id": L1[:15], "sfdc_campaign_id": campaign_id(1)},
        "reply_count": 1,
    },
    {
        "id": 2995276771,
        "campaign_lead_map_id": 2433664092,
        "status": "BLOCKED",
        "category": None,
        "is_interested": False,
        "email": "lead2@example.com",
        "custom_fields": {"job_title": None, "sfdc_lead_id": None, "sfdc_campaign_id": campaign_id(1, 15)},
        "reply_count": 0,
    },
]


def _smartlead_csv() -> str:
    header = list(SMARTLEAD_ROWS[0])
    return csv_text(header, [{k: v for k, v in r.items() if v is not None} for r in SMARTLEAD_ROWS], quote_all=True)


def _smartlead_parquet(tmp_path) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "campaign.parquet"
    pq.write_table(pa.Table.from_pylist(SMARTLEAD_ROWS), path)  # custom_fields: a STRUCT column, reply_count INT64
    return path.read_bytes()


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_a_natively_typed_smartlead_export_plans_as_its_csv(tmp_path, fmt):
    """custom_fields as a Parquet STRUCT or a JSON object (not JSON text in a cell), whole numbers and booleans typed:
    the same lead is matched by its custom_fields id and gets the same changes as from the CSV export."""
    base = {
        "sfdc/Lead.csv": leads_csv([lead(1, email="someone.else@example.com"), lead(2)]),
        "sfdc/CampaignMember.csv": csv_text(MEMBER_HEADER, [member(1, 1), member(2, 2)]),
    }
    typed = _smartlead_parquet(tmp_path) if fmt == "parquet" else jsonl_text(SMARTLEAD_ROWS)
    csv_plan = plan_in(write_snapshot(tmp_path / "csv", {**base, "smartlead/campaign-9181.csv": _smartlead_csv()}))
    plan = plan_in(write_snapshot(tmp_path / fmt, {**base, f"smartlead/campaign-9181.{fmt}": typed}))
    assert plan["rejects"] == csv_plan["rejects"] == []
    assert comparable(plan)["changes"] == comparable(csv_plan)["changes"] != []
    assert comparable(plan)["findings"] == comparable(csv_plan)["findings"]


def test_fingerprints_name_every_file_read(tmp_path):
    files = {
        "sfdc/Lead.parquet": _parquet(tmp_path, "sfdc/Lead.csv", FORMAT_BASE["sfdc/Lead.csv"]),
        "sfdc/Lead.csv": None,
        "clay/a.csv": FORMAT_BASE["clay/table.csv"],
        "clay/b.jsonl": '{"Email": null}\n',
    }
    plan = plan_in(write_snapshot(tmp_path, files))
    fps = plan["snapshot"]["fingerprints"]
    assert (
        list(fps)
        == sorted(fps)
        == ["clay/a.csv", "clay/b.jsonl", "sfdc/CampaignMember.csv", "sfdc/Contact.csv", "sfdc/Lead.parquet"]
    )
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", v) for v in fps.values())


def test_reading_a_damaged_jsonl_line_leaves_duckdbs_default_connection_usable():
    """The JSON checks of bad and too-deep lines run on a connection of their own: DuckDB's module-wide default
    connection (an analyst's `duckdb.sql` in the same notebook) is left without an unfinished result."""
    from reconcile.ingest import damaged

    deep = '{"a": ' + "[" * 5000 + "]" * 5000 + ', "b": "x"}'
    assert damaged.parse_object(deep).get("b") == "x"
    assert damaged._is_json("[1, 2]") and not damaged._is_json("{broken")
    assert duckdb.sql("select 42 as answer").fetchall() == [(42,)]


@pytest.mark.parametrize("second", ["Email", "EMAIL"])
def test_a_parquet_file_naming_a_column_twice_is_refused_as_a_csv_header_is(tmp_path, run_cli, second):
    """DuckDB's read renames the second column (Email_1), which left it unseen: the file's own names are checked."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _rows(leads_csv(GOOD))
    names = list(rows[0]) + [second]
    arrays = [pa.array([r[n] for r in rows]) for n in rows[0]] + [pa.array(["other@example.com"] * len(rows))]
    pq.write_table(pa.Table.from_arrays(arrays, names=names), tmp_path / "dup.parquet")
    snap = write_snapshot(tmp_path, {"sfdc/Lead.parquet": (tmp_path / "dup.parquet").read_bytes()})
    result, out = plan_cli(run_cli, snap)
    assert result.exit_code == 1 and not out.exists()
    assert result.stderr == (
        f"Error: Snapshot 'sfdc/Lead.parquet' header names the column 'Email' 2 times: 'Email' (column 2) and "
        f"'{second}' (column {len(names)}). Keep one of them in the export (reconcile will not guess which is right).\n"
    )


def test_a_jsonl_file_naming_a_key_twice_names_both_keys_without_positions(tmp_path, run_cli):
    """A JSONL file's keys have no column positions (each line orders its own)."""
    line = {**lead(1), "EMAIL": "other@example.com"}
    snap = write_snapshot(tmp_path, {"sfdc/Lead.jsonl": json.dumps(line) + "\n"})
    result, _ = plan_cli(run_cli, snap)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Snapshot 'sfdc/Lead.jsonl' header names the column 'Email' 2 times: 'EMAIL' and 'Email'. Keep one of "
        "them in the export (reconcile will not guess which is right).\n"
    )


def _midway_quote() -> str:
    """Lead 1's Email opens a quote that Lead 2's quoted Company closes, followed by text: by RFC 4180 rows 1-2 are
    one broken record; lead 3 after them is well formed (the scan resumes, it is not lost)."""
    lines = leads_csv([lead(1), lead(2, Company='Acme "Rockets" Inc'), lead(3)]).splitlines()
    lines[1] = lines[1].replace("lead1@example.com", '"lead1@example.com')
    return "\n".join(lines) + "\n"


def test_a_quote_closed_midway_keeps_its_lines_and_the_rows_after_it(tmp_path):
    plan = plan_in(write_snapshot(tmp_path, bounce_both(_midway_quote())), lenient=True)
    (reject,) = plan["rejects"]
    broken = _midway_quote().splitlines()[1:3]
    assert (reject["file"], reject["row"], reject["value"]) == ("sfdc/Lead.csv", 1, "\n".join(broken))
    assert (
        "the quote opened in column 'Email' takes in 2 lines, then text follows its closing quote" in reject["message"]
    )
    lead_file = next(f for f in plan["summary"]["inputs"]["files"] if f["file"] == "sfdc/Lead.csv")
    assert (lead_file["records"], lead_file["staged"], lead_file["rejected"]) == (2, 1, 1)  # lead 3 is planned from


def test_a_quote_closed_midway_is_named_in_strict_mode(tmp_path, run_cli):
    result, _ = plan_cli(run_cli, write_snapshot(tmp_path, bounce_both(_midway_quote())))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: Snapshot 'sfdc/Lead.csv' row 1: column 'Email' value '\"lead1@example.com,"
    ), result.stderr
    assert "opens a quote whose closing quote is followed by other text 1 line(s) further on" in result.stderr


def test_a_crlf_blank_line_in_an_lf_file_is_read_in_strict_mode_as_in_lenient(tmp_path):
    """Well formed by RFC 4180, refused by DuckDB's state machine: strict mode reads it (nothing to reject) instead
    of an error naming no row and advising --lenient."""
    lines = leads_csv([lead(1), lead(2)]).replace("\r\n", "\n").splitlines()
    mixed = lines[0] + "\n" + lines[1] + "\n\r\n" + lines[2] + "\r\n"
    plan = plan_in(write_snapshot(tmp_path / "m", bounce_both(mixed)))
    clean = plan_in(write_snapshot(tmp_path / "c", bounce_both("\n".join(lines) + "\n")))
    assert plan["rejects"] == [] and [(c["record_id"], c["field"]) for c in plan["changes"]] == [
        (c["record_id"], c["field"]) for c in clean["changes"]
    ]


def test_a_ragged_rows_reject_keeps_its_text_as_the_file_has_it(tmp_path):
    row = leads_csv([lead(3)]).splitlines()[1] + ',"x,y"'
    plan = plan_in(write_snapshot(tmp_path, bounce_both(leads_csv(GOOD) + row + "\n")), lenient=True)
    assert [r["value"] for r in plan["rejects"]] == [row]


def test_a_lead_quarantined_as_ragged_is_named_as_quarantined_by_the_rows_that_name_it(tmp_path):
    """Its Id is where the header puts it: a Clay row naming it says it was quarantined (see rejects), not that the
    Lead snapshot lacks it — as for a Lead row with a bad value."""
    ragged = leads_csv([lead(1)]).splitlines()[1] + ",extra"
    text = leads_csv([lead(2)]) + ragged + "\n"
    plan = plan_in(write_snapshot(tmp_path, bounce_both(text)), lenient=True)
    assert [(r["file"], r["row"]) for r in plan["rejects"]] == [("sfdc/Lead.csv", 2)]
    (unmatched,) = [f for f in plan["findings"] if f["kind"] == "unmatched_source_row"]
    assert unmatched["record_id"] == L1 and "a row this lenient plan quarantined" in unmatched["detail"], unmatched
