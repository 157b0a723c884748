"""The plan on disk, format `reconcile.plan/2`: a small JSON manifest beside columnar data files.

    plan.json                 manifest: format, plan_id, created_at, snapshot, policy, summary, gates, files
    plan.data/changes.parquet      one row per change (object, record_id, field, before, after, …, evidence)
    plan.data/findings.parquet     one row per finding
    plan.data/rejects.parquet      one row per rejected input row

The data folder is always `<plan stem>.data/` beside the manifest (move or copy both: copy_plan). Each entry
of the manifest's `files` names its file in that folder, its row count and `sha256`, the sha256 of the file's
bytes: DuckDB writes the rows sorted in the plan's canonical order, and the same rows give the same bytes at any
thread count (with the same DuckDB), so the hash of the bytes is the hash of the canonical content; load_plan
checks it, and the changes file's is the build record's change-set hash (provenance.py). plan_id is the sha256 of
the canonical manifest without plan_id and created_at (plan.compute_plan_id), which holds those hashes: it binds
every row of every file, and no Python object is built per change to compute it.

Plans written before this layout also carry `bytes_sha256` (the bytes) beside a `sha256` that hashed each row's
JSON line again — 2.1 s of a 1.58M-change plan for a second hash of the same file. They are read as they are:
their bytes are checked against `bytes_sha256`, and their `sha256` stays their recorded change-set hash.

Readers never load a whole /2 plan into Python: `connect(plan)` gives a DuckDB connection with the views
`changes`, `findings`, `rejects` (over the Parquet files; for a /1 plan, over its lists), and the functions
below query it. `plan["changes"]` still works (loaded on first use) for small plans, tests and notebooks.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from .errors import PlanError
from .files import write_atomic
from .sql import stored_order

PARTS = ("changes", "findings", "rejects")
CHANGE_COLUMNS = (
    "object",
    "record_id",
    "field",
    "before",
    "after",
    "rule",
    "status",
    "reason",
    "reasons",
    "evidence",
    "campaign_id",
    "gbu",
)
FINDING_COLUMNS = ("kind", "object", "record_id", "route", "detail", "at", "evidence")
REJECT_COLUMNS = ("file", "row", "column", "value", "expected", "message")
# the plan's canonical order of each part (a part whose key can tie ends with the row's JSON line, so it is total)
ORDER = {
    "changes": "object, record_id, field",
    "findings": "kind, object, record_id nulls first, detail, evidence[1].file, evidence[1].row, line",
    "rejects": 'file, "row", "column", line',
}
# the table each part is copied from, when that table may be stored in the part's order (reconcile.sql STORED_ORDER:
# then copied as stored, not sorted again)
TABLES = {"changes": "plan_changes"}
# what each part is built from in the build's DuckDB file (same columns, same types as the Parquet files)
SOURCES = {
    "changes": "select " + ", ".join(f'"{c}"' for c in CHANGE_COLUMNS) + " from plan_changes",
    "findings": "select " + ", ".join(f'"{c}"' for c in FINDING_COLUMNS) + " from plan_findings",
    "rejects": 'select file, "row", col as "column", value, expected, message from rejects',
}
EVIDENCE = pa.list_(
    pa.struct(
        [
            ("source", pa.string()),
            ("file", pa.string()),
            ("row", pa.int64()),
            ("column", pa.string()),
            ("value", pa.string()),
            ("at", pa.string()),
        ]
    )
)
SCHEMAS = {
    "changes": pa.schema(
        [
            ("object", pa.string()),
            ("record_id", pa.string()),
            ("field", pa.string()),
            ("before", pa.string()),
            ("after", pa.string()),
            ("rule", pa.string()),
            ("status", pa.string()),
            ("reason", pa.string()),
            ("reasons", pa.list_(pa.string())),
            ("evidence", EVIDENCE),
            ("campaign_id", pa.string()),
            ("gbu", pa.string()),
        ]
    ),
    "findings": pa.schema(
        [
            ("kind", pa.string()),
            ("object", pa.string()),
            ("record_id", pa.string()),
            ("route", pa.string()),
            ("detail", pa.string()),
            ("at", pa.string()),
            ("evidence", EVIDENCE),
        ]
    ),
    "rejects": pa.schema(
        [
            ("file", pa.string()),
            ("row", pa.int64()),
            ("column", pa.string()),
            ("value", pa.string()),
            ("expected", pa.string()),
            ("message", pa.string()),
        ]
    ),
}


def _columns(part: str) -> tuple[str, ...]:
    return {"changes": CHANGE_COLUMNS, "findings": FINDING_COLUMNS, "rejects": REJECT_COLUMNS}[part]


def _line_sql(part: str) -> str:
    """One row as one compact JSON line, the last key of its order (ORDER): the row's to_json as a struct
    (before/after are JSON values, not strings), written as each column's to_json between the struct's literal
    keys, which is the same bytes (test_plan_format checks it on edge values) for less CPU."""
    pieces = []
    for i, c in enumerate(_columns(part)):
        value = f'"{c}"::json' if part == "changes" and c in ("before", "after") else f'"{c}"'
        pieces += [f"'{'{' if i == 0 else ','}\"{c}\":'", f"coalesce(to_json({value})::varchar, 'null')"]
    pieces.append("'}'")
    return f"concat({', '.join(pieces)})"


def _tied(part: str) -> bool:
    """Whether the part's order ends with its rows' JSON line (its other keys can tie)."""
    return ORDER[part].endswith(", line")


def data_dir(plan_path: str | Path) -> Path:
    p = Path(plan_path)
    return p.with_name(p.stem + ".data")


# ------------------------------------------------------------------------------------------ writing the files


def write_parts(con, plan_path: Path, folder: Path | None = None, timed: list | None = None) -> dict:
    """The plan tables of a build → Parquet files in canonical order, with their row counts and hashes (`files`).
    Written into `folder` (default: the plan's data folder); the manifest names them in the data folder.
    `timed` (the benchmark's profile) receives (what, seconds) per file written and hashed."""
    folder = folder or data_dir(plan_path)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for part in PARTS:
        target = folder / f"{part}.parquet"
        tmp = folder / f".{part}.parquet.tmp"
        rows = f"(select {_line_sql(part)} as line, * from ({SOURCES[part]}))" if _tied(part) else f"({SOURCES[part]})"
        stored = part in TABLES and stored_order(con, TABLES[part]) == ORDER[part]
        order = "" if stored else f" order by {ORDER[part]}"
        t0 = time.perf_counter()
        (written,) = con.execute(
            f"copy (select {', '.join(_quoted(part))} from {rows}{order}) to '{_sql_path(tmp)}' "
            "(format parquet, compression zstd)"
        ).fetchone()
        tmp.replace(target)
        t1 = time.perf_counter()
        files[part] = {"file": f"{part}.parquet", "rows": int(written), "sha256": _file_hash(target)}
        if timed is not None:
            timed += [
                (f"write: plan {part} (Parquet, DuckDB)", t1 - t0),
                (f"assemble: {part} hash (sha256 of the file)", time.perf_counter() - t1),
            ]
    return files


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _quoted(part: str) -> list[str]:
    return [f'"{c}"' for c in _columns(part)]


def _sql_path(p: Path) -> str:
    return str(p).replace("'", "''")  # a path of our own making, quoted for COPY (which cannot bind it)


def part_path(plan: dict, part: str) -> Path:
    """A data file: always in the plan's own data folder (`<plan stem>.data/`), so a plan is renamed or copied
    with its folder (copy_plan)."""
    files = plan.get("files") if isinstance(plan.get("files"), dict) else {}
    entry = files.get(part) if isinstance(files.get(part), dict) else {}
    return data_dir(plan.path) / Path(str(entry.get("file") or f"{part}.parquet")).name


def verify(plan) -> None:
    """Refuse a /2 plan whose data files are not the ones its manifest (and so plan_id) binds: the sha256 of each
    file's bytes (`bytes_sha256` in a manifest of the earlier layout, see above)."""
    for part in PARTS:
        entry = plan["files"].get(part) if isinstance(plan.get("files"), dict) else None
        path = part_path(plan, part) if entry else None
        if path is None or not path.exists():
            raise PlanError(
                f"Plan '{plan.path}' is missing its {part} file "
                f"'{data_dir(plan.path).name}/{(entry or {}).get('file', part + '.parquet')}'. "
                "Keep the plan's .data folder beside it, or rebuild it with `reconcile plan`."
            )
        if _file_hash(path) != entry.get("bytes_sha256", entry.get("sha256")):
            raise PlanError(
                f"Plan '{plan.path}' was edited after it was built: '{path.parent.name}/{path.name}' "
                f"no longer matches the manifest (plan_id '{plan.get('plan_id')}'). Rebuild the plan "
                "with `reconcile plan` and approve it again."
            )


# ------------------------------------------------------------------------------------------ querying a plan


def connect(plan) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with views `changes`, `findings`, `rejects` over the plan (cached on the plan)."""
    columnar = plan.get("format") == "reconcile.plan/2" and isinstance(plan.get("files"), dict)
    if columnar and hasattr(plan, "_stamp"):
        _check_unchanged(plan)
    con = getattr(plan, "_con", None)
    if con is not None:
        return con
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    if columnar:
        for part in PARTS:
            con.execute(f"create view {part} as select * from read_parquet('{_sql_path(part_path(plan, part))}')")
    else:
        for part in PARTS:
            con.register(f"_{part}", _arrow(part, dict.get(plan, part) or []))
            cast = "* replace (before::json as before, after::json as after)" if part == "changes" else "*"
            con.execute(f"create view {part} as select {cast} from _{part}")
    if hasattr(plan, "_con"):
        plan._con = con
    return con


def _stamps(plan) -> tuple:
    out = []
    for part in PARTS:
        try:
            st = part_path(plan, part).stat()
        except OSError:
            out.append(None)
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def stamp(plan) -> None:
    """Remember which data files this plan object reads (checked before every query)."""
    plan._stamp = _stamps(plan)


def _check_unchanged(plan) -> None:
    """The data files a plan object reads are the ones it was opened with (a rebuild replaces them)."""
    now = _stamps(plan)
    if plan._stamp is None:
        plan._stamp = now
    elif now != plan._stamp:
        raise PlanError(
            f"Plan '{plan.path}' was replaced on disk since it was opened (its .data files changed). "
            "Load the plan again."
        )


def _arrow(part: str, rows: list[dict]) -> pa.Table:
    """A /1 plan's list (or a list to be saved) as an Arrow table of the part's schema."""

    def cell(row, c):
        v = row.get(c)
        if part == "changes" and c in ("before", "after"):
            return None if v is None else json.dumps(v, ensure_ascii=False, separators=(",", ":"))
        if c == "evidence":
            return [
                {
                    **e,
                    "value": e.get("value")
                    if e.get("value") is None or isinstance(e.get("value"), str)
                    else json.dumps(e.get("value")),
                }
                for e in (v or [])
            ]
        return v

    cols = _columns(part)
    return pa.Table.from_pylist([{c: cell(r, c) for c in cols} for r in rows], schema=SCHEMAS[part])


def order_of(part: str) -> str:
    return ORDER[part].replace(", line", "")


def rows(
    plan,
    part: str,
    where: str = "true",
    params=None,
    columns: tuple[str, ...] | None = None,
    limit: int | None = None,
    qualify: str | None = None,
) -> list[dict]:
    """Rows of one part as plan dicts (before/after decoded), in the plan's canonical order."""
    cols = columns or _columns(part)
    if qualify and part == "changes":  # pick the keys on narrow columns first: a window over whole rows (with
        # their evidence) costs several times more at a million changes
        where = (
            f"({where}) and (object, record_id, field) in (select object, record_id, field from changes "
            f"where {where} qualify {qualify})"
        )
        qualify, params = None, [*(params or []), *(params or [])]
    sql = (
        f"select {', '.join(f'{chr(34)}{c}{chr(34)}' for c in cols)} from {part} where {where} "
        + (f"qualify {qualify} " if qualify else "")
        + f"order by {order_of(part)}"
        + (f" limit {int(limit)}" if limit is not None else "")
    )
    out = []
    for r in connect(plan).execute(sql, params or []).fetchall():
        d = dict(zip(cols, r))
        for c in ("before", "after"):
            if c in d and part == "changes":
                d[c] = None if d[c] is None else json.loads(d[c])
        out.append(d)
    return out


def scalar(plan, sql: str, params=None):
    return connect(plan).execute(sql, params or []).fetchone()[0]


def pairs(plan, sql: str, params=None) -> list[tuple]:
    return connect(plan).execute(sql, params or []).fetchall()


# ------------------------------------------------------------------------------------------ writing from lists


def save(plan: dict, plan_path: str | Path, rehash: bool = True) -> dict:
    """Write a plan held as lists (or a loaded /2 plan after an edit) as /2: data files + manifest; returns the
    manifest. With rehash, plan_id is recomputed over the new content (a hand edit is then only caught by
    provenance, as with /1); without, the old plan_id stays (and load_plan refuses the plan)."""
    from . import plan as planmod

    path = Path(plan_path)
    con = duckdb.connect()
    try:
        lists = {table: plan.get(table) or [] for table in PARTS}  # read before the files are rewritten
        for part, table in (("plan_changes", "changes"), ("plan_findings", "findings"), ("rejects", "rejects")):
            arrow = _arrow(table, lists[table])
            if table == "rejects":
                arrow = arrow.rename_columns(["file", "row", "col", "value", "expected", "message"])
            con.register(f"_{part}", arrow)
            cast = ", ".join(f'"{c}"::json as "{c}"' for c in ("before", "after"))
            con.execute(
                f"create table {part} as select * replace ({cast}) from _{part}"
                if table == "changes"
                else f"create table {part} as select * from _{part}"
            )
        files = write_parts(con, path)
    finally:
        con.close()
    manifest = {k: v for k, v in plan.items() if k not in PARTS and k != "files"}
    manifest.update(format=planmod.FORMAT, files=files)
    if rehash or not manifest.get("plan_id"):
        manifest["plan_id"] = planmod.compute_plan_id(manifest)
    write_atomic(path, planmod.dumps(manifest))
    return planmod.Plan(manifest, path)


def copy_plan(src: str | Path, dst: str | Path) -> Path:
    """Copy a plan file with its data folder (/2) to dst."""
    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)
    if data_dir(src).is_dir():
        shutil.rmtree(data_dir(dst), ignore_errors=True)
        shutil.copytree(data_dir(src), data_dir(dst))
    return dst
