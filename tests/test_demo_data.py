"""The demo snapshot generator: layout, determinism, ids, quirks, formats and scaling."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from reconcile.demo_data import generate_snapshot, sf_id18

LAYOUT = [
    "manifest.toml",
    "sfdc/Lead.csv",
    "sfdc/CampaignMember.csv",
    "sfdc/Contact.csv",
    "sfdc/Campaign.csv",
    "clay/enrichment.csv",
    "clay/replies.csv",
    "clay/errors.csv",
    "pardot/prospects.csv",
    "smartlead/events.jsonl",
]


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def read_csv(path: Path) -> pl.DataFrame:
    return duckdb.sql("select * from read_csv($p, all_varchar = true, header = true)", params={"p": str(path)}).pl()


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("demo") / "snap"
    return root, generate_snapshot(root, leads=300, seed=7)


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("plain") / "snap"
    return root, generate_snapshot(root, leads=300, seed=7, quirks=False)


def test_same_arguments_give_byte_identical_files(snapshot, tmp_path):
    root, _ = snapshot
    generate_snapshot(tmp_path / "again", leads=300, seed=7)
    assert digest(tmp_path / "again") == digest(root)


def test_another_seed_changes_the_filler_but_not_the_scenario_ids(snapshot, tmp_path):
    root, info = snapshot
    other = generate_snapshot(tmp_path / "other", leads=300, seed=8)
    assert digest(tmp_path / "other") != digest(root)
    assert {k: v["records"] for k, v in other["scenarios"].items()} == {
        k: v["records"] for k, v in info["scenarios"].items()
    }


def test_every_file_of_the_layout_exists_and_parses(snapshot):
    root, info = snapshot
    for rel in LAYOUT:
        assert (root / rel).is_file(), rel
    smartlead = sorted((root / "smartlead").glob("campaign-*.csv"))
    assert len(smartlead) == 20
    for path in [root / rel for rel in LAYOUT if rel.endswith(".csv")] + smartlead:
        assert read_csv(path).height == info["files"][str(path.relative_to(root))] > 0
    events = duckdb.sql(
        "select event_type from read_json($p, format = 'newline_delimited')",
        params={"p": str(root / "smartlead/events.jsonl")},
    ).pl()
    assert {"EMAIL_BOUNCE", "EMAIL_BOUNCED", "EMAIL_REPLY", "EMAIL_REPLIED", "LEAD_CATEGORY_UPDATED"} <= set(
        events["event_type"]
    )


def test_manifest_names_the_org_and_each_source_time(snapshot):
    import tomllib

    manifest = tomllib.loads((snapshot[0] / "manifest.toml").read_text())
    assert manifest["org_id"].startswith("00D") and sf_id18(manifest["org_id"]) == manifest["org_id"]
    assert set(manifest["taken_at"]) == {"sfdc", "clay", "smartlead", "pardot"}
    assert manifest["taken_at"]["sfdc"] == "2026-11-27T06:00:00Z"


def test_salesforce_ids_carry_valid_checksums_and_prefixes(snapshot):
    root, _ = snapshot
    leads = read_csv(root / "sfdc/Lead.csv")["ID"].to_list()
    members = read_csv(root / "sfdc/CampaignMember.csv")
    for ids, prefix in (
        (leads, "00Q"),
        (members["Id"].to_list(), "00v"),
        (members["CampaignId"].to_list(), "701"),
        (read_csv(root / "sfdc/Contact.csv")["Id"].to_list(), "003"),
    ):
        assert all(len(i) == 18 and i.startswith(prefix) and sf_id18(i) == i for i in ids)
    assert len(set(leads)) == len(leads)
    assert any(c.isupper() for i in leads for c in i[3:15]) and any(c.islower() for i in leads for c in i[3:15])


def test_clay_lead_ids_resolve_to_leads_in_15_or_18_characters(snapshot):
    root, _ = snapshot
    leads = set(read_csv(root / "sfdc/Lead.csv")["ID"])
    refs = [i for i in read_csv(root / "clay/replies.csv")["LeadId"].to_list() if i]
    assert {len(i) for i in refs} == {15, 18}
    assert all(sf_id18(i) in leads for i in refs)  # (the deleted-lead row lives in enrichment.csv)


def test_quirks_are_present(snapshot):
    root, _ = snapshot
    assert (root / "clay/enrichment.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert (root / "pardot/prospects.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert (root / "sfdc/CampaignMember.csv").read_text().splitlines()[0].startswith("Id;CampaignId;LeadId")
    assert (root / "sfdc/Lead.csv").read_text().splitlines()[0].startswith('"ID","EMAIL","COMPANY"')
    smartlead = (root / "smartlead" / "campaign-9181.csv").read_text()
    assert smartlead.startswith('"id","campaign_lead_map_id","status","category"') and '""sfdc_lead_id""' in smartlead
    bounced = set(read_csv(root / "clay/replies.csv")["Hard Bounced"].fill_null(""))
    assert len(bounced - {""}) >= 3  # e.g. true / TRUE / yes / no / false
    assert "<script>alert(1)</script>" in (root / "clay/enrichment.csv").read_text()


def test_quirks_off_gives_plain_files(plain):
    root, info = plain
    for rel in LAYOUT[1:-1]:
        data = (root / rel).read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf"), rel
        header = data.decode().splitlines()[0]
        assert ";" not in header and header == header.replace('"', ""), rel
    assert read_csv(root / "sfdc/Lead.csv").columns[:3] == ["Id", "Email", "Company"]
    assert set(read_csv(root / "clay/replies.csv")["Hard Bounced"].drop_nulls()) <= {"true", "false"}
    assert all(len(i) == 18 for i in read_csv(root / "clay/replies.csv")["LeadId"].drop_nulls())
    assert info["scenario_leads"] > 30 and info["files"]["sfdc/Lead.csv"] == 300


def test_parquet_mode_writes_every_tabular_file_as_parquet(tmp_path):
    info = generate_snapshot(tmp_path / "pq", leads=120, seed=3, formats="parquet")
    tabular = [rel for rel in info["files"] if rel not in ("manifest.toml", "smartlead/events.jsonl")]
    assert tabular and all(rel.endswith(".parquet") for rel in tabular)
    assert not list((tmp_path / "pq").rglob("*.csv"))
    lead = pl.read_parquet(tmp_path / "pq/sfdc/Lead.parquet")
    assert lead.height == 120 and lead.columns[0] == "Id"
    generate_snapshot(tmp_path / "pq2", leads=120, seed=3, formats="parquet")
    assert digest(tmp_path / "pq2") == digest(tmp_path / "pq")


def test_scenario_catalogue_names_existing_records(snapshot):
    root, info = snapshot
    ids = set(read_csv(root / "sfdc/Lead.csv")["ID"]) | set(read_csv(root / "sfdc/CampaignMember.csv")["Id"])
    assert len(info["scenarios"]) >= 35
    for name, scenario in info["scenarios"].items():
        assert scenario["expect"] and scenario["covers"], name
        assert set(scenario["records"]) <= ids, name


def test_row_counts_scale_with_leads(tmp_path):
    small = generate_snapshot(tmp_path / "s", leads=500, seed=1)["files"]
    large = generate_snapshot(tmp_path / "l", leads=5000, seed=1)["files"]
    assert large["sfdc/Lead.csv"] == 5000
    for rel in ("sfdc/CampaignMember.csv", "clay/replies.csv", "pardot/prospects.csv", "smartlead/events.jsonl"):
        assert large[rel] > 5 * small[rel], rel
    ratio = large["sfdc/CampaignMember.csv"] / large["sfdc/Lead.csv"]
    assert 1.3 < ratio < 1.7


def test_fewer_leads_than_scenarios_still_writes_every_scenario(tmp_path):
    root = tmp_path / "tiny"
    info = generate_snapshot(root, leads=0, seed=1)
    assert info["filler_leads"] == 0 and info["files"]["sfdc/Lead.csv"] == info["scenario_leads"]
    ids = set(read_csv(root / "sfdc/Lead.csv")["ID"]) | set(read_csv(root / "sfdc/CampaignMember.csv")["Id"])
    assert len(info["scenarios"]) >= 35
    assert {
        name: sorted(set(s["records"]) - ids) for name, s in info["scenarios"].items() if set(s["records"]) - ids
    } == {}
    json.dumps(info)  # the info dict is plain JSON
