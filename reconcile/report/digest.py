"""The CRM Admin's weekly connector review (seed §3.5), from the week's run bundles and the audit trail.

    from reconcile.report.digest import build_digest
    d = build_digest("2026-11-27", reports_dir="reports")   # → reports/weekly/2026-W48.html and .md

Connector errors by object / field / message with counts and first / last seen, apply exceptions, what was
applied and by whom, findings opened and closed across the week's runs. HTML in the report's look, Markdown for
Jira or a wiki.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from ..apply import runbook
from ..clock import ISO_FORMAT
from ..errors import ReconcileError
from ..files import write_atomic
from ..notify_state import subject
from ..plan import load_plan
from ..notebook.run import list_runs

TEMPLATES = Path(__file__).parent.parent / "templates"


@dataclass
class Digest:
    week: str
    start: str
    end: str
    runs: list[str]
    connector_errors: list[dict]
    exceptions: list[dict]
    applied: list[dict]
    findings: list[dict]  # {kind, opened, closed, open_at_end}
    html_path: Path | None = None
    md_path: Path | None = None


def week_of(day: str | None) -> tuple[str, date, date]:
    try:
        d = date.fromisoformat(day) if day else datetime.now().date()
    except ValueError as e:
        raise ReconcileError(f"Week date '{day}' is not a date like 2026-11-27. Pass --week YYYY-MM-DD.") from e
    start = d - timedelta(days=d.weekday())
    year, week, _ = d.isocalendar()
    return f"{year}-W{week:02d}", start, start + timedelta(days=6)


def _read(db: Path, sql: str) -> list[tuple]:
    """Rows of `sql` ($iso: the workbench's UTC text form, clock.ISO_FORMAT), [] when the file or table is absent."""
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return []
    try:
        return con.execute(sql, {"iso": ISO_FORMAT} if "$iso" in sql else None).fetchall()
    except duckdb.CatalogException:
        return []
    finally:
        con.close()


def build_digest(
    day: str | None = None,
    reports_dir: str | Path = "reports",
    out_dir: str | Path | None = None,
    audit_dbs: tuple[Path, ...] = (),
) -> Digest:
    week, start, end = week_of(day)
    runs = list_runs(reports_dir)
    in_week = [b for b in runs if start.isoformat() <= b.run_date <= end.isoformat()]
    before = [b for b in runs if b.run_date < start.isoformat()]
    d = Digest(
        week=week,
        start=start.isoformat(),
        end=end.isoformat(),
        runs=[b.run_id for b in in_week],
        connector_errors=_connector_errors(in_week, start, end),
        exceptions=[],
        applied=[],
        findings=_findings(before[-1:] + in_week, bool(before)),
    )
    d.exceptions, d.applied = _audit([b.db_path for b in in_week] + list(audit_dbs), start, end)
    out = Path(out_dir) if out_dir else Path(reports_dir) / "weekly"
    d.md_path, d.html_path = out / f"{week}.md", out / f"{week}.html"
    write_atomic(d.md_path, to_markdown(d))
    write_atomic(d.html_path, to_html(d))
    return d


def _connector_errors(bundles, start: date, end: date) -> list[dict]:
    seen = set()
    groups: dict[tuple, dict] = {}
    for b in bundles:
        rows = _read(
            b.db_path,
            "select object, record_id, field, message, strftime(error_at, $iso) from stg_clay__errors",
        )
        for obj, rid, fld, msg, at in rows:
            if (obj, rid, fld, msg, at) in seen or (at and not start.isoformat() <= at[:10] <= end.isoformat()):
                continue
            seen.add((obj, rid, fld, msg, at))
            g = groups.setdefault(
                (obj or "", fld or "", msg or ""),
                {
                    "object": obj or "",
                    "field": fld or "",
                    "message": msg or "",
                    "count": 0,
                    "records": set(),
                    "first": at,
                    "last": at,
                },
            )
            g["count"] += 1
            g["records"].add(rid)
            g["first"] = min(x for x in (g["first"], at) if x) if (g["first"] or at) else None
            g["last"] = max(x for x in (g["last"], at) if x) if (g["last"] or at) else None
    out = [{**g, "records": len(g["records"])} for g in groups.values()]
    return sorted(out, key=lambda g: (-g["count"], g["object"], g["field"], g["message"]))


def _audit(dbs: list[Path], start: date, end: date) -> tuple[list[dict], list[dict]]:
    rows, seen = [], set()
    for db in dbs:
        for r in _read(
            db,
            "select plan_id, approver, object, record_id, field, result, error_code, message, "
            'strftime("at", $iso) from audit order by seq',
        ):
            key = tuple(r)
            if key in seen or not r[8] or not start.isoformat() <= r[8][:10] <= end.isoformat():
                continue
            seen.add(key)
            rows.append(
                dict(
                    zip(
                        (
                            "plan_id",
                            "approver",
                            "object",
                            "record_id",
                            "field",
                            "result",
                            "error_code",
                            "message",
                            "at",
                        ),
                        r,
                    )
                )
            )
    exceptions = [
        {**r, "next_step": runbook.as_text(r["result"], r["error_code"])}
        for r in rows
        if r["result"] in ("failed", "refused")
    ]
    applied = Counter((r["approver"] or "", f"{r['object']}.{r['field']}") for r in rows if r["result"] == "applied")
    return exceptions, [{"approver": a, "field": f, "count": n} for (a, f), n in sorted(applied.items())]


def _findings(bundles, has_baseline: bool) -> list[dict]:
    opened, closed = Counter(), Counter()
    prev = None
    last: set = set()
    for b in bundles:
        keys = {
            (f["kind"], f.get("object") or "", subject(f))  # as notify counts them: one per record or source row
            for f in load_plan(b.plan_path, verify=False).get("findings") or []
        }
        if prev is not None or not has_baseline:
            for k in keys - (prev or set()):
                opened[k[0]] += 1
            for k in (prev or set()) - keys:
                closed[k[0]] += 1
        prev, last = keys, keys
    at_end = Counter(k[0] for k in last)
    kinds = sorted(set(opened) | set(closed) | set(at_end))
    return [{"kind": k, "opened": opened[k], "closed": closed[k], "open_at_end": at_end[k]} for k in kinds]


def _md_table(header: list[str], rows: list[list]) -> list[str]:
    def cell(v):
        return str("" if v is None else v).replace("|", "\\|").replace("\n", " ")

    return (
        ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
        + [""]
    )


def to_markdown(d: Digest) -> str:
    lines = [
        f"# Weekly connector review — {d.week} ({d.start} to {d.end})",
        "",
        f"Runs: {len(d.runs)} ({', '.join(d.runs) or 'none'})",
        "",
        "## Connector errors",
        "",
    ]
    lines += (
        _md_table(
            ["object", "field", "message", "count", "records", "first seen", "last seen"],
            [
                [g["object"], g["field"], g["message"], g["count"], g["records"], g["first"], g["last"]]
                for g in d.connector_errors
            ],
        )
        if d.connector_errors
        else ["None logged this week.", ""]
    )
    lines += ["## Apply exceptions", ""]
    lines += (
        _md_table(
            ["at", "object", "record", "field", "result", "error", "message", "next step"],
            [
                [
                    e["at"],
                    e["object"],
                    e["record_id"],
                    e["field"],
                    e["result"],
                    e["error_code"],
                    e["message"],
                    e["next_step"],
                ]
                for e in d.exceptions
            ],
        )
        if d.exceptions
        else ["None.", ""]
    )
    lines += ["## Applied", ""]
    lines += (
        _md_table(["approved by", "field", "records"], [[a["approver"], a["field"], a["count"]] for a in d.applied])
        if d.applied
        else ["Nothing.", ""]
    )
    lines += ["## Findings opened / closed", ""]
    lines += (
        _md_table(
            ["kind", "opened", "closed", "open at end of week"],
            [[f["kind"], f["opened"], f["closed"], f["open_at_end"]] for f in d.findings],
        )
        if d.findings
        else ["None.", ""]
    )
    return "\n".join(lines)


def to_html(d: Digest) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
    return env.get_template("digest.html.j2").render(d=d)


def digest_totals(d: Digest) -> dict:
    by_obj = defaultdict(int)
    for g in d.connector_errors:
        by_obj[g["object"]] += g["count"]
    return {
        "connector_errors": sum(g["count"] for g in d.connector_errors),
        "by_object": dict(by_obj),
        "exceptions": len(d.exceptions),
        "applied": sum(a["count"] for a in d.applied),
    }
