"""Which plans `reconcile plan` (or an apply's undo plan) really built: the `plans` table of the DuckDB file.

Each built plan leaves one row: plan_id, the sha256 of its canonical change set, its source (`plan` / `undo`),
the time, and an HMAC signature of the three (signing.py — the key is outside the plan's folder). Approve
and apply refuse a plan whose plan_id is not recorded with a valid signature and the same change set, so a
hand-edited plan with a recomputed plan_id is refused before anything is written, and so is a row
inserted into the table by hand. The table is carried over when a plan rebuilds the DuckDB file.
"""

from __future__ import annotations

from pathlib import Path

from . import signing
from .errors import PlanError, refuse_not_duckdb, unopened_db
from .files import sha256_json, short_id
from .clock import iso

COLUMNS = ("plan_id", "changes_hash", "source", "recorded_at", "signature")


def changes_hash(plan: dict) -> str:
    """/2: the changes file's `sha256` in the manifest (the hash of its bytes, verified by load_plan; for a plan of
    the earlier layout, the hash of its rows it was recorded with, planfile.py). /1: the sha256 of the canonical
    JSON of the changes list."""
    files = plan.get("files")
    if plan.get("format") == "reconcile.plan/2" and isinstance(files, dict):
        return files["changes"]["sha256"]
    return sha256_json(plan["changes"])


def create_table(con) -> None:
    con.execute(
        "create table if not exists plans (plan_id varchar, changes_hash varchar, source varchar, "
        "recorded_at varchar, signature varchar)"
    )


def _body(plan_id: str, digest: str, source: str) -> dict:
    return {"plan_id": plan_id, "changes_hash": digest, "source": source}


def record(con, plan: dict, source: str = "plan") -> None:
    """Remember that this plan was built here (idempotent: a record that verifies with this machine's key is not
    written twice; one signed with another key — the plan built before the key changed — gets a record of this
    key beside it, so building the plan again here is the fix check() names)."""
    create_table(con)
    digest = changes_hash(plan)
    body = _body(plan["plan_id"], digest, source)
    signatures = con.execute(
        "select signature from plans where plan_id = ? and changes_hash = ? and source = ?",
        [plan["plan_id"], digest, source],
    ).fetchall()
    if any(signing.verify("plan", body, sig) for (sig,) in signatures):
        return
    con.execute(
        "insert into plans values (?, ?, ?, ?, ?)",
        [plan["plan_id"], digest, source, iso(), signing.sign("plan", body)],
    )


def carry_over(old, con) -> int:
    if not old.execute("select count(*) from duckdb_tables() where table_name = 'plans'").fetchone()[0]:
        return 0
    rows = old.execute(f"select {', '.join(COLUMNS)} from plans").fetchall()
    create_table(con)
    con.executemany("insert into plans values (?, ?, ?, ?, ?)", rows)
    return len(rows)


def check(con, plan: dict, plan_path: str | Path, db_path: str | Path) -> str:
    """The source of a plan recorded in `con`; PlanError when it was not built by `reconcile plan` here."""
    has_table = con.execute("select count(*) from duckdb_tables() where table_name = 'plans'").fetchone()[0]
    rows = (
        con.execute("select changes_hash, source, signature from plans where plan_id = ?", [plan["plan_id"]]).fetchall()
        if has_table
        else []
    )
    digest = changes_hash(plan)
    for recorded, source, signature in rows:
        if recorded == digest and signing.verify("plan", _body(plan["plan_id"], digest, source), signature):
            return source
    if any(recorded == digest for recorded, _, _ in rows):  # this plan's record, signed with another key
        raise PlanError(
            f"Plan '{plan_path}' (plan_id {short_id(plan['plan_id'])}) is recorded in '{db_path}', but its record "
            f"does not verify with this machine's signing key: it was built with another one (or the record was "
            f"edited). Approve and apply with the key `reconcile plan` used ({signing.KEY_ENV}, or approval.key in "
            "the config folder: README, Signed approvals), or build the plan again here."
        )
    raise PlanError(
        f"Plan '{plan_path}' (plan_id {short_id(plan['plan_id'])}) was not built by `reconcile plan` into "
        f"'{db_path}': no signed record of this plan_id and change set there. A hand-edited plan is "
        "refused even with a recomputed plan_id. Build it with `reconcile plan` (its DuckDB file beside "
        "it, or pass --db) and approve that plan."
    )


def check_file(plan: dict, plan_path: str | Path, db_path: str | Path) -> str:
    """check() against the DuckDB file at db_path, opened read-only."""
    import duckdb

    db = Path(db_path)
    if not db.exists():
        raise PlanError(
            f"Plan '{plan_path}' has no DuckDB file '{db}' beside it, so it cannot be checked against "
            "the build it came from. Keep the plan with the reconcile.duckdb `reconcile plan` wrote "
            "(or pass --db)."
        )
    refuse_not_duckdb(db, PlanError)
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as e:
        raise unopened_db(db, e, PlanError) from e
    try:
        return check(con, plan, plan_path, db)
    finally:
        con.close()
