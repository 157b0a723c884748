"""The append-only audit trail of every attempted change (DuckDB table `audit`), and its exports.

Rows are only ever inserted: a 'pending' row before each Salesforce call (write-ahead), then one row with
the outcome after it. A run killed between the two leaves 'pending' rows; the next run re-reads Salesforce
and records what really happened, so nothing is written twice and no row is lost. A Bulk API 2.0 job runs
after it is closed, maybe long after: right after Salesforce creates it (before any data is sent) each of its
changes gets a 'submitted' row carrying the `job_id`, so a rerun asks Salesforce for that job's results instead of
re-reading values the job may not have written yet. A job given up because its upload or close failed gets an
'abandoned' row per change (its `job_id`, and whether it was aborted) before the changes are sent in a new job. A
run that stops cleanly (exit 3: session expired, API limit, no answer to a write) gives each change of the call it
stopped at a 'stopped' row with the error code: not an outcome — the next run re-reads those changes as for a kill.

Tamper evidence: each row carries `prev_hash` (the row_hash of the row before it, in seq order) and
`row_hash` = sha256(prev_hash + its own content), so an UPDATE breaks that row's hash and a DELETE or an
inserted row breaks the next row's link. The last row is anchored in `audit_head` with an HMAC signature
(signing.py), so cutting rows off the end or rewriting the whole chain is caught too. `verify` names the
first broken row; apply refuses to write on a broken chain. The hashes travel with carry-over and CSV.
"""

from __future__ import annotations

import html
import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from .. import signing
from ..csvsafe import uncell, writer
from ..errors import ReconcileError, refuse_not_duckdb, unopened_db
from ..files import sha256_json
from ..sql import connect

COLUMNS = (
    "seq",
    "run_id",
    "plan_id",
    "approver",
    "object",
    "record_id",
    "field",
    "before",
    "after",
    "result",
    "error_code",
    "message",
    "at",
    "job_id",
    "prev_hash",
    "row_hash",
)
# what a row's hash covers: every column but seq, job_id and the chain's own two hashes; a row's job_id is hashed
# after them only when it has one, so rows written before the column existed keep their hashes
HASHED = COLUMNS[1:-3]
MARKDOWN_SPECIAL = re.compile(r"[\\`*{}\[\]()#+!|~]|(?<![A-Za-z0-9_])_|_(?![A-Za-z0-9_])")
GENESIS = "sha256:" + "0" * 64


class AuditTampered(ReconcileError):
    """The audit chain does not verify: a row was edited, deleted or inserted by hand."""


def open_audit(db_path: str | Path):
    refuse_not_duckdb(db_path)
    try:
        con = connect(db_path)
    except duckdb.IOException as e:  # held by another process (a plan building, an apply running), or no database
        raise unopened_db(db_path, e) from e
    pre_chain = _pre_chain(con)
    create_table(con)
    columns = {
        r[0] for r in con.execute("select column_name from duckdb_columns() where table_name = 'audit'").fetchall()
    }
    if "row_hash" not in columns:  # a file written before the chain existed
        con.execute("alter table audit add column prev_hash varchar")
        con.execute("alter table audit add column row_hash varchar")
    if "job_id" not in columns:  # a file written before Bulk jobs were recorded
        con.execute("alter table audit add column job_id varchar")
    if pre_chain:
        _chain_legacy(con)
    return con


def _pre_chain(con) -> bool:
    """A file written before audit rows were chained: neither a signed head nor a plans record. (Dropping them
    from a newer file does not make it one that apply accepts: without `plans` no plan is recognised.)"""
    tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    return not ({"audit_head", "plans"} & tables)


def create_table(con, start: int = 1) -> None:
    con.execute(f"create sequence if not exists audit_seq start with {int(start)}")
    con.execute(
        "create table if not exists audit (seq bigint default nextval('audit_seq'), run_id varchar, "
        "plan_id varchar, approver varchar, object varchar, record_id varchar, field varchar, before varchar, "
        'after varchar, result varchar, error_code varchar, message varchar, "at" timestamptz, job_id varchar, '
        "prev_hash varchar, row_hash varchar)"
    )
    con.execute("create table if not exists audit_head (seq bigint, row_hash varchar, signature varchar)")


def row_hash(prev: str, row: dict) -> str:
    """sha256 of the previous row's hash and this row's content (as `reconcile audit --csv` prints it)."""
    content = [None if row.get(k) in (None, "") else str(row[k]) for k in HASHED]
    return sha256_json([prev] + content + ([str(row["job_id"])] if row.get("job_id") else []))


def _head_signature(seq: int, digest: str) -> str:
    return signing.sign("audit-head", {"seq": seq, "row_hash": digest})


def _set_head(con) -> None:
    last = con.execute("select seq, row_hash from audit order by seq desc limit 1").fetchone()
    con.execute("delete from audit_head")
    if last:
        con.execute("insert into audit_head values (?, ?, ?)", [last[0], last[1], _head_signature(*last)])


def carry_over(old, con) -> int:
    """Copy the audit trail (rows and sequence position) of the DuckDB file a plan replaces into the new file."""
    if not old.execute("select count(*) from duckdb_tables() where table_name = 'audit'").fetchone()[0]:
        return 0
    have = {r[0] for r in old.execute("select column_name from duckdb_columns() where table_name = 'audit'").fetchall()}
    columns = ", ".join(f'"{c}"' for c in COLUMNS)
    select = ", ".join(f'"{c}"' if c in have else f'null as "{c}"' for c in COLUMNS)
    start = old.execute("select coalesce(max(seq), 0) + 1 from audit").fetchone()[0]
    rows = old.cursor().sql(f"select {select} from audit order by seq").to_arrow_table()
    create_table(con, start)
    con.register("audit_rows", rows)
    try:
        con.execute(f"insert into audit ({columns}) select * from audit_rows")
    finally:
        con.unregister("audit_rows")
    if _pre_chain(old):
        _chain_legacy(con)
    elif old.execute("select count(*) from duckdb_tables() where table_name = 'audit_head'").fetchone()[0]:
        con.executemany(
            "insert into audit_head values (?, ?, ?)",
            old.execute("select seq, row_hash, signature from audit_head").fetchall(),
        )
    return rows.num_rows


def _chain_legacy(con) -> None:
    """A trail written before the chain existed (no audit_head table): hash its rows once, in seq order."""
    prev = GENESIS
    for row in _select(con, "true", []):
        digest = row_hash(prev, row)
        con.execute("update audit set prev_hash = ?, row_hash = ? where seq = ?", [prev, digest, row["seq"]])
        prev = digest
    _set_head(con)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"  # ms: as _select prints it


def record(con, run_id: str, plan_id: str, approver: str, rows: list[dict]) -> None:
    """Append one audit row per change dict (object, record_id, field, before, after, result, error_code, message,
    job_id)."""
    if not rows:
        return
    at = _now()
    last = con.execute("select row_hash from audit order by seq desc limit 1").fetchone()
    prev = last[0] if last else GENESIS
    seqs = sorted(v for (v,) in con.execute("select nextval('audit_seq') from range(?)", [len(rows)]).fetchall())
    items = []
    for seq, r in zip(seqs, rows):
        item = {
            "seq": seq,
            "run_id": run_id,
            "plan_id": plan_id,
            "approver": approver,
            "object": r["object"],
            "record_id": r["record_id"],
            "field": r["field"],
            "before": json.dumps(r.get("before")),
            "after": json.dumps(r.get("after")),
            "result": r["result"],
            "error_code": r.get("error_code"),
            "message": r.get("message"),
            "at": at,
            "job_id": r.get("job_id"),
        }
        item["prev_hash"], item["row_hash"] = prev, row_hash(prev, item)
        prev = item["row_hash"]
        items.append(item)
    con.register("audit_batch", pa.Table.from_pylist(items))
    try:
        con.execute("begin transaction")
        con.execute(
            "insert into audit (seq, run_id, plan_id, approver, object, record_id, field, before, after, "
            'result, error_code, message, "at", job_id, prev_hash, row_hash) select seq, run_id, plan_id, '
            "approver, object, record_id, field, before, after, result, error_code, message, "
            'cast("at" as timestamptz), cast(job_id as varchar), prev_hash, row_hash from audit_batch'
        )
        _set_head(con)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("audit_batch")


# Results that are not an outcome: a change announced before its call (pending), sent in a Bulk job (submitted),
# given up with one (abandoned), or in flight when the run stopped cleanly (stopped: session expired, API limit, no
# answer to a write — recorded so the stopped run's audit says so; the next run re-reads the change as for a kill).
OPEN_RESULTS = ["pending", "submitted", "abandoned", "stopped"]


def pending_without_outcome(con, plan_id: str) -> set[tuple[str, str, str]]:
    """Changes a killed or stopped run announced (OPEN_RESULTS) but never recorded an outcome for."""
    rows = con.execute(
        "select object, record_id, field from audit where plan_id = ? group by all "
        "having list_contains(?, arg_max(result, seq))",
        [plan_id, OPEN_RESULTS],
    ).fetchall()
    return {tuple(r) for r in rows}


def submitted_jobs(con, plan_id: str) -> dict[tuple[str, str], set[tuple[str, str, str]]]:
    """{(object, Bulk job id): changes} of every job a change was submitted in since its last outcome, for the changes
    a killed run recorded no outcome for: each such job may have run, be running still, or never have been closed —
    an older one too (a job given up whose abort failed, or one closed after all while its records went into a new
    job), so not only the newest is asked for. None in a file from before job ids were recorded (a dry run reads it
    as it is)."""
    if not _has_job_id(con):
        return {}
    rows = con.execute(
        "with open_changes as (select object, record_id, field, max(seq) filter (where not list_contains($open, "
        "result)) as settled_seq from audit where plan_id = $plan group by all "
        "having list_contains($open, arg_max(result, seq))) "
        "select a.object, a.record_id, a.field, a.job_id from audit a join open_changes o "
        "on a.object = o.object and a.record_id = o.record_id and a.field = o.field "
        "where a.plan_id = $plan and a.result = 'submitted' and a.seq > coalesce(o.settled_seq, 0) order by a.seq",
        {"plan": plan_id, "open": OPEN_RESULTS},
    ).fetchall()
    jobs: dict[tuple[str, str], set[tuple[str, str, str]]] = {}
    for obj, rid, fld, job_id in rows:
        jobs.setdefault((obj, job_id), set()).add((obj, rid, fld))
    return jobs


def applied_changes(con, plan_id: str) -> set[tuple[str, str, str]]:
    """Changes an earlier run of this plan recorded as applied: its approval never writes them again."""
    rows = con.execute(
        "select distinct object, record_id, field from audit where plan_id = ? and result = 'applied'", [plan_id]
    ).fetchall()
    return {tuple(r) for r in rows}


def verify_rows(rows: list[dict], from_csv: bool = False, excerpt: bool | None = None) -> str | None:
    """The first break of the chain in `rows` (seq order, as _select or the CSV gives them), or None.
    from_csv: the rows were read from `reconcile audit --csv` or `PLAN.audit.csv` (its formula guard `'` is taken off
    first). excerpt (default: from_csv): the rows may be part of the trail — one plan's (`PLAN.audit.csv`, `audit
    --plan`), one record's, or what follows an earlier plan's rows — so a row whose seq does not follow the row before
    it starts a new run, taken from its own prev_hash; every row's content is checked against its hash, the links
    within each run of consecutive seqs, seq order, and a run at seq 1 against the chain's start. The whole chain
    (every link, the signed head) is `reconcile audit --verify` on the DuckDB file (verify)."""
    excerpt = from_csv if excerpt is None else excerpt
    prev, prev_seq = GENESIS, 0
    for r in rows:
        if from_csv:
            r = {k: uncell(v) for k, v in r.items()}
        seq = int(r["seq"])
        if excerpt and seq <= prev_seq:
            return f"audit row seq {seq} comes after row seq {prev_seq} (the rows were reordered)"
        if excerpt and seq != prev_seq + 1:
            prev = r.get("prev_hash")  # rows not in this excerpt lie before it (one that starts at seq 1: the start)
        if r.get("prev_hash") != prev:
            return (
                f"audit row seq {r['seq']} does not follow the row before it (a row was deleted, inserted or "
                "reordered before it)"
            )
        if r.get("row_hash") != row_hash(prev, r):
            return f"audit row seq {r['seq']} was changed after it was written (its content does not match its hash)"
        prev, prev_seq = r["row_hash"], seq
    return None


def verify(con) -> str | None:
    """The first broken row of the audit chain (content, links, signed head), or None when it is intact."""
    rows = _select(con, "true", [])
    broken = verify_rows(rows)
    if broken:
        return broken
    head = con.execute("select seq, row_hash, signature from audit_head").fetchall()
    if not rows:
        return "the audit's signed head names rows that are missing (rows were deleted)" if head else None
    last = rows[-1]
    if len(head) != 1 or not signing.verify("audit-head", {"seq": head[0][0], "row_hash": head[0][1]}, head[0][2]):
        return (
            "the audit's signed head is missing, was edited, or was signed with another key than this machine's "
            f"(audit_head; if the audit was written elsewhere, verify with its key: {signing.KEY_ENV})"
        )
    if (head[0][0], head[0][1]) != (last["seq"], last["row_hash"]):
        return (
            f"the audit ends at row seq {last['seq']}, but its signed head names row seq {head[0][0]} (rows were "
            "deleted from the end, or the chain was rewritten)"
        )
    return None


def require_intact(con, db_path, applying: bool = True) -> None:
    broken = verify(con)
    if broken:
        raise AuditTampered(
            f"Audit trail in '{db_path}' is broken: {broken}. "
            + ("Nothing was written to Salesforce. " if applying else "")
            + "Find out who changed the audit table, restore the file from a backup, and rerun."
        )


def verify_file(db_path: str | Path) -> int:
    """Verify the audit chain of a DuckDB file; the number of rows, or AuditTampered naming the first break."""
    if not Path(db_path).exists():
        raise ReconcileError(f"DuckDB file '{db_path}' does not exist. Pass the file holding the audit (--db).")
    refuse_not_duckdb(db_path)
    try:
        con = duckdb.connect(str(db_path), read_only=True)  # verify as it is: no migration, no repair
    except duckdb.Error as e:
        raise unopened_db(db_path, e) from e
    try:
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
        if "audit" not in tables:
            return 0
        if "audit_head" not in tables:
            con.close()
            con = duckdb.connect(":memory:")
            raise AuditTampered(
                f"Audit trail in '{db_path}' is broken: the audit's signed head is missing "
                "(audit_head). Find out who changed the audit table, restore the file from a backup, "
                "and rerun."
            )
        require_intact(con, db_path, applying=False)
        return con.execute("select count(*) from audit").fetchone()[0]
    finally:
        con.close()


def query(db_path: str | Path, record_id: str | None = None, plan_id: str | None = None) -> list[dict]:
    con = open_audit(db_path)
    try:
        return _select(
            con,
            "(cast(? as varchar) is null or record_id = ?) and (cast(? as varchar) is null or plan_id like ? || '%')",
            [record_id, record_id, plan_id, plan_id],
        )
    finally:
        con.close()


def _has_job_id(con) -> bool:
    """Whether the audit table has its job_id column: a file opened read-only as it is (verify, a dry run) may
    predate it."""
    return bool(
        con.execute(
            "select count(*) from duckdb_columns() where table_name = 'audit' and column_name = 'job_id'"
        ).fetchone()[0]
    )


def _select(con, where: str, params: list) -> list[dict]:
    con.execute("set TimeZone = 'UTC'")
    has_job_id = _has_job_id(con)
    rows = con.execute(
        "select seq, run_id, plan_id, approver, object, record_id, field, before, after, result, error_code, "
        f"message, strftime(\"at\", '%Y-%m-%dT%H:%M:%S.%gZ'), {'job_id' if has_job_id else 'null'}, prev_hash, "
        f"row_hash from audit where {where} order by seq",
        params,
    ).fetchall()
    return [dict(zip(COLUMNS, r)) for r in rows]


def to_csv(rows: list[dict], columns=COLUMNS) -> str:
    buf = io.StringIO()
    w = writer(buf, columns)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def to_markdown(rows: list[dict], columns: tuple[str, ...]) -> str:
    """A table ready to paste into the sprint's Jira ticket (seed §3.5)."""

    def cell(v):
        text = html.escape(str("" if v is None else v), quote=False)
        text = MARKDOWN_SPECIAL.sub(r"\\\g<0>", text)
        return " ".join(text.split())  # newlines, tabs and CRs would end the row

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def trail_of_plan(con, plan_id: str) -> list[dict]:
    """The audit rows of one plan, in order, on an open connection (apply's exports)."""
    return _select(con, "plan_id = ?", [plan_id])
