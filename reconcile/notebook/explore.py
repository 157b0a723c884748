"""Helpers behind the analyst notebooks (explore, report, apply): read-only queries and small widgets.

Every query binds its values; a filter left at None matches everything. The campaign and GBU filters follow the
one rule of sql/plan/plan_record_context.sql (as the plan summary's by_campaign and by_gbu do): a Lead matches
through its own GBU__c and its CampaignMembers' campaigns, a CampaignMember through its Campaign.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import duckdb
import polars as pl

from .. import planfile
from ..errors import ReconcileError

ALL = None  # the dropdowns' "(all)" value

_IN_SCOPE = """exists (select 1 from plan_record_context x where x.object = t.object and x.record_id = t.record_id
    and ($campaign is null or x.campaign_id = $campaign) and ($gbu is null or x.gbu = $gbu))"""
CHANGES_SQL = f"""select t.object, t.record_id, t.field, t.before ->> '$' as before, t.after ->> '$' as after,
       t.rule, t.status, t.reason, t.campaign_id, t.gbu
from plan_changes t
where ($rule is null or t.rule = $rule) and ($field is null or t.object || '.' || t.field = $field)
  and ($status is null or t.status = $status)
  and (($campaign is null and $gbu is null) or {_IN_SCOPE})
order by t.object, t.record_id, t.field limit $limit"""
FINDINGS_SQL = f"""select t.kind, t.route, t.object, t.record_id, t.detail, t."at"
from plan_findings t
where ($kind is null or t.kind = $kind) and ($route is null or t.route = $route)
  and (($campaign is null and $gbu is null) or {_IN_SCOPE})
order by t.kind, t.object, t.record_id nulls first, t.detail limit $limit"""
HEADLINES = {
    "Changes by field": "select object || '.' || field as field, count(*) filter (where status = 'ready') as ready, "
    "count(*) filter (where status = 'blocked') as blocked from plan_changes group by 1 order by 1",
    "Blocked changes by reason": "select reason, count(*) as changes from plan_changes where status = 'blocked' "
    "group by 1 order by 2 desc, 1",
    "Findings by kind and route": "select kind, route, count(*) as findings from plan_findings group by 1, 2 "
    "order by 3 desc, 1, 2",
    "Rejected input rows by file": "select file, count(*) as rows from rejects group by 1 order by 1",
}


def locate(plan_path: str = "", db_path: str = "", reports_dir: str = "reports") -> tuple[Path, Path]:
    """(plan, DuckDB) paths: the plan given, else the latest run in reports_dir, else a fresh demo run.

    The demo run (generated snapshot, plan, report) goes to reports_dir/.notebook-demo, which list_runs skips.
    """
    from .run import list_runs, plan_bundle

    if not plan_path:
        runs = list_runs(reports_dir)
        if not runs:
            close_all()  # a second Run All rebuilds the demo database: this kernel's read-only connection must go
        plan_path = (
            runs[-1].plan_path if runs else plan_bundle(work_dir=str(Path(reports_dir) / ".notebook-demo")).plan_path
        )
    plan = Path(plan_path)
    return plan, Path(db_path) if db_path else plan.parent / "reconcile.duckdb"


_OPEN: dict[str, duckdb.DuckDBPyConnection] = {}  # connections open_db made in this process, by file


def open_db(db_path: str | Path) -> duckdb.DuckDBPyConnection:
    """The DuckDB file build_plan wrote, opened read-only (the analyst cannot change the plan tables). Opening a file
    again closes this process's earlier connection to it, so notebooks can be Run All more than once."""
    if not Path(db_path).is_file():
        raise ReconcileError(
            f"DuckDB file '{db_path}' does not exist. Pass db_path the reconcile.duckdb of the plan's run "
            "(empty: the one beside the plan)."
        )
    key = str(Path(db_path).resolve())
    if (old := _OPEN.pop(key, None)) is not None:
        old.close()
    _OPEN[key] = duckdb.connect(key, read_only=True)
    return _OPEN[key]


def close_all() -> None:
    """Close every connection open_db made (before a database they read is rebuilt in this process)."""
    while _OPEN:
        _OPEN.popitem()[1].close()


def headline(con) -> dict[str, pl.DataFrame]:
    """The headline tables: changes by field and status, blocked reasons, findings, rejects."""
    return {title: _frame(con, sql) for title, sql in HEADLINES.items()}


def filter_changes(con, rule=None, field=None, campaign=None, gbu=None, status=None, limit: int = 200) -> pl.DataFrame:
    """Planned changes matching every given filter (field as `Object.Field`), at most `limit` rows."""
    return _frame(
        con,
        CHANGES_SQL,
        {"rule": rule, "field": field, "campaign": campaign, "gbu": gbu, "status": status, "limit": limit},
    )


def filter_findings(con, kind=None, route=None, campaign=None, gbu=None, limit: int = 200) -> pl.DataFrame:
    """Findings matching every given filter, at most `limit` rows."""
    return _frame(con, FINDINGS_SQL, {"kind": kind, "route": route, "campaign": campaign, "gbu": gbu, "limit": limit})


def _frame(con, sql: str, params: dict | None = None) -> pl.DataFrame:
    return con.sql(sql, params=params or None).pl()


def options(con) -> dict[str, list[tuple[str, str | None]]]:
    """Dropdown choices (label, value) for each filter, '(all)' first."""

    def column(sql):
        return [("(all)", ALL)] + [(str(v), v) for (v,) in con.execute(sql).fetchall()]

    campaigns = con.execute(
        "select sf_campaign_id, coalesce(name, sf_campaign_id) from stg_sfdc__campaign order by 2, 1"
    ).fetchall()
    return {
        "rule": column("select distinct rule from plan_changes where rule is not null order by 1"),
        "field": column("select distinct object || '.' || field from plan_changes order by 1"),
        "kind": column("select distinct kind from plan_findings order by 1"),
        "campaign": [("(all)", ALL)] + [(name, cid) for cid, name in campaigns],
        "gbu": column(
            "select gbu from (select gbu from stg_sfdc__lead union select gbu from stg_sfdc__campaign) "
            "where gbu is not null order by 1"
        ),
    }


def widgets_for(con) -> dict:
    """One Dropdown per filter: rule, field, finding kind, campaign, GBU. '(all)' is the value "" (ipywidgets 8 shows
    a None value as no selection at all)."""
    import ipywidgets as w

    labels = {"rule": "Rule", "field": "Field", "kind": "Finding kind", "campaign": "Campaign", "gbu": "GBU"}
    style = {"description_width": "100px"}
    return {
        key: w.Dropdown(
            options=[(label, "" if value is ALL else value) for label, value in opts],
            value="",
            description=labels[key],
            style=style,
            layout=w.Layout(width="520px"),
        )
        for key, opts in options(con).items()
    }


def filtered_html(con, limit: int = 50, **filters) -> str:
    """The changes and findings matching the filters ("" or None = all) as titled HTML tables."""
    f = {k: (v or None) for k, v in filters.items()}
    changes = filter_changes(
        con, rule=f.get("rule"), field=f.get("field"), campaign=f.get("campaign"), gbu=f.get("gbu"), limit=limit
    )
    findings = filter_findings(con, kind=f.get("kind"), campaign=f.get("campaign"), gbu=f.get("gbu"), limit=limit)
    return show(
        {f"Changes ({_shown(changes, limit)})": changes, f"Findings ({_shown(findings, limit)})": findings},
        max_rows=limit,
    ).data


def _shown(frame: pl.DataFrame, limit: int) -> str:
    return f"the first {limit}" if frame.height >= limit else f"{frame.height}"


def explorer(con, limit: int = 50):
    """Filter dropdowns over the changes and findings tables. The tables live in an HTML widget that each change of a
    dropdown rewrites (no Output-widget capture: its message routing made headless runs hang now and then)."""
    import ipywidgets as w

    drops = widgets_for(con)
    tables = w.HTML(filtered_html(con, limit))

    def refresh(_=None):
        tables.value = filtered_html(con, limit, **{k: d.value for k, d in drops.items()})

    for d in drops.values():
        d.observe(refresh, names="value")
    return w.VBox([*drops.values(), tables])


def summary_tables(plan: dict) -> dict[str, pl.DataFrame]:
    """The plan's own summary as tables (no database needed): by field, blocked reasons, findings, gates."""
    summary = plan.get("summary") or {}
    by_field = [{"field": k, **v} for k, v in (summary.get("by_field") or {}).items()]
    tables = {
        "Changes by field": pl.DataFrame(by_field, schema={"field": pl.String, "ready": pl.Int64, "blocked": pl.Int64}),
        "Blocked changes by reason": _pairs(summary.get("by_reason"), "reason", "changes"),
        "Findings by route": _pairs((summary.get("findings") or {}).get("by_route"), "route", "findings"),
    }
    if plan.get("gates"):
        tables["Gates (approval must override with a reason)"] = pl.DataFrame(
            [{k: g.get(k) for k in ("gate", "object", "field", "count", "limit", "message")} for g in plan["gates"]]
        )
    return tables


def _pairs(counts: dict | None, key: str, value: str) -> pl.DataFrame:
    items = list((counts or {}).items())
    return pl.DataFrame(
        {key: [k for k, _ in items], value: [v for _, v in items]}, schema={key: pl.String, value: pl.Int64}
    )


def show(tables: dict[str, pl.DataFrame], max_rows: int = 50):
    """Titled tables as one HTML display object."""
    from IPython.display import HTML

    with pl.Config(tbl_rows=max_rows, fmt_str_lengths=120):
        parts = [f"<h4>{html.escape(title)}</h4>{frame._repr_html_()}" for title, frame in tables.items()]
    return HTML("".join(parts))


def example_record(plan: dict) -> str | None:
    """A record id worth explaining: the first change's record, else the first finding's."""
    for part in ("changes", "findings"):
        first = planfile.rows(plan, part, "record_id is not null", columns=("record_id",), limit=1)
        if first:
            return first[0]["record_id"]
    return None


def explain_text(plan: dict, record_id: str = "") -> str:
    """`reconcile explain` text for record_id (empty: an example record of the plan)."""
    from ..explain import explain, render_text

    rid = record_id or example_record(plan)
    return render_text(explain(plan, rid)) if rid else "The plan has no changes and no findings to explain."


def report_frame(report_path: str | Path, height: int = 900):
    """The self-contained HTML report inline in a notebook, isolated in a sandboxed iframe: its CSS stays inside, and
    it gets an origin of its own with no script, so nothing in it can reach the notebook page or its kernel (record
    links still open in a new tab). Its own base URL (about:srcdoc) keeps its table of contents inside it: a srcdoc
    document resolves '#findings' against the notebook page's URL, so a click loaded that page into the frame. The
    base goes first in <head>, ahead of the report's CSP (base-uri 'none' binds only what follows it)."""
    from IPython.display import HTML

    doc = Path(report_path).read_text("utf-8")
    head = re.search(r"<head\b[^>]*>", doc, re.IGNORECASE)
    at = head.end() if head else 0
    doc = f'{doc[:at]}<base href="about:srcdoc">{doc[at:]}'
    return HTML(
        '<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" '
        f'srcdoc="{html.escape(doc, quote=True)}" style="width:100%;height:{int(height)}px;'
        f'border:1px solid #ccc"></iframe>'
    )


def field_samples(plan: dict, per_field: int = 5) -> pl.DataFrame:
    """The first `per_field` changes of each object.field, for review before approval."""
    first = f"row_number() over (partition by object, field order by record_id) <= {int(per_field)}"
    rows = planfile.rows(
        plan, "changes", qualify=first, columns=("object", "field", "record_id", "before", "after", "status", "reason")
    )
    if not rows:
        return pl.DataFrame()
    frame = pl.DataFrame(rows, schema={k: pl.String for k in rows[0]}, strict=False)
    return frame.group_by(["object", "field"], maintain_order=True).head(per_field)
