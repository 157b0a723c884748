"""The writeback plan: assembly from the plan tables (and of undo plans), canonical hash, files.

`reconcile.plan/2` (the default; planfile.py): a JSON manifest beside Parquet files of changes, findings and
rejects, each written in the plan's canonical order and bound by the sha256 of its bytes. `reconcile.plan/1`
(`reconcile plan --format json`, and every plan written before /2): one JSON file with the lists inline. Both are
read.

plan_id is the sha256 of the canonical JSON (sorted keys, compact) of everything but plan_id and created_at (for
/2: of the manifest, which holds the data files' hashes), so the same inputs give the same plan_id, and
any edit after approval is detected.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING


from . import planfile
from .clock import iso
from .errors import PlanError
from .files import sha256_json, write_atomic
from .sql import sql_text, stored_order

if TYPE_CHECKING:
    from .policy import Policy
    from .ingest.snapshots import Snapshot

FORMAT = "reconcile.plan/2"
FORMAT_V1 = "reconcile.plan/1"
FORMATS = (FORMAT, FORMAT_V1)
LAZY = ("changes", "findings", "rejects")


class Plan(dict):
    """A plan as a mapping. For /2 it holds the manifest; `plan["changes"]` (and findings, rejects) are read
    from the data files on first use — readers of large plans query them instead (planfile.connect)."""

    def __init__(self, doc: dict, path: str | Path | None = None):
        super().__init__(doc)
        self.path = Path(path) if path is not None else None
        self._con = None
        self._stamp = None

    def __missing__(self, key):
        if key in LAZY and self.get("format") == FORMAT and "files" in self and self.path is not None:
            from . import planfile

            value = planfile.rows(self, key)
            self[key] = value
            return value
        raise KeyError(key)

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def manifest(self) -> dict:
        return {k: v for k, v in self.items() if not (k in LAZY and self.get("format") == FORMAT)}


CHANGE_KEYS, FINDING_KEYS = planfile.CHANGE_COLUMNS, planfile.FINDING_COLUMNS  # one column order, planfile's
CHANGES_QUERY = (
    "select object, record_id, field, before, after, rule, status, reason, reasons, evidence, "
    "campaign_id, gbu from plan_changes order by object, record_id, field"
)
FINDINGS_QUERY = (
    'select kind, object, record_id, route, detail, "at", evidence from plan_findings '
    "order by kind, object, record_id nulls first, detail, evidence[1].file, evidence[1].row"
)


def fetch_changes(con) -> list[dict]:
    out = []
    for row in con.execute(CHANGES_QUERY).fetchall():
        d = dict(zip(CHANGE_KEYS, row))
        d["before"] = None if d["before"] is None else json.loads(d["before"])
        d["after"] = None if d["after"] is None else json.loads(d["after"])
        out.append(d)
    return out


def fetch_findings(con) -> list[dict]:
    return [dict(zip(FINDING_KEYS, row)) for row in con.execute(FINDINGS_QUERY).fetchall()]


def fetch_rejects(con) -> list[dict]:
    rows = con.execute("select file, row, col, value, expected, message from rejects order by file, row, col")
    return [dict(zip(("file", "row", "column", "value", "expected", "message"), r)) for r in rows.fetchall()]


def _counts(con, sql: str) -> dict:
    return {k: {"ready": r, "blocked": b} for k, r, b in con.execute(sql).fetchall()}


def summarize(con) -> dict:
    """Counts by object, field, rule, status, reason, campaign, GBU; findings by kind and route; rejects."""
    rb = "count(*) filter (where status = 'ready'), count(*) filter (where status = 'blocked')"
    total, ready, blocked = con.execute(f"select count(*), {rb} from plan_changes").fetchone()
    campaigns, gbus = {}, {}
    for dimension, key, name, gbu, r, b in con.execute(sql_text("plan/summary_by_campaign_and_gbu")).fetchall():
        if dimension == "campaign":
            campaigns[key] = {"name": name, "gbu": gbu, "ready": r, "blocked": b}
        else:
            gbus[key] = {"ready": r, "blocked": b}
    by_file = dict(con.execute("select file, count(*) from rejects group by 1 order by 1").fetchall())
    records = dict(
        con.execute(
            "select 'Lead', count(*) from stg_sfdc__lead union all select 'CampaignMember', count(*) from "
            "stg_sfdc__campaign_member union all select 'Contact', count(*) from stg_sfdc__contact union all "
            "select 'Campaign', count(*) from stg_sfdc__campaign"
        ).fetchall()
    )
    now, leaving = con.execute(
        "select count(*) filter (where eligible_now), "
        "count(*) filter (where eligible_now and not eligible_after) "
        "from plan_eligibility"
    ).fetchone()
    return {
        "records": records,
        "changes": {"total": total, "ready": ready, "blocked": blocked},
        "by_object": _counts(con, f"select object, {rb} from plan_changes group by 1 order by 1"),
        "by_field": _counts(con, f"select object || '.' || field, {rb} from plan_changes group by 1 order by 1"),
        "by_rule": _counts(con, f"select rule, {rb} from plan_changes group by 1 order by 1"),
        "by_reason": dict(
            con.execute(
                "select reason, count(*) from plan_changes where status = 'blocked' group by 1 order by 1"
            ).fetchall()
        ),
        "by_campaign": campaigns,
        "by_gbu": gbus,
        "findings": {
            "total": con.execute("select count(*) from plan_findings").fetchone()[0],
            "by_kind": dict(con.execute("select kind, count(*) from plan_findings group by 1 order by 1").fetchall()),
            "by_route": dict(con.execute("select route, count(*) from plan_findings group by 1 order by 1").fetchall()),
        },
        "rejects": {"total": sum(by_file.values()), "by_file": by_file},
        "eligibility": {"eligible_now": now, "leaving_pool": leaving},
    }


def blast_radius_gates(summary: dict, thresholds) -> list[dict]:
    """Plan-level gates: too many ready changes on one field, or on too large a share of an object's records."""
    gates = []
    for key, c in summary["by_field"].items():
        if c["ready"] > thresholds.max_ready_changes_per_field:
            obj, field = key.split(".", 1)
            gates.append(
                {
                    "gate": "blast_radius_field",
                    "object": obj,
                    "field": field,
                    "count": c["ready"],
                    "limit": thresholds.max_ready_changes_per_field,
                    "message": f"{c['ready']} ready changes on {key} exceed the policy limit of "
                    f"{thresholds.max_ready_changes_per_field}; approval needs --override-gate.",
                }
            )
    return gates


def record_fraction_gates(per_object, records: dict, thresholds) -> list[dict]:
    """Plan-level gates: ready changes on too large a share of an object's records. `per_object`: (object, records
    with a ready change) pairs; `records`: the snapshot's record count per object (summary.records)."""
    gates = []
    for obj, n in per_object:
        total = int(records.get(obj) or 0)
        if total >= thresholds.min_records_for_fraction and n / total > thresholds.max_record_fraction:
            gates.append(
                {
                    "gate": "blast_radius_records",
                    "object": obj,
                    "field": None,
                    "count": n,
                    "limit": int(total * thresholds.max_record_fraction),
                    "message": f"{n} of {total} {obj} records ({n / total:.0%}) would change, more than the "
                    f"policy's {thresholds.max_record_fraction:.0%}; approval needs --override-gate.",
                }
            )
    return gates


# ---------------------------------------------------------------------------------------------- assembly


def _manifest(con, snap: "Snapshot", policy: "Policy", created_at: str | None, fmt: str) -> dict:
    summary = summarize(con)
    gates = blast_radius_gates(summary, policy.thresholds)
    per_object = con.execute(
        "select object, count(distinct record_id) from plan_changes where status = 'ready' group by 1 order by 1"
    ).fetchall()
    gates += record_fraction_gates(per_object, summary["records"], policy.thresholds)
    summary["gates"] = len(gates)
    summary["inputs"] = snap.inputs
    return {
        "format": fmt,
        "plan_id": "",
        "created_at": created_at or iso(),
        "snapshot": {
            "fingerprints": snap.fingerprints,
            "taken_at": dict(sorted(snap.taken_at.items())),
            "org_id": snap.manifest.get("org_id"),
            # the org `reconcile pull` read (apply refuses another); absent for hand-made exports, so their plan_id
            # is what it was
            **({"instance_url": snap.manifest["instance_url"]} if snap.manifest.get("instance_url") else {}),
        },
        "policy": {"fingerprint": policy.fingerprint, "org": policy.org_name},
        "summary": summary,
        "gates": gates,
    }


def assemble(con, snap: "Snapshot", policy: "Policy", created_at: str | None = None) -> dict:
    """The plan as one `reconcile.plan/1` document, lists inline (small plans, `--format json`)."""
    plan = _manifest(con, snap, policy, created_at, FORMAT_V1)
    plan.update(changes=fetch_changes(con), findings=fetch_findings(con), rejects=fetch_rejects(con))
    plan["plan_id"] = compute_plan_id(plan)
    return plan


def assemble_files(
    con, snap: "Snapshot", policy: "Policy", plan_path: Path, folder: Path, created_at: str | None = None
) -> Plan:
    """The plan as `reconcile.plan/2`: its data files written by DuckDB into `folder` (moved beside plan_path
    later), their hashes in the manifest, plan_id over the manifest. No Python object per row."""
    manifest = _manifest(con, snap, policy, created_at, FORMAT)
    manifest["files"] = planfile.write_parts(con, plan_path, folder)
    manifest["plan_id"] = compute_plan_id(manifest)
    return Plan(manifest, plan_path)


def undo_plan(plan: dict, applied: list[dict], source_name: str) -> dict:
    """Before-images of what was applied, as a plan of its own (it needs approval like any other)."""
    changes = sorted(
        (
            {
                "object": o["object"],
                "record_id": o["record_id"],
                "field": o["field"],
                "before": o["after"],
                "after": o["before"],
                "rule": "undo",
                "status": "ready",
                "reason": None,
                "reasons": [],
                "evidence": [
                    {
                        "source": "audit",
                        "file": source_name,
                        "row": None,
                        "column": o["field"],
                        "value": o["after"],
                        "at": None,
                    }
                ],
                "campaign_id": None,
                "gbu": None,
            }
            for o in applied
        ),
        key=lambda c: (c["object"], c["record_id"], c["field"]),
    )
    by_field = Counter(f"{c['object']}.{c['field']}" for c in changes)
    now = iso()
    snapshot = {**plan["snapshot"], "taken_at": {**plan["snapshot"].get("taken_at", {}), "sfdc": now}}
    undo = {
        "format": FORMAT_V1,
        "plan_id": "",
        "created_at": now,
        "undoes": plan["plan_id"],
        "snapshot": snapshot,
        "policy": plan["policy"],
        "summary": {
            "changes": {"total": len(changes), "ready": len(changes), "blocked": 0},
            "by_field": {k: {"ready": n, "blocked": 0} for k, n in sorted(by_field.items())},
        },
        "gates": [],
        "changes": changes,
        "findings": [],
        "rejects": [],
    }
    undo["plan_id"] = compute_plan_id(undo)
    return undo


# ---------------------------------------------------------------------------------------------- the file


def compute_plan_id(plan: dict) -> str:
    """sha256 of the canonical JSON of /1: everything but plan_id and created_at; /2: the manifest likewise (its
    `files` bind the data files)."""
    drop = ("plan_id", "created_at") + (LAZY if plan.get("format") == FORMAT else ())
    return sha256_json({k: v for k, v in plan.items() if k not in drop})


def dumps(plan: dict) -> str:
    """Readable, diff-friendly JSON: one change / finding per line, in the plan's canonical order."""
    parts = []
    for key, value in plan.items():
        if key in ("changes", "findings", "rejects") and value:
            lines = ",\n".join(json.dumps(v, ensure_ascii=False, separators=(",", ":")) for v in value)
            parts.append(f"{json.dumps(key)}:[\n{lines}\n]")
        else:
            parts.append(f"{json.dumps(key)}:{json.dumps(value, ensure_ascii=False, separators=(',', ':'))}")
    return "{" + ",\n".join(parts) + "}\n"


def load_plan(path: str | Path, verify: bool = True) -> dict:
    """Read a plan file; with verify, refuse one whose content no longer matches its plan_id."""
    p = Path(path)
    try:
        plan = json.loads(p.read_text("utf-8"))
    except OSError as e:
        raise PlanError(f"Plan '{p}' cannot be read ({e.strerror}). Pass the file `reconcile plan --out` wrote.") from e
    except ValueError as e:
        if (
            p.suffix.lower() != ".json"
        ):  # PLAN.changes.csv, a report, a snapshot file: the wrong file, not a broken plan
            raise PlanError(
                f"'{p}' is not a plan: a plan is the .json file `reconcile plan --out` wrote (PLAN.json, beside "
                "PLAN.data/). Pass that file."
            ) from e
        raise PlanError(f"Plan '{p}' is not valid JSON ({e}). Rebuild it with `reconcile plan`.") from e
    if not isinstance(plan, dict) or plan.get("format") not in FORMATS:
        raise PlanError(f"Plan '{p}' is not a {FORMAT} (or /1) file. Rebuild it with `reconcile plan`.")
    if plan["format"] == FORMAT and any(k in plan for k in LAZY):
        raise PlanError(
            f"Plan '{p}' is a JSON export of a {FORMAT} plan, not the plan itself. Approve and apply "
            "the manifest `reconcile plan` wrote (with its .data folder), or plan with --format json."
        )
    if verify and compute_plan_id(plan) != plan.get("plan_id"):
        raise PlanError(
            f"Plan '{p}' was edited after it was built: its content no longer matches plan_id "
            f"'{plan.get('plan_id')}'. Rebuild the plan with `reconcile plan` and approve it again."
        )
    out = Plan(plan, p)
    if plan["format"] == FORMAT:
        from . import planfile

        planfile.stamp(out)
        if verify:
            planfile.verify(out)
    return out


def save_plan(plan: dict, path: str | Path, rehash: bool = True) -> dict:
    """Write a plan held in memory (e.g. after an edit) in its own format; with rehash, a new plan_id."""
    if plan.get("format") == FORMAT:
        from . import planfile

        return planfile.save(plan, path, rehash=rehash)
    doc = dict(plan)
    if rehash:
        doc["plan_id"] = compute_plan_id(doc)
    write_atomic(Path(path), dumps(doc))
    return doc


def to_json(plan: dict) -> str:
    """One JSON document with every change, finding and reject inline (dumps layout): the /1 file itself, or
    for /2 the manifest plus its rows — for people (and golden files) who want one file to read."""
    doc = dict(plan.manifest()) if isinstance(plan, Plan) else dict(plan)
    for key in LAZY:
        doc[key] = plan[key] if key in plan or isinstance(plan, Plan) else []
    return dumps(doc)


def csv_safe_sql(column: str) -> str:
    """csvsafe.cell in SQL: a text cell a spreadsheet would run as a formula gets a leading `'` (numbers stay)."""
    col = f'"{column}"'
    return (
        f"case when {col} is not null and regexp_matches({col}, '^[=+\\-@\\t\\r]') and not "
        f"regexp_full_match({col}, '[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?') "
        f"then chr(39) || {col} else {col} end as {col}"
    )


SPREADSHEET_ROWS = 1_048_575  # a spreadsheet's last row (1,048,576) holds the header


def export_paths(out_base: Path) -> tuple[Path, Path]:
    """The spreadsheet exports of a plan: `PLAN.changes.parquet`, `PLAN.changes.csv`."""
    return out_base.with_suffix(".changes.parquet"), out_base.with_suffix(".changes.csv")


def export_changes(con, out_base: Path, into: tuple[Path, Path] | None = None) -> list[Path]:
    """The changes as Parquet and CSV beside the plan, for spreadsheet users (written by DuckDB, no Python rows),
    from the build's plan_changes table, copied as stored when it is stored in the plan's order (sql.STORED_ORDER;
    1.58M changes: 1.5 s, against 1.8 s from the plan's own Parquet file; the same bytes). The CSV is left out when
    there are more changes than a spreadsheet has rows (the Parquet file holds them all).
    into: the (Parquet, CSV) paths to write instead, temporaries the caller moves into place (and then removes an
    older plan's CSV itself when none is written)."""
    cols = tuple(c for c in CHANGE_KEYS if c != "evidence") + ("evidence",)  # the widest column rightmost
    in_order = stored_order(con, "plan_changes") == planfile.ORDER["changes"]
    select = (
        "select object, record_id, field, before ->> '$' as before, after ->> '$' as after, rule, status, "
        "reason, array_to_string(reasons, ';') as reasons, campaign_id, gbu, to_json(evidence)::varchar as "
        "evidence from plan_changes" + ("" if in_order else f" order by {planfile.ORDER['changes']}")
    )
    pq_path, csv_path = into or export_paths(out_base)
    con.execute(f"copy ({select}) to '{_sql_path(pq_path)}' (format parquet, compression zstd)")
    n = con.execute(f"select count(*) from read_parquet('{_sql_path(pq_path)}')").fetchone()[0]
    if n > SPREADSHEET_ROWS:
        if into is None:
            csv_path.unlink(missing_ok=True)  # an older plan's CSV must not pass for this plan's
        return [pq_path]
    safe = ", ".join(csv_safe_sql(c) for c in cols)
    con.execute(
        f"copy (select {safe} from read_parquet('{_sql_path(pq_path)}')) to '{_sql_path(csv_path)}' "
        "(format csv, header true, force_quote *)"
    )
    return [pq_path, csv_path]


def _sql_path(p: Path) -> str:
    return str(p).replace("'", "''")  # a path of our own making, quoted for COPY (which cannot bind it)
