"""Files of one source and one shape (a Smartlead export per campaign) are read in one scan (snapshots.read_group):
every row keeps its own file's record number and its file's campaign, exactly as when each file is read alone; a
damaged file in the middle of a run is named (strict) or salvaged (lenient) as it always was."""

from __future__ import annotations

import duckdb
import pytest
from conftest import SMARTLEAD_HEADER, csv_text, write_snapshot

from reconcile.build import _formula_path
from reconcile.ingest import damaged
from reconcile.ingest import snapshots as sn
from reconcile.ingest.contract import sources
from reconcile.policy import load_policy
from reconcile.sql import connect, load_macros

# rows per campaign file: empty, one row, and files large enough that DuckDB reads them in parallel buffers
SIZES = [3000, 0, 1, 25000, 7, 12000, 40000, 2]


def sl_rows(f: int, n: int) -> list[dict]:
    """Rows whose Smartlead lead id says which file and which record they are (f, row)."""
    return [
        {
            "id": f"{f}{r:07d}",
            "campaign_lead_map_id": f"{f}{r:07d}",
            "status": "COMPLETED",
            "email": f"p{f}.{r}@example.com",
            "reply_count": str(r % 3),
            "custom_fields": "{}",
        }
        for r in range(1, n + 1)
    ]


def campaign_files(sizes=SIZES, header=SMARTLEAD_HEADER, **kw) -> dict[str, str]:
    return {f"smartlead/campaign-{100 + f}.csv": csv_text(header, sl_rows(f, n), **kw) for f, n in enumerate(sizes)}


def as_parquet(tmp_path, files: dict[str, str]) -> dict[str, bytes]:
    """The same files as Parquet (reply_count an integer column, as a typed export writes it)."""
    out = {}
    con = duckdb.connect()
    for rel, text in files.items():
        src, dst = tmp_path / "src.csv", tmp_path / "dst.parquet"
        src.write_text(text)
        con.execute(
            f"copy (select * replace (cast(reply_count as bigint) as reply_count) from read_csv('{src}', "
            f"all_varchar=true, header=true)) to '{dst}' (format parquet)"
        )
        out[rel.replace(".csv", ".parquet")] = dst.read_bytes()
    return out


def raw_connection(path, threads=4):
    """A connection as build_plan reads with (its macros loaded), with `threads` DuckDB threads."""
    con = connect(path)
    con.execute(f"set threads = {threads}")
    load_macros(con, _formula_path(load_policy(None)))
    return con


def ingested(snap, lenient=False, threads=4, progress=None, name="raw.duckdb"):
    """The raw tables of a snapshot (snapshots.ingest without staging) and the Snapshot it gives."""
    con = raw_connection(snap.parent / name, threads)
    return con, sn.ingest(con, snap, load_policy(None).clay_columns, lenient=lenient, progress=progress)


def raw_rows(con) -> list[tuple]:
    return con.execute(
        "select _file, _row, _campaign, sl_lead_id, email, reply_count, reply_count__int from raw_smartlead__leads "
        "order by _file, _row"
    ).fetchall()


def expected_rows(sizes=SIZES, fmt="csv") -> list[tuple]:
    return sorted(
        (
            f"smartlead/campaign-{100 + f}.{fmt}",
            r,
            str(100 + f),
            f"{f}{r:07d}",
            f"p{f}.{r}@example.com",
            str(r % 3),
            r % 3,
        )
        for f, n in enumerate(sizes)
        for r in range(1, n + 1)
    )


def table_type(con, name: str) -> str:
    return con.execute("select table_type from information_schema.tables where table_name = ?", [name]).fetchone()[0]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_campaign_files_are_read_in_one_scan_and_keep_their_own_row_numbers(tmp_path, fmt):
    files = campaign_files() if fmt == "csv" else as_parquet(tmp_path, campaign_files())
    con, snap = ingested(write_snapshot(tmp_path, files))
    # one table (a single read renamed), not a view over one table per file
    assert table_type(con, "raw_smartlead__leads") == "LOCAL TEMPORARY"
    assert raw_rows(con) == expected_rows(fmt=fmt)
    records = {f.path: f.records for f in snap.files if f.source == "smartlead__leads"}
    assert records == {f"smartlead/campaign-{100 + f}.{fmt}": n for f, n in enumerate(SIZES)}
    assert {f.path: f.columns for f in snap.files if f.source == "smartlead__leads"} == dict.fromkeys(
        records, frozenset({"sl_lead_id", "map_id", "status", "category", "email", "reply_count", "custom_fields"})
    )
    # the table is in file order, then row order: the staging CREATE relies on it to write full row groups
    ordered = con.execute("select _file, _row from raw_smartlead__leads order by rowid").fetchall()
    assert ordered == sorted(ordered, key=lambda r: r)


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_a_group_read_gives_the_rows_each_file_read_alone_gives(tmp_path, threads):
    snap = write_snapshot(tmp_path, campaign_files())
    con, _ = ingested(snap, threads=threads)
    grouped = con.execute("select * from raw_smartlead__leads order by _file, _row").fetchall()
    s = next(x for x in sources(load_policy(None).clay_columns) if x.name == "smartlead__leads")
    alone = []
    for i, path in enumerate(sorted((snap / "smartlead").glob("*.csv"))):
        rel = path.relative_to(snap).as_posix()
        read = sn.prepare_read(con, s, path, rel, damaged.inspect_head(path, rel), False)
        sn.read_alone(con, s, read, False, f"alone_{i}")
        alone += con.execute(f"select * from alone_{i}").fetchall()
    assert grouped == sorted(alone, key=lambda r: (r[0], r[1]))


def test_files_of_another_shape_start_a_run_of_their_own(tmp_path):
    """A different header order, delimiter, byte order mark or line ending: each run of one shape is one read."""
    files = campaign_files([5, 6])
    files["smartlead/campaign-102.csv"] = csv_text(list(reversed(SMARTLEAD_HEADER)), sl_rows(2, 4))
    files["smartlead/campaign-103.csv"] = csv_text(SMARTLEAD_HEADER, sl_rows(3, 3), delimiter=";")
    files["smartlead/campaign-104.csv"] = "\ufeff" + csv_text(SMARTLEAD_HEADER, sl_rows(4, 2))
    files["smartlead/campaign-105.csv"] = csv_text(SMARTLEAD_HEADER, sl_rows(5, 3)).replace("\n", "\r\n").encode()
    files["smartlead/campaign-106.csv"] = csv_text(SMARTLEAD_HEADER, sl_rows(6, 2)).replace("\n", "\r\n").encode()
    snap = write_snapshot(tmp_path, files)
    con, _ = ingested(snap)
    s = next(x for x in sources(load_policy(None).clay_columns) if x.name == "smartlead__leads")
    reads = []
    for path in sorted((snap / "smartlead").glob("*.csv")):
        rel = path.relative_to(snap).as_posix()
        reads.append(sn.prepare_read(con, s, path, rel, damaged.inspect_head(path, rel), False))
    assert [[r.rel[-7:-4] for r in g] for g in sn.groups(reads)] == [
        ["100", "101"],
        ["102"],
        ["103"],
        ["104"],
        ["105", "106"],
    ]
    assert table_type(con, "raw_smartlead__leads") == "VIEW"
    assert raw_rows(con) == expected_rows([5, 6, 4, 3, 2, 3, 2])


def test_rows_are_numbered_alone_when_a_group_read_is_not_in_file_order(tmp_path, monkeypatch):
    """The check before numbering: files whose rows do not follow one another are read again, one by one."""
    seen = []

    def out_of_order(con, table, files):
        seen.append(files)
        raise sn.GroupOrderError("injected")

    monkeypatch.setattr(sn, "number_group_rows", out_of_order)
    con, snap = ingested(write_snapshot(tmp_path, campaign_files()))
    assert seen == [len(SIZES)]
    assert table_type(con, "raw_smartlead__leads") == "VIEW"
    assert raw_rows(con) == expected_rows()
    assert {f.path: f.records for f in snap.files if f.source == "smartlead__leads"} == {
        f"smartlead/campaign-{100 + f}.csv": n for f, n in enumerate(SIZES)
    }


def test_the_check_finds_files_whose_rows_are_interleaved(tmp_path):
    con = duckdb.connect()
    con.execute("create table t as select * from (values ('a', 0), ('a', 0), ('b', 1), ('a', 0)) v(_file, _row)")
    with pytest.raises(sn.GroupOrderError, match="file 0: rowids 0..3 \\(3 rows\\)"):
        sn.number_group_rows(con, "t", 2)
    con.execute("create table u as select * from (values ('b', 1), ('a', 0)) v(_file, _row)")
    with pytest.raises(sn.GroupOrderError, match="file 0: rowids 1..1 \\(1 rows\\), expected to start at 0"):
        sn.number_group_rows(con, "u", 2)
    con.execute("create table w as select * from (values ('a', 0), ('a', 0), ('c', 2)) v(_file, _row)")
    assert sn.number_group_rows(con, "w", 3) == [2, 0, 1]
    assert con.execute("select _row from w order by rowid").fetchall() == [(1,), (2,), (1,)]


def test_a_damaged_file_inside_a_run_is_named_as_when_read_alone(tmp_path, run_cli):
    files = campaign_files([20, 30, 40])
    bad = files["smartlead/campaign-101.csv"].encode()
    at = bad.index(b"p1.17@")
    files["smartlead/campaign-101.csv"] = bad[:at] + b"\xe9" + bad[at + 1 :]
    snap = write_snapshot(tmp_path, files)
    result = run_cli("plan", snap, "--out", tmp_path / "out" / "plan.json")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: Snapshot 'smartlead/campaign-101.csv' is not UTF-8 (byte 0xE9 at offset {at}, line 18). Save or "
        "export it again as UTF-8 (Excel: 'CSV UTF-8')."
    )
    assert not (tmp_path / "out" / "plan.json").exists()


def test_lenient_salvages_a_ragged_file_inside_a_run_and_reads_the_others(tmp_path):
    files = campaign_files([20, 30, 40])
    lines = files["smartlead/campaign-101.csv"].splitlines()
    files["smartlead/campaign-101.csv"] = "\n".join([*lines[:6], "1999,short,row", *lines[6:]]) + "\n"
    con, snap = ingested(write_snapshot(tmp_path, files), lenient=True)
    assert con.execute("select file, row from rejects").fetchall() == [("smartlead/campaign-101.csv", 6)]
    got = raw_rows(con)
    assert [r[1] for r in got if r[0].endswith("101.csv")] == [*range(1, 6), *range(7, 32)]
    assert [r for r in got if not r[0].endswith("101.csv")] == [
        r for r in expected_rows([20, 30, 40]) if not r[0].endswith("101.csv")
    ]
    assert {f.path: f.records for f in snap.files if f.source == "smartlead__leads"} == {
        "smartlead/campaign-100.csv": 20,
        "smartlead/campaign-101.csv": 31,
        "smartlead/campaign-102.csv": 40,
    }


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_run_may_begin_and_end_with_files_of_no_rows(tmp_path, fmt):
    sizes = [0, 4, 0, 3, 0]
    files = campaign_files(sizes) if fmt == "csv" else as_parquet(tmp_path, campaign_files(sizes))
    con, snap = ingested(write_snapshot(tmp_path, files))
    assert table_type(con, "raw_smartlead__leads") == "LOCAL TEMPORARY"
    assert raw_rows(con) == expected_rows(sizes, fmt=fmt)
    assert [f.records for f in snap.files if f.source == "smartlead__leads"] == sizes


def test_progress_names_the_scan_and_counts_its_files(tmp_path, capsys, monkeypatch):
    """One progress line for a run of files read in one scan; a counting bar (console.Steps) still counts every file,
    so `N/total` reaches the files the build announced."""
    from reconcile.console import Steps

    snap = write_snapshot(tmp_path, campaign_files([3, 0, 2]))
    steps = []
    files = ingested(snap, progress=steps.append)[1].files
    scan = "reading 3 files in one scan (smartlead/campaign-100.csv … smartlead/campaign-102.csv)"
    assert steps.count(scan) == 1 and "reading sfdc/Lead.csv" in steps
    assert len(steps) == len(files) - 2
    monkeypatch.setenv("RECONCILE_PROGRESS_EVERY", "0")
    bar = Steps("Planning", tty=False)
    bar.expect(len(files))
    ingested(snap, progress=bar, name="again.duckdb")
    lines = capsys.readouterr().err.splitlines()
    assert bar.done == len(files)
    assert [ln.split("] ", 1)[1] for ln in lines if scan in ln] == [f"{steps.index(scan) + 1}/{len(files)} {scan}"]
