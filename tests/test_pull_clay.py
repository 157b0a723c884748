"""The Clay drop folder: the newest export per table, its time as Clay's taken_at, stale tables refused or flagged."""

from __future__ import annotations

import os
import tomllib
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from conftest import policy_with

from reconcile.cli import app
from reconcile.errors import PullError
from reconcile.sources.clay_drop import pull_clay, table_and_time

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=timezone.utc)
HEADER = "CampaignMemberId,LeadId,Email,Company Description\n"


def drop(tmp_path, files: dict[str, str], mtimes: dict[str, datetime] | None = None):
    d = tmp_path / "drop"
    d.mkdir(exist_ok=True)
    for name, rows in files.items():
        (d / name).write_text(HEADER + rows, "utf-8")
    for name, at in (mtimes or {}).items():
        os.utime(d / name, (at.timestamp(), at.timestamp()))
    return d


@pytest.mark.parametrize(
    "name, table, at, origin",
    [
        ("Enrichment 2026-11-27T05-50-00.csv", "enrichment", "2026-11-27T05:50:00+00:00", "name"),
        ("enrichment_2026-11-26.csv", "enrichment", "2026-11-26T00:00:00+00:00", "name"),
        ("Enrichment-export-1795758600000.csv", "enrichment", "2026-11-27T05:50:00+00:00", "name"),
        ("Replies - Default View - 1795758600.csv", "replies", "2026-11-27T05:50:00+00:00", "name"),
        ("errors.csv", "errors", None, "mtime"),
        # words a download adds after the time, and compact times (acceptance audit: each was a table of its own)
        ("enrichment 2026-11-27T05-50-00 export.csv", "enrichment", "2026-11-27T05:50:00+00:00", "name"),
        ("Enrichment 2026-11-27 (1).csv", "enrichment", "2026-11-27T00:00:00+00:00", "name"),
        ("Enrichment 2026-11-27 Default View.csv", "enrichment", "2026-11-27T00:00:00+00:00", "name"),
        ("Enrichment_20261127.csv", "enrichment", "2026-11-27T00:00:00+00:00", "name"),
        ("Replies 20261127T055000Z.csv", "replies", "2026-11-27T05:50:00+00:00", "name"),
        ("replies-1763020112.csv", "replies", "2025-11-13T07:48:32+00:00", "name"),  # no date in its last 8 digits
        ("campaign 12345678.csv", "campaign_12345678", None, "mtime"),  # 8 digits that are no date: part of the name
    ],
)
def test_table_and_export_time_come_from_the_name(tmp_path, name, table, at, origin):
    path = tmp_path / name
    path.write_text(HEADER)
    got = table_and_time(path)
    assert got[0] == table and got[2] == origin
    if at:
        assert got[1] == datetime.fromisoformat(at)


def test_newest_export_per_table_is_taken_and_the_oldest_sets_taken_at(tmp_path):
    d = drop(
        tmp_path,
        {
            "Enrichment 2026-11-26T05-00-00.csv": "old\n",
            "Enrichment 2026-11-27T05-00-00.csv": ",,a@x.io,new\n",
            "replies.csv": ",,b@x.io,\n,,c@x.io,\n",
        },
        mtimes={"replies.csv": datetime(2026, 11, 27, 4, 30, tzinfo=timezone.utc)},
    )
    r = pull_clay(tmp_path / "snap", clay_dir=d, now=NOW)
    assert r.files == ["clay/enrichment.csv", "clay/replies.csv"] and r.records == 3
    assert (tmp_path / "snap" / "clay" / "enrichment.csv").read_text().endswith(",,a@x.io,new\n")
    assert r.taken_at == "2026-11-27T04:30:00Z" and not any(n.startswith("STALE") for n in r.notes)


def test_the_error_log_does_not_set_claystaken_at(tmp_path):
    """The connector's error log saved at 00:00 is no table of values: taken_at is the tables' 05:00."""
    d = drop(
        tmp_path,
        {
            "Enrichment 2026-11-27T05-00-00.csv": ",,a@x.io,new\n",
            "errors 2026-11-27.csv": "time,object,record id,field,message\n",
        },
    )
    r = pull_clay(tmp_path / "snap", clay_dir=d, now=NOW)
    assert "clay/errors.csv" in r.files and r.taken_at == "2026-11-27T05:00:00Z"


def test_stale_table_is_flagged_by_default_and_refused_when_the_policy_says_error(tmp_path):
    d = drop(tmp_path, {"enrichment_2026-11-25.csv": ",,a@x.io,x\n", "replies 2026-11-27T05-00-00.csv": ""})
    r = pull_clay(tmp_path / "snap", clay_dir=d, now=NOW)
    assert [n for n in r.notes if n.startswith("STALE")] == [
        "STALE: 'enrichment_2026-11-25.csv' was exported 54.0 h ago (max_age_hours 24)"
    ]
    assert r.taken_at == "2026-11-25T00:00:00Z"
    strict = policy_with(
        tmp_path / "pol",
        replace={
            '[sources.clay]\nrequired = false\nmax_age_hours = 24\non_problem = "warn"': (
                '[sources.clay]\nrequired = false\nmax_age_hours = 24\non_problem = "error"'
            )
        },
    )
    with pytest.raises(PullError, match=r"'enrichment_2026-11-25.csv' was exported 54.0 h ago.*Export the table"):
        pull_clay(tmp_path / "snap2", clay_dir=d, policy=strict, now=NOW)
    assert not (tmp_path / "snap2").exists()


def test_cli_pulls_clay_into_the_manifest(tmp_path):
    d = drop(tmp_path, {"Enrichment 2026-11-27T05-00-00.csv": ",,a@x.io,x\n"})
    r = CliRunner().invoke(app, ["pull", "--out", str(tmp_path / "snap"), "--sources", "clay", "--clay-dir", str(d)])
    assert r.exit_code == 0, r.stderr
    assert "Pulled clay: 1 files, 1 records, taken_at 2026-11-27T05:00:00Z (0 API requests)" in r.stdout
    manifest = tomllib.loads((tmp_path / "snap" / "manifest.toml").read_text())
    assert manifest["taken_at"]["clay"] == "2026-11-27T05:00:00Z"
    assert manifest["pulled"]["clay"]["tables"] == {"enrichment": "2026-11-27T05:00:00Z"}


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], "Error: No Clay drop folder: give --clay-dir DIR or set RECONCILE_CLAY_DIR"),
        (["--clay-dir", "nowhere"], "Error: Clay drop folder 'nowhere' does not exist"),
        (["--clay-dir", __file__], f"Error: Clay drop folder '{__file__}' is a file, not a folder"),
    ],
)
def test_missing_drop_folder_is_one_error_line(tmp_path, args, expected):
    r = CliRunner().invoke(
        app, ["pull", "--out", str(tmp_path / "s"), "--sources", "clay", *args], env={"RECONCILE_CLAY_DIR": ""}
    )
    assert r.exit_code == 1 and r.stderr.startswith(expected) and r.stderr.count("\n") == 1, r.stderr
