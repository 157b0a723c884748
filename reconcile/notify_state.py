"""What was told to whom, kept in the DuckDB file (tables `notify_*`), so a rerun never tells anyone twice.

  notify_findings   one row per finding (kind, object, subject — see `subject`): record_id, route, detail,
                    fingerprint, first/last seen, closed, runs seen, the fingerprint last notified and when it was
                    escalated
  notify_outbox     every message composed: payload (never a secret), attempts, last error, sent_at — a message
                    that could not be delivered stays here and is sent by the next run
  notify_jira_items exceptions already posted to a Jira ticket (a rerun does not post them again)

The tables move with the file: `reconcile plan` carries them over when it replaces the DuckDB file.
"""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa

from .clock import ISO_FORMAT

TABLES = ("notify_findings", "notify_outbox", "notify_jira_items")
DDL = (
    "create table if not exists notify_findings (kind varchar, object varchar, record_id varchar, route varchar, "
    "detail varchar, fingerprint varchar, first_seen_at timestamptz, last_seen_at timestamptz, "
    "closed_at timestamptz, runs_seen integer, last_plan_id varchar, notified_fingerprint varchar, "
    "notified_at timestamptz, escalated_at timestamptz, subject varchar, primary key (kind, object, subject))",
    "create table if not exists notify_outbox (id varchar primary key, run_id varchar, route varchar, "
    "channel varchar, target varchar, subject varchar, payload varchar, created_at timestamptz, "
    "attempts integer default 0, last_error varchar, sent_at timestamptz, response varchar)",
    "create table if not exists notify_jira_items (ticket varchar, item_key varchar, outbox_id varchar, "
    "posted_at timestamptz, primary key (ticket, item_key))",
)


def subject(finding: dict) -> str:
    """What a finding is about: with (kind, object) its identity for new / open / closed.

    A finding on a record: the record id. A finding on a source row that reaches no record (unmatched_source_row,
    ambiguous_match, a connector error without an id: record_id NULL): that row, named by its first evidence's
    file, column and value (and the time the source gives, if any) — "clay/replies.csv Email=ghost@x.de". Not
    by its row number, which moves when an export gains rows above it: the same row on two days is one open
    finding, rows with different values are different findings, and rows repeating one value in one file are one
    finding (with each row's detail, as several findings on one record are). No evidence: its detail.
    """
    if finding.get("record_id"):
        return finding["record_id"]
    ev = (finding.get("evidence") or [None])[0]
    if not ev:
        return finding.get("detail") or ""
    at = f" at {ev['at']}" if ev.get("at") else ""
    return f"{ev.get('file')} {ev.get('column')}={ev.get('value')}{at}"


def create_tables(con) -> None:
    for ddl in DDL:
        con.execute(ddl)
    if "subject" not in _columns(con, "notify_findings"):
        _add_subject(con)


def _columns(con, table: str) -> set[str]:
    return {
        r[0] for r in con.execute("select column_name from duckdb_columns() where table_name = ?", [table]).fetchall()
    }


def _add_subject(con) -> None:
    """Migrate a state file written before findings had a subject (keyed on kind, object, record_id).

    Its rows keep their record id as subject, so a record finding already told stays told. Its rows with an
    empty record id stood for every record-less finding of a kind at once; they match no subject now, so they
    close at the next run and the record-less findings are told once more, one per source row.
    """
    con.execute("begin transaction")
    try:
        con.execute("alter table notify_findings rename to notify_findings_old")
        con.execute(DDL[0])
        con.execute("insert into notify_findings by name select *, record_id as subject from notify_findings_old")
        con.execute("drop table notify_findings_old")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def carry_over(old, con) -> None:
    """Copy the notify_* tables of the DuckDB file a plan replaces into the new file."""
    have = {r[0] for r in old.execute("select table_name from duckdb_tables()").fetchall()}
    create_tables(con)
    for table in TABLES:
        if table in have:
            rows = old.cursor().sql(f"select * from {table}").to_arrow_table()
            if table == "notify_findings" and "subject" not in rows.column_names:  # written before subjects
                rows = rows.append_column("subject", rows.column("record_id"))
            con.register("carried_rows", rows)
            try:
                con.execute(f"insert into {table} by name select * from carried_rows")
            finally:
                con.unregister("carried_rows")


def fingerprint(details: list[str]) -> str:
    return hashlib.sha256(json.dumps(sorted(details)).encode()).hexdigest()[:16]


def observe(con, findings: list[dict], plan_id: str, at: str) -> None:
    """Record the findings of one plan: new keys open, seen keys update, keys no longer found close.

    `findings`: [{kind, object, subject, record_id, route, details: [..]}], one per (kind, object, subject).
    Observing the same plan twice changes nothing.
    """
    rows = pa.Table.from_pylist(
        [
            {
                "kind": f["kind"],
                "object": f["object"],
                "subject": f["subject"],
                "record_id": f["record_id"] or "",
                "route": f["route"],
                "detail": "; ".join(sorted(f["details"])),
                "fingerprint": fingerprint(f["details"]),
            }
            for f in findings
        ],
        schema=pa.schema(
            [(c, pa.string()) for c in ("kind", "object", "subject", "record_id", "route", "detail", "fingerprint")]
        ),
    )
    con.register("seen_now", rows)
    try:
        con.execute(
            "insert into notify_findings select kind, object, record_id, route, detail, fingerprint, "
            "cast($at as timestamptz), cast($at as timestamptz), null, 1, $plan, null, null, null, subject "
            "from seen_now on conflict do update set record_id = excluded.record_id, route = excluded.route, "
            "detail = excluded.detail, fingerprint = excluded.fingerprint, last_seen_at = excluded.last_seen_at, "
            "first_seen_at = case when notify_findings.closed_at is null then notify_findings.first_seen_at "
            "                     else excluded.first_seen_at end, "
            "notified_fingerprint = case when notify_findings.closed_at is null "
            "                            then notify_findings.notified_fingerprint end, "
            "escalated_at = case when notify_findings.closed_at is null then notify_findings.escalated_at end, "
            "runs_seen = notify_findings.runs_seen + "
            "            case when notify_findings.last_plan_id = excluded.last_plan_id then 0 else 1 end, "
            "closed_at = null, last_plan_id = excluded.last_plan_id",
            {"at": at, "plan": plan_id},
        )
        con.execute(
            "update notify_findings set closed_at = cast($at as timestamptz) where closed_at is null and "
            "(kind, object, subject) not in (select (kind, object, subject) from seen_now)",
            {"at": at},
        )
    finally:
        con.unregister("seen_now")


FINDING_COLUMNS = (
    "kind",
    "object",
    "subject",
    "record_id",
    "route",
    "detail",
    "fingerprint",
    "first_seen_at",
    "last_seen_at",
    "runs_seen",
    "notified_fingerprint",
    "escalated_at",
)


def open_findings(con, route: str | None = None) -> list[dict]:
    """Open findings (of one route), sorted; `is_new` says whether this version was never notified."""
    rows = con.execute(
        "select kind, object, subject, record_id, route, detail, fingerprint, strftime(first_seen_at, $iso), "
        "strftime(last_seen_at, $iso), runs_seen, notified_fingerprint, strftime(escalated_at, $iso) from notify_findings "
        "where closed_at is null and (cast($route as varchar) is null or route = $route) "
        "order by route, kind, object, record_id, subject",
        {"route": route, "iso": ISO_FORMAT},
    ).fetchall()
    out = [dict(zip(FINDING_COLUMNS, r)) for r in rows]
    for r in out:
        r["is_new"] = r["notified_fingerprint"] != r["fingerprint"]
    return out


def due_for_escalation(con, kinds: tuple[str, ...], days: float, at: str, to_route: str) -> list[dict]:
    """Connector-level findings open at least `days` days, not escalated yet (and not already routed there)."""
    rows = [r for r in open_findings(con) if r["kind"] in kinds and r["route"] != to_route and not r["escalated_at"]]
    keep = con.execute(
        "select kind, object, subject from notify_findings where closed_at is null and "
        "cast($at as timestamptz) - first_seen_at >= to_milliseconds(cast($ms as bigint))",
        {"at": at, "ms": int(days * 86_400_000)},
    ).fetchall()
    keep = {tuple(k) for k in keep}
    return [r for r in rows if (r["kind"], r["object"], r["subject"]) in keep]


def mark_notified(con, keys: list[tuple[str, str, str, str]], at: str) -> None:
    """keys: (kind, object, subject, fingerprint) as told in a queued message."""
    for kind, obj, subj, fp in keys:
        con.execute(
            "update notify_findings set notified_fingerprint = ?, notified_at = cast(? as timestamptz) "
            "where kind = ? and object = ? and subject = ?",
            [fp, at, kind, obj, subj],
        )


def mark_escalated(con, keys: list[tuple[str, str, str]], at: str) -> None:
    for kind, obj, subj in keys:
        con.execute(
            "update notify_findings set escalated_at = cast(? as timestamptz) "
            "where kind = ? and object = ? and subject = ?",
            [at, kind, obj, subj],
        )


def posted_items(con, ticket: str) -> set[str]:
    return {r[0] for r in con.execute("select item_key from notify_jira_items where ticket = ?", [ticket]).fetchall()}


def mark_posted(con, ticket: str, keys: list[str], outbox_id: str, at: str) -> None:
    con.executemany(
        "insert into notify_jira_items values (?, ?, ?, cast(? as timestamptz)) on conflict do nothing",
        [[ticket, k, outbox_id, at] for k in keys],
    )


OUTBOX_COLUMNS = ("id", "run_id", "route", "channel", "target", "subject", "payload", "attempts", "last_error")


def enqueue(con, message: dict, at: str) -> None:
    con.execute(
        "insert into notify_outbox (id, run_id, route, channel, target, subject, payload, created_at, attempts) "
        "values (?, ?, ?, ?, ?, ?, ?, cast(? as timestamptz), 0) on conflict do nothing",
        [
            message["id"],
            message["run_id"],
            message["route"],
            message["channel"],
            message["target"],
            message["subject"],
            json.dumps(message["payload"], ensure_ascii=False, sort_keys=True),
            at,
        ],
    )


def queued(con) -> list[dict]:
    rows = con.execute(
        f"select {', '.join(OUTBOX_COLUMNS)} from notify_outbox where sent_at is null order by created_at, id"
    ).fetchall()
    out = [dict(zip(OUTBOX_COLUMNS, r)) for r in rows]
    for m in out:
        m["payload"] = json.loads(m["payload"])
    return out


def record_attempt(con, message_id: str, ok: bool, detail: str, at: str, tries: int) -> None:
    if ok:
        con.execute(
            "update notify_outbox set attempts = attempts + ?, sent_at = cast(? as timestamptz), "
            "response = ?, last_error = null where id = ?",
            [tries, at, detail, message_id],
        )
    else:
        con.execute(
            "update notify_outbox set attempts = attempts + ?, last_error = ? where id = ?", [tries, detail, message_id]
        )
