"""`reconcile export-members` (SPEC §8, seed §3.4: the pre-campaign Campaign Member export SFDC → Clay), probed as
Clay and MARCOM Ops use it: the file Clay imports comes back as a Clay export and matches without findings."""

from __future__ import annotations

import csv
import tracemalloc

import pytest
from click.testing import CliRunner

from conftest import (
    CONTACT_HEADER,
    MEMBER_HEADER,
    campaign_id,
    contact_id,
    csv_text,
    lead,
    lead_id,
    member,
    member_id,
    plan_in,
    policy_with,
    write_snapshot,
)
from reconcile.build import staged
from reconcile.cli import app
from reconcile.ingest import contract
from reconcile.members import export_members

LEAD_ALL = [c.header for c in contract.SFDC_LEAD.columns]

# Values a Clay import and a spreadsheet must both survive: CSV specials and formula triggers (csvsafe.TRIGGERS).
TRICKY = [
    {"Company": 'Acme, "Inc"\nSecond line', "company_description__c": "plain, with a comma"},
    {"Company": "=HYPERLINK(1)", "company_description__c": "=cmd|' /C calc'!A0", "Industry": "+Energy"},
    {"Company": "-5", "company_description__c": "-dash first", "Industry": "@Retail"},
    {"Company": "@home", "company_description__c": "\tTabbed", "Industry": "Banking"},
]


def _snapshot(tmp_path, n_leads=len(TRICKY), extra_members=(), name="snap"):
    leads = [lead(i + 1, **TRICKY[i % len(TRICKY)]) for i in range(n_leads)]
    leads.append(lead(90, IsConverted=True, Industry="Banking"))  # a converted Lead: still a Lead member
    members = [member(i + 1, i + 1) for i in range(n_leads)] + [member(90, 90)]
    members += list(extra_members)
    return write_snapshot(
        tmp_path,
        {
            "sfdc/Lead.csv": csv_text(LEAD_ALL, leads),
            "sfdc/CampaignMember.csv": csv_text(MEMBER_HEADER, members),
            "sfdc/Contact.csv": csv_text(CONTACT_HEADER, [{"Id": contact_id(1), "Email": "customer@example.com"}]),
        },
        name=name,
    )


CONTACT_MEMBER = {**member(80, 0), "LeadId": None, "ContactId": contact_id(1)}


def test_the_export_comes_back_as_a_clay_export_and_matches_every_row_without_findings(tmp_path):
    """Exported, then fed back unchanged as a Clay table export into `reconcile plan`: every row reaches its Lead
    and CampaignMember by the ids the export wrote, no change and no finding — CSV specials and the spreadsheet-safe
    prefix of formula-like values (csvsafe) included. A Contact's member is left out (its row would reach no Lead:
    unmatched_source_row), a converted Lead's member is kept."""
    snap = _snapshot(tmp_path, extra_members=[CONTACT_MEMBER])
    out = snap / "clay" / "campaign-members.csv"
    result = CliRunner().invoke(app, ["export-members", str(snap), "--campaign", campaign_id(1, 15), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Wrote 5 Campaign Members" in result.output and "left out 1 Contact member" in result.output
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["CampaignMemberId"] for r in rows] == [member_id(n) for n in (1, 2, 3, 4, 90)]
    assert [r["LeadId"] for r in rows] == [lead_id(n) for n in (1, 2, 3, 4, 90)]
    assert rows[0]["Company"] == 'Acme, "Inc"\nSecond line'
    assert rows[1]["Company"] == "'=HYPERLINK(1)" and rows[2]["Company"] == "-5"  # neutralised; a number is not
    plan = plan_in(snap, tmp_path / "out")
    assert plan["summary"]["inputs"]["files"][0]["file"] == "clay/campaign-members.csv"
    assert plan["summary"]["inputs"]["files"][0]["staged"] == 5
    assert plan["findings"] == [] and plan["changes"] == []


def test_a_carriage_return_in_a_value_stays_inside_its_quoted_field_and_comes_back(tmp_path):
    """Python's csv quotes a field only for the characters of its line terminator ("\\n" here): a value starting with
    or holding a lone carriage return went out bare ('\\r…) and split its row for every reader (found by an audit:
    12 rows read back from 11). The row is quoted now, and the file still comes back without a change or finding."""
    leads = [lead(1, Company="mid\rline", company_description__c="\rCR start"), lead(2, Company="plain")]
    snap = write_snapshot(
        tmp_path,
        {
            "sfdc/Lead.csv": csv_text(LEAD_ALL, leads, quote_all=True),  # the carriage returns inside quotes
            "sfdc/CampaignMember.csv": csv_text(MEMBER_HEADER, [member(1, 1), member(2, 2)]),
            "sfdc/Contact.csv": csv_text(CONTACT_HEADER, [{"Id": contact_id(1), "Email": "customer@example.com"}]),
        },
    )
    out = snap / "clay" / "campaign-members.csv"
    result = CliRunner().invoke(app, ["export-members", str(snap), "--campaign", campaign_id(1), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["CampaignMemberId"] for r in rows] == [member_id(1), member_id(2)]
    assert rows[0]["Company"] == "mid\rline" and rows[0]["Company Description"] == "'\rCR start"
    plan = plan_in(snap, tmp_path / "out")
    assert plan["summary"]["inputs"]["files"][0]["staged"] == 2
    assert plan["findings"] == [] and plan["changes"] == []


def test_a_policy_column_name_that_collides_with_a_fixed_column_is_one_error(tmp_path):
    """The export's own columns (Company, IsConverted, …) and the policy's [clay.columns] names share one header:
    a policy naming a Clay column 'Company' would make a file Clay and `reconcile plan` cannot read back."""
    snap = _snapshot(tmp_path)
    pol = policy_with(tmp_path / "pol", replace={'industry = "Industry"': 'industry = "company"'})
    out = tmp_path / "members.csv"
    args = ["export-members", str(snap), "--campaign", campaign_id(1), "--out", str(out), "--policy", str(pol)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert '[clay.columns] industry = "company"' in lines[0] and "Company" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize(
    "given, code, says",
    [
        (campaign_id(1, 15), 0, "Wrote 5"),
        (campaign_id(1), 0, "Wrote 5"),
        (campaign_id(1)[:15] + campaign_id(1)[15:].lower(), 0, "Wrote 5"),  # the checksum read case-insensitively
        (campaign_id(2), 1, f"Campaign '{campaign_id(2)}' has no members"),
        ("701000000000001XYZ", 1, "not a Salesforce id"),
        ("7015g00", 1, "not a Salesforce id"),
    ],
)
def test_campaign_id_as_15_or_18_characters_and_unknown_campaigns(tmp_path, given, code, says):
    snap = _snapshot(tmp_path)
    out = tmp_path / "members.csv"
    result = CliRunner().invoke(app, ["export-members", str(snap), "--campaign", given, "--out", str(out)])
    assert result.exit_code == code, result.output
    assert says in result.output
    if code:
        assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("Error: ")
        assert not out.exists()


def test_a_campaign_of_contacts_only_is_one_error_saying_why(tmp_path):
    snap = _snapshot(tmp_path, extra_members=[{**CONTACT_MEMBER, "CampaignId": campaign_id(3)}])
    result = CliRunner().invoke(
        app, ["export-members", str(snap), "--campaign", campaign_id(3), "--out", str(tmp_path / "m.csv")]
    )
    assert result.exit_code == 1 and result.output.startswith("Error: "), result.output
    assert "1 Contact member" in result.output and not (tmp_path / "m.csv").exists()


def test_a_failed_export_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    """Atomic: written beside the target and moved into place; a failure half-way through the rows leaves the old
    file as it was and no partial file behind."""
    from reconcile import members

    snap = _snapshot(tmp_path)
    out = tmp_path / "members.csv"
    out.write_text("the previous export\n", encoding="utf-8")
    real, calls = members.cell, []

    def breaks_on_third_row(v):
        calls.append(v)
        if len(calls) > 20:
            raise OSError(28, "No space left on device")
        return real(v)

    monkeypatch.setattr(members, "cell", breaks_on_third_row)
    with pytest.raises(OSError):
        export_members(snap, campaign_id(1), out)
    assert out.read_text("utf-8") == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["members.csv", "snap"]


def test_a_large_campaign_streams_to_the_file(tmp_path):
    """100,000 members: the rows go from DuckDB to the file in batches, never all at once as Python objects."""
    n = 100_000
    header = ",".join(LEAD_ALL) + "\n"
    lead_rows = "".join(
        f"{lead_id(i)},lead{i}@example.com,Co {i},,,false,false,false,true,false,false,Open,2026-11-26T09:41:02Z,\n"
        for i in range(1, n + 1)
    )
    assert LEAD_ALL[-1] == "GBU__c" and len(LEAD_ALL) == 14
    member_rows = "".join(
        f"{member_id(i)},{campaign_id(1)},{lead_id(i)},,Sent,false,,2026-11-26T09:41:02Z\n" for i in range(1, n + 1)
    )
    snap = write_snapshot(
        tmp_path,
        {
            "sfdc/Lead.csv": header + lead_rows,
            "sfdc/CampaignMember.csv": ",".join(MEMBER_HEADER) + "\n" + member_rows,
        },
    )
    out = tmp_path / "members.csv"
    export_members(_snapshot(tmp_path, name="small"), campaign_id(1), out)  # imports done: only the export counts
    tracemalloc.start()
    try:
        staged(snap).close()  # reading the snapshot (as `plan` does) has a Python peak of its own: the baseline
        reading = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        assert export_members(snap, campaign_id(1), out).rows == n
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    size = out.stat().st_size
    assert size > 8_000_000
    assert peak < reading + size / 3, f"peak {peak:,} bytes ({reading:,} reading) for a {size:,}-byte file"
    with out.open(encoding="utf-8", newline="") as f:
        assert sum(1 for _ in csv.reader(f)) == n + 1


def test_every_csv_writer_quotes_a_field_with_a_carriage_return():
    """csvsafe.writer (audit, results, exceptions CSVs) and LineWriter (findings, Pardot pull, member export): a row
    with a lone carriage return is quoted and reads back as one row; other rows are written as before."""
    import io

    from reconcile.csvsafe import LineWriter, writer

    buf = io.StringIO()
    w = writer(buf, ["a", "b"])
    w.writeheader()
    w.writerows([{"a": "x\ry", "b": 1}, {"a": "plain", "b": None}])
    buf2 = io.StringIO()
    LineWriter(buf2).writerows([["a", "b"], ["x\ry", 1], ["plain", None]])
    for text in (buf.getvalue(), buf2.getvalue()):
        assert text.endswith("\nplain,\n") and text.startswith('a,b\n"x\ry","1"\n'), repr(text)
        assert list(csv.reader(io.StringIO(text, newline=""))) == [["a", "b"], ["x\ry", "1"], ["plain", ""]]


def test_two_clay_keys_on_one_header_are_refused_by_the_policy_for_plan_and_export(tmp_path):
    """[clay.columns] email = "hard bounced" beside hard_bounced = "Hard Bounced" (headers match case-insensitively):
    `plan` read one column as both and the member export wrote a file `plan` then refused (found by an audit). The
    policy itself is refused now, for every command, naming both keys."""
    snap = _snapshot(tmp_path)
    pol = policy_with(tmp_path / "pol", replace={'email = "Email"': 'email = "hard bounced"'})
    out = tmp_path / "members.csv"
    for args in (
        ["export-members", str(snap), "--campaign", campaign_id(1), "--out", str(out), "--policy", str(pol)],
        ["plan", str(snap), "--out", str(tmp_path / "p" / "plan.json"), "--policy", str(pol)],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
        assert '[clay.columns] email = "hard bounced": the same Clay column as hard_bounced' in lines[0], lines[0]
    assert not out.exists() and not (tmp_path / "p" / "plan.json").exists()
