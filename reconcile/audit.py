"""The append-only audit trail of every attempted change (DuckDB table `audit`), and its exports.

Rows are only ever inserted: a 'pending' row before each Salesforce call (write-ahead), then one row with
the outcome after it. A run killed between the two leaves 'pending' rows; the next run re-reads Salesforce
and records what really happened, so nothing is written twice and no row is lost.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from .errors import ReconcileError
from .sql import connect

COLUMNS = ("seq", "run_id", "plan_id", "approver", "object", "record_id", "field", "before", "after", "result",
           "error_code", "message", "at")


def open_audit(db_path: str | Path):
    try:
        con = connect(db_path)
    except duckdb.IOException as e:  # another process holds the file (a plan building, an apply running)
        raise ReconcileError(f"DuckDB file '{db_path}' is in use by another process ({str(e).splitlines()[0]}). "
                             "Wait for the running plan or apply to finish, or close the notebook that opened it "
                             "for writing, and rerun.") from e
    create_table(con)
    return con


def create_table(con, start: int = 1) -> None:
    con.execute(f"create sequence if not exists audit_seq start with {int(start)}")
    con.execute("create table if not exists audit (seq bigint default nextval('audit_seq'), run_id varchar, "
                "plan_id varchar, approver varchar, object varchar, record_id varchar, field varchar, before varchar, "
                "after varchar, result varchar, error_code varchar, message varchar, \"at\" timestamptz)")


def carry_over(old, con) -> int:
    """Copy the audit trail (rows and sequence position) of the DuckDB file a plan replaces into the new file."""
    if not old.execute("select count(*) from duckdb_tables() where table_name = 'audit'").fetchone()[0]:
        return 0
    columns = ", ".join(f'"{c}"' for c in COLUMNS)
    start = old.execute("select coalesce(max(seq), 0) + 1 from audit").fetchone()[0]
    rows = old.cursor().sql(f"select {columns} from audit order by seq").to_arrow_table()
    create_table(con, start)
    con.register("audit_rows", rows)
    try:
        con.execute(f"insert into audit ({columns}) select * from audit_rows")
    finally:
        con.unregister("audit_rows")
    return rows.num_rows


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record(con, run_id: str, plan_id: str, approver: str, rows: list[dict]) -> None:
    """Append one audit row per change dict (object, record_id, field, before, after, result, error_code, message)."""
    if not rows:
        return
    at = _now()
    batch = pa.Table.from_pylist([
        {"run_id": run_id, "plan_id": plan_id, "approver": approver, "object": r["object"],
         "record_id": r["record_id"], "field": r["field"], "before": json.dumps(r.get("before")),
         "after": json.dumps(r.get("after")), "result": r["result"], "error_code": r.get("error_code"),
         "message": r.get("message"), "at": at} for r in rows])
    con.register("audit_batch", batch)
    try:
        con.execute("insert into audit (run_id, plan_id, approver, object, record_id, field, before, after, result, "
                    "error_code, message, \"at\") select run_id, plan_id, approver, object, record_id, field, before, "
                    "after, result, error_code, message, cast(\"at\" as timestamptz) from audit_batch")
    finally:
        con.unregister("audit_batch")


def pending_without_outcome(con, plan_id: str) -> set[tuple[str, str, str]]:
    """Changes a killed run announced but never recorded an outcome for."""
    rows = con.execute(
        "select object, record_id, field from audit where plan_id = ? group by all "
        "having arg_max(result, seq) = 'pending'",
        [plan_id]).fetchall()
    return {tuple(r) for r in rows}


def query(db_path: str | Path, record_id: str | None = None, plan_id: str | None = None) -> list[dict]:
    con = open_audit(db_path)
    try:
        return _select(con, "(cast(? as varchar) is null or record_id = ?) and "
                            "(cast(? as varchar) is null or plan_id like ? || '%')",
                       [record_id, record_id, plan_id, plan_id])
    finally:
        con.close()


def _select(con, where: str, params: list) -> list[dict]:
    rows = con.execute(
        "select seq, run_id, plan_id, approver, object, record_id, field, before, after, result, error_code, "
        f"message, strftime(\"at\", '%Y-%m-%dT%H:%M:%S.%gZ') from audit where {where} order by seq", params).fetchall()
    return [dict(zip(COLUMNS, r)) for r in rows]


def to_csv(rows: list[dict], columns=COLUMNS) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def to_markdown(rows: list[dict], columns: tuple[str, ...]) -> str:
    """A table ready to paste into the sprint's Jira ticket (seed §3.5)."""
    def cell(v):
        return str("" if v is None else v).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def query_con(con, plan_id: str) -> list[dict]:
    return _select(con, "plan_id = ?", [plan_id])
