"""The daily HTML report for MARCOM Ops: one self-contained, deterministic file per plan.

All aggregation happens here, in one pass over changes and findings; the template only lays out.
Samples are capped so a plan with 100k+ changes renders quickly and stays readable.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from reconcile.report import charts
from reconcile import planfile
from reconcile.plan import FORMAT, LAZY, Plan
from reconcile.policy import BLOCKED_REASONS
from reconcile.report.report_text import KINDS, REASONS, ROUTES, RULES
from ..clock import parse_utc
from ..files import as_text, write_atomic

TEMPLATES = Path(__file__).parent.parent / "templates"
SAMPLE_PER_KIND = 50
SAMPLE_PER_FIELD = 25
SAMPLE_BOUNCE = 50
SAMPLE_REJECTS = 200
CHART_ROWS = 15
TREND_RUNS = 30
TREND_TABLE_RUNS = 10
CONNECTOR_WINDOW = timedelta(days=7)

HARD_BOUNCE_KINDS = ("overall_formula_mismatch", "pardot_sync_gap", "bounce_hop_lost")


def render_report(
    plan: dict,
    out_path: Path,
    history: list[dict] | None = None,
    title: str | None = None,
    weekly_review: str | None = None,
    instance_url: str | None = None,
    since: dict | None = None,
    findings_exports: dict[str, str] | None = None,
    run_date: str | None = None,
) -> Path:
    """Render `plan` (and earlier runs in `history`, oldest first) to one self-contained HTML file.

    `weekly_review`: relative link to the week's connector review (reconcile digest), shown with connector errors.
    `findings_exports`: route → CSV file name beside the report with all of that route's findings (linked).
    `instance_url`: the org's URL (e.g. https://acme.my.salesforce.com; default SF_INSTANCE_URL): record ids link
    to their Lightning page. `since`: what became of the previous run's plan (run.since_last_run). `run_date`: the
    day a daily run is for (`reconcile run --date`), which places and labels it among the trends' runs."""
    from ..messages import instance_url as configured_instance, sf_link

    out_path = Path(out_path)
    instance = configured_instance(instance_url)
    context = {
        **build_context(plan, history, title, run_date),
        "weekly_review": weekly_review,
        "since": since,
        "exports": findings_exports or {},
        "sf_instance": instance,
        "sf_link": sf_link,
    }
    html = _environment().get_template("report.html.j2").render(**context)
    write_atomic(out_path, html)
    return out_path


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=charts.visible,
    )
    env.filters["num"] = lambda n: f"{int(n or 0):,}"
    env.filters["evidence"] = format_evidence
    env.filters["value"] = format_value
    env.filters["when"] = format_time
    return env


def build_context(
    plan: dict, history: list[dict] | None = None, title: str | None = None, run_date: str | None = None
) -> dict[str, Any]:
    """Everything the template shows, computed once."""
    summary = plan.get("summary") or {}
    data = plan_rows(plan)
    runs = collect_runs(plan, history or [], run_date)
    created = plan.get("created_at") or ""
    return {
        "title": title or f"Reconciliation report — {created[:10] or 'undated'}",
        "plan": plan,
        "meta": _meta(plan),
        "tiles": _tiles(summary, runs),
        "glance": glance(summary),
        "gates": plan.get("gates") or [],
        "breakdowns": _breakdowns(summary),
        "blocked": blocked_sentences(summary.get("by_reason") or {}, data.get("also_blocked") or []),
        "bounce": _hard_bounce(data, summary),
        "routes": findings_by_route(data["findings"], summary, data.get("route_counts")),
        "rejects": _rejects(data, summary),
        "connector": connector_errors(
            {"snapshot": plan.get("snapshot"), "created_at": plan.get("created_at"), "findings": data["findings"]}
        ),
        "inputs": inputs(summary),
        "trends": _trends(runs),
        "field_samples": change_samples(data["changes"], data.get("field_totals")),
        "caps": {"field": SAMPLE_PER_FIELD, "kind": SAMPLE_PER_KIND, "chart": CHART_ROWS},
    }


def plan_rows(plan: dict) -> dict[str, Any]:
    """The rows the report shows. A /2 plan is queried (capped samples + exact counts), never loaded whole;
    a plan held as lists (/1, or rows already loaded) is used as it is."""
    if not (isinstance(plan, Plan) and plan.get("format") == FORMAT and not any(k in plan for k in LAZY)):
        changes = plan.get("changes") or []
        also = Counter(
            (c.get("reason"), other)
            for c in changes
            if c.get("status") == "blocked"
            for other in (c.get("reasons") or [])
            if other != c.get("reason")
        )
        return {
            "changes": changes,
            "findings": plan.get("findings") or [],
            "rejects": plan.get("rejects") or [],
            "also_blocked": sorted((r, o, n) for (r, o), n in also.items()),
        }
    per_field = max(SAMPLE_PER_FIELD, SAMPLE_BOUNCE)
    by_kind = max(SAMPLE_PER_KIND, SAMPLE_BOUNCE)
    forder = planfile.order_of("findings")
    changes = planfile.rows(
        plan,
        "changes",
        qualify=(
            f"row_number() over (partition by object, field order by record_id) <= {per_field} or (rule = "
            f"'hard_bounce_union' and row_number() over (partition by rule order by object, record_id, field) <= "
            f"{SAMPLE_BOUNCE})"
        ),
    )
    findings = planfile.rows(
        plan,
        "findings",
        qualify=(
            f"kind = 'connector_error' or row_number() over (partition by kind, route order by {forder}) <= {by_kind} "
            f"or row_number() over (partition by kind order by {forder}) <= {by_kind}"
        ),
    )
    routes: dict[str, Counter] = defaultdict(Counter)
    for route, kind, n in planfile.pairs(plan, "select route, kind, count(*) from findings group by all"):
        routes[route or "(unrouted)"][kind or "(unknown)"] = n
    totals = {
        k: int(v.get("ready", 0)) + int(v.get("blocked", 0))
        for k, v in ((plan.get("summary") or {}).get("by_field") or {}).items()
    }
    return {
        "changes": changes,
        "findings": findings,
        "route_counts": routes,
        "field_totals": totals,
        "bounce_changes": planfile.scalar(plan, "select count(*) from changes where rule = 'hard_bounce_union'"),
        "bounce_findings": planfile.scalar(
            plan, "select count(*) from findings where list_contains(?, kind)", [list(HARD_BOUNCE_KINDS)]
        ),
        "rejects": planfile.rows(plan, "rejects", limit=SAMPLE_REJECTS),
        "rejects_total": planfile.scalar(plan, "select count(*) from rejects"),
        # (first reason, another reason, changes): what else holds a change its first reason names (SPEC §4: the
        # first reason is given and the others listed) — a value waiting for Legal may be too long besides
        "also_blocked": planfile.pairs(
            plan,
            "select reason, other, count(*) from (select reason, unnest(list_filter(reasons, lambda r: r <> reason)) as "
            "other from changes where status = 'blocked' and len(reasons) > 1) group by all order by all",
        ),
    }


def _meta(plan: dict) -> dict[str, Any]:
    snapshot = plan.get("snapshot") or {}
    summary = plan.get("summary") or {}
    return {
        "plan_id": plan.get("plan_id") or "",
        "created_at": plan.get("created_at") or "",
        "taken_at": sorted((snapshot.get("taken_at") or {}).items(), key=lambda kv: (_source_rank(kv[0]), kv[0])),
        "snapshot_dir": snapshot.get("dir") or "",
        "files": len(snapshot.get("fingerprints") or {}),
        "policy": (plan.get("policy") or {}).get("fingerprint") or "",
        "records": list((summary.get("records") or {}).items()),
    }


def _source_rank(source: str) -> int:
    order = ("sfdc", "clay", "smartlead", "pardot")
    return order.index(source) if source in order else len(order)


def _tiles(summary: dict, runs: list[dict]) -> list[dict[str, Any]]:
    changes = summary.get("changes") or {}
    spec = [
        ("ready", "Ready to write", changes.get("ready", 0), charts.BLUE, lambda s: _get(s, "changes", "ready")),
        ("blocked", "Blocked", changes.get("blocked", 0), charts.ORANGE, lambda s: _get(s, "changes", "blocked")),
        (
            "findings",
            "Findings",
            _get(summary, "findings", "total"),
            charts.PURPLE,
            lambda s: _get(s, "findings", "total"),
        ),
        (
            "rejects",
            "Rejected input rows",
            _get(summary, "rejects", "total"),
            charts.VERMILLION,
            lambda s: _get(s, "rejects", "total"),
        ),
        (
            "leaving",
            "Leads leaving the cold pool",
            _get(summary, "eligibility", "leaving_pool"),
            charts.GREEN,
            lambda s: _get(s, "eligibility", "leaving_pool"),
        ),
    ]
    earlier = [r for r in runs if not r.get("is_current")]
    return [
        {
            "id": key,
            "label": label,
            "value": value,
            "colour": colour,
            "delta": value - pick(earlier[-1]["summary"]) if earlier else None,
            "spark": charts.sparkline([pick(r["summary"]) for r in runs[-TREND_RUNS:]], colour),
        }
        for key, label, value, colour, pick in spec
    ]


def glance(summary: dict) -> list[str]:
    """The day in two or three plain sentences, for the top of the report."""
    ready, blocked = _get(summary, "changes", "ready"), _get(summary, "changes", "blocked")
    legal = int((summary.get("by_reason") or {}).get("pending_legal") or 0)
    lines = [
        f"{ready:,} change{'s' if ready != 1 else ''} ready to write after approval, {blocked:,} blocked"
        + (f" ({legal:,} waiting for Legal)." if legal else ".")
    ]
    routes = [(r, n) for r, n in ((summary.get("findings") or {}).get("by_route") or {}).items() if n]
    if routes:
        lines.append("Findings to act on: " + ", ".join(f"{r} {n:,}" for r, n in routes) + ".")
    gates = int(summary.get("gates") or 0)
    if gates:
        lines.append(
            f"{gates} plan-level gate{'s' if gates != 1 else ''} need{'' if gates != 1 else 's'} "
            "an explicit override before apply."
        )
    return lines


def _get(summary: dict, section: str, key: str) -> int:
    return int((summary.get(section) or {}).get(key) or 0)


def _ranked(counts: dict[str, dict]) -> list[tuple[str, dict]]:
    total = lambda item: item[1].get("ready", 0) + item[1].get("blocked", 0)  # noqa: E731
    return sorted(counts.items(), key=lambda item: (-total(item), item[0]))


def _breakdowns(summary: dict) -> list[dict[str, Any]]:
    campaigns = {
        cid: {**c, "label": f"{c.get('name') or cid}"} for cid, c in (summary.get("by_campaign") or {}).items()
    }
    # sql/plan/plan_record_context.sql: a Lead's change belongs to every campaign it is a member of, and their GBUs
    more = "so these rows can add up to more than the plan's totals."
    overlap = {
        "campaign": f"A Lead's change counts under every campaign the Lead is a member of, {more}",
        "gbu": f"A Lead's change counts under its own GBU and the GBU of each of its campaigns, {more}",
    }
    sections = [
        ("field", "By field", summary.get("by_field") or {}, None),
        ("rule", "By rule", summary.get("by_rule") or {}, RULES),
        ("campaign", "By campaign", campaigns, None),
        ("gbu", "By GBU", summary.get("by_gbu") or {}, None),
    ]
    out = []
    for key, heading, counts, notes in sections:
        ranked = _ranked(counts)
        rows = [
            {
                "key": k,
                "label": v.get("label", k),
                "ready": v.get("ready", 0),
                "blocked": v.get("blocked", 0),
                "gbu": v.get("gbu"),
                "note": (notes or {}).get(k),
            }
            for k, v in ranked
        ]
        chart = charts.hbar_chart(
            [(r["label"], (r["ready"], r["blocked"])) for r in rows[:CHART_ROWS]],
            aria_label=f"changes {heading.lower()}",
        )
        out.append(
            {
                "id": key,
                "heading": heading,
                "rows": rows[:50],
                "more": max(0, len(rows) - 50),
                "chart": chart,
                "chart_more": max(0, len(rows) - CHART_ROWS),
                "note": overlap.get(key),
            }
        )
    return out


def blocked_sentences(by_reason: dict[str, int], also: list[tuple] = ()) -> list[dict[str, Any]]:
    """One plain sentence per blocked reason, in BLOCKED_REASONS order, unknown reasons last. `also`: (reason,
    another reason, changes) — a change blocked for several reasons is counted under its first, and the sentence
    says what else holds it (so "released when Legal approves" never promises what Legal alone cannot release)."""
    order = list(BLOCKED_REASONS) + sorted(set(by_reason) - set(BLOCKED_REASONS))
    rank = {r: i for i, r in enumerate(order)}
    others: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for reason, other, n in also:
        others[reason].append((other, int(n)))
    out = []
    for reason in order:
        n = int(by_reason.get(reason) or 0)
        if not n:
            continue
        one, many, action = REASONS.get(reason, ("{n} change blocked", "{n} changes blocked", ""))
        listed = sorted(others.get(reason, []), key=lambda o: (rank.get(o[0], len(rank)), o[0]))
        out.append(
            {
                "reason": reason,
                "count": n,
                "text": (one if n == 1 else many).format(n=f"{n:,}"),
                "action": action,
                "also": ", ".join(f"{other} {k:,}" for other, k in listed),
            }
        )
    return out


def _hard_bounce(data: dict, summary: dict) -> dict[str, Any]:
    by_kind = (summary.get("findings") or {}).get("by_kind") or {}
    rule = (summary.get("by_rule") or {}).get("hard_bounce_union") or {}
    findings = [f for f in data["findings"] if f.get("kind") in HARD_BOUNCE_KINDS]
    changes = [c for c in data["changes"] if c.get("rule") == "hard_bounce_union"]
    n_findings, n_changes = data.get("bounce_findings", len(findings)), data.get("bounce_changes", len(changes))
    return {
        "counts": [{"kind": k, "count": int(by_kind.get(k) or 0), "note": KINDS[k]} for k in HARD_BOUNCE_KINDS],
        "ready": int(rule.get("ready") or 0),
        "blocked": int(rule.get("blocked") or 0),
        "findings": findings[:SAMPLE_BOUNCE],
        "findings_more": max(0, n_findings - SAMPLE_BOUNCE),
        "changes": changes[:SAMPLE_BOUNCE],
        "changes_more": max(0, n_changes - SAMPLE_BOUNCE),
    }


def findings_by_route(
    findings: list[dict], summary: dict, route_counts: dict[str, Counter] | None = None
) -> list[dict[str, Any]]:
    """Routes in escalation order, each with counts per kind and a capped sample per kind (counts from
    `route_counts` when the findings are only a sample)."""
    samples: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    counts: dict[str, Counter] = defaultdict(Counter, route_counts or {})
    for f in findings:
        route, kind = f.get("route") or "(unrouted)", f.get("kind") or "(unknown)"
        if route_counts is None:
            counts[route][kind] += 1
        if len(samples[route][kind]) < SAMPLE_PER_KIND:
            samples[route][kind].append(f)
    by_route = (summary.get("findings") or {}).get("by_route") or {}
    names = list(ROUTES) + sorted((set(counts) | set(by_route)) - set(ROUTES))
    out = []
    for route in names:
        kinds = [
            {
                "kind": k,
                "count": n,
                "note": KINDS.get(k, ""),
                "sample": samples[route][k],
                "more": n - len(samples[route][k]),
            }
            for k, n in sorted(counts[route].items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        total = int(by_route.get(route, sum(counts[route].values())) or 0)
        out.append(
            {
                "route": route,
                "about": ROUTES.get(route, ""),
                "total": total,
                "kinds": kinds,
                "slug": route.lower().replace(" ", "-"),
            }
        )
    return out


def _rejects(data: dict, summary: dict) -> dict[str, Any]:
    rows = data["rejects"]
    rejects = summary.get("rejects") or {}
    by_file = rejects.get("by_file") or dict(Counter(r.get("file") or "" for r in rows))
    return {
        "total": int(rejects.get("total", len(rows)) or 0),
        "by_file": sorted(by_file.items(), key=lambda kv: (-kv[1], kv[0])),
        "rows": rows[:SAMPLE_REJECTS],
        "more": max(0, data.get("rejects_total", len(rows)) - SAMPLE_REJECTS),
    }


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parse_utc(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)  # naive times are UTC


def _error_message(finding: dict) -> str:
    for ev in finding.get("evidence") or []:
        if str(ev.get("column") or "").lower() in ("message", "error", "error message") and ev.get("value"):
            return str(ev["value"])
    return str(finding.get("detail") or "(no message)")


def inputs(summary: dict) -> dict[str, Any]:
    """What the plan was built from: warnings for the banner (missing, stale or ignored inputs), the sources and
    every file read with its records. Plans from before summary.inputs existed show nothing here."""
    block = summary.get("inputs") or {}
    return {
        "known": bool(block),
        "warnings": block.get("warnings") or [],
        "sources": sorted((block.get("sources") or {}).items(), key=lambda kv: _source_rank(kv[0])),
        "files": block.get("files") or [],
        "ignored": block.get("ignored") or [],
        "not_used": block.get("not_used") or [],
        "error_log": any(f.get("source") == "clay__errors" for f in block.get("files") or []),
    }


def connector_errors(plan: dict) -> dict[str, Any]:
    """Connector errors of the week, grouped by message: the 7 days up to the later of the Salesforce snapshot and
    the Clay error log's export, (end − 7 d, end] so consecutive weekly windows never count an error twice. Errors
    before the window are counted as older; errors dated after the log was exported (a clock or time-zone problem in
    the log) are counted apart, never called older."""
    taken = (plan.get("snapshot") or {}).get("taken_at") or {}
    anchors = [t for t in (_parse_time(taken.get("sfdc")), _parse_time(taken.get("clay"))) if t is not None]
    ref = max(anchors) if anchors else _parse_time(plan.get("created_at"))
    groups: dict[str, dict[str, Any]] = {}
    outside = later = 0
    for f in plan.get("findings") or []:
        if f.get("kind") != "connector_error":
            continue
        at = _parse_time(f.get("at"))
        if ref is not None and at is not None and at > ref:
            later += 1
            continue
        if ref is None or at is None or at <= ref - CONNECTOR_WINDOW:
            outside += 1
            continue
        msg = _error_message(f)
        g = groups.setdefault(
            msg, {"message": msg, "count": 0, "objects": set(), "first": at, "last": at, "records": []}
        )
        g["count"] += 1
        g["objects"].add(f.get("object") or "")
        g["first"], g["last"] = min(g["first"], at), max(g["last"], at)
        if f.get("record_id") and len(g["records"]) < 5 and f["record_id"] not in g["records"]:
            g["records"].append(f["record_id"])
    rows = sorted(groups.values(), key=lambda g: (-g["count"], g["message"]))
    for g in rows:
        g["objects"] = ", ".join(sorted(o for o in g["objects"] if o))
        g["first"], g["last"] = _iso(g["first"]), _iso(g["last"])
    return {
        "groups": rows,
        "total": sum(g["count"] for g in rows),
        "outside": outside,
        "later": later,
        "start": _iso(ref - CONNECTOR_WINDOW) if ref else "",
        "end": _iso(ref) if ref else "",
    }


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def format_time(value: Any) -> str:
    """'2026-11-27 05:00 UTC' for an ISO timestamp; anything unparseable as given."""
    parsed = _parse_time(value) if value else None
    if parsed is None:
        return str(value or "")
    parsed = parsed.astimezone(timezone.utc)
    return parsed.strftime("%Y-%m-%d %H:%M" + (":%S" if parsed.second else "") + " UTC")


def collect_runs(plan: dict, history: list[dict], run_date: str | None = None) -> list[dict]:
    """Earlier runs plus this one, deduplicated by run id (this plan's id wins), oldest first: by the day each run
    is for (its run date, else the day it was planned), then by when it was planned."""
    current = {
        "run_id": plan.get("plan_id") or "current",
        "created_at": plan.get("created_at") or "",
        "summary": plan.get("summary") or {},
        "run_date": run_date,
        "is_current": True,
    }
    by_id: dict[str, dict] = {}
    for run in [*history, current]:
        by_id[str(run.get("run_id") or run.get("plan_id") or "")] = {**run, "is_current": run is current}

    def order(r: dict) -> tuple[str, str, str]:
        created = str(r.get("created_at") or "")
        return (str(r.get("run_date") or created[:10]), created, str(r.get("run_id") or ""))

    runs = sorted(by_id.values(), key=order)
    return [{**r, "summary": r.get("summary") or {}} for r in runs]


def _trends(runs: list[dict]) -> dict[str, Any]:
    recent = runs[-TREND_RUNS:]
    # a run is labelled by its run date (a backfilled run's, not the day it was planned), else when it was planned
    days = [str(r.get("run_date") or r.get("created_at") or "")[:10] for r in recent]
    labels = days if len(set(days)) == len(days) else [str(r.get("created_at") or "")[5:16] for r in recent]
    chart = (
        charts.line_chart(
            labels,
            [
                ("ready", charts.BLUE, [_get(r["summary"], "changes", "ready") for r in recent]),
                ("blocked", charts.ORANGE, [_get(r["summary"], "changes", "blocked") for r in recent]),
                ("findings", charts.PURPLE, [_get(r["summary"], "findings", "total") for r in recent]),
            ],
            aria_label="ready, blocked and findings per run (numbers in the table below)",
        )
        if len(recent) > 1
        else None
    )
    table_runs = recent[-TREND_TABLE_RUNS:]
    fields = sorted({f for r in table_runs for f in (r["summary"].get("by_field") or {})})
    table = [{"field": f, "cells": [(r["summary"].get("by_field") or {}).get(f) for r in table_runs]} for f in fields]
    current = [i for i, r in enumerate(table_runs) if r.get("is_current")]
    totals = [
        {
            "ready": _get(r["summary"], "changes", "ready"),
            "blocked": _get(r["summary"], "changes", "blocked"),
            "findings": _get(r["summary"], "findings", "total"),
        }
        for r in table_runs
    ]
    return {
        "count": len(runs),
        "chart": chart,
        "labels": labels[-TREND_TABLE_RUNS:],
        "totals": totals,
        "fields": table,
        "current": current[0] if current else -1,
    }


def change_samples(changes: list[dict], totals: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Per object.field: counts and the first SAMPLE_PER_FIELD changes (the plan is already sorted); the counts
    come from `totals` when the changes are only a sample."""
    fields: dict[str, dict[str, Any]] = {}
    for c in changes:
        key = f"{c.get('object')}.{c.get('field')}"
        entry = fields.setdefault(key, {"field": key, "total": 0, "sample": []})
        entry["total"] = totals.get(key, 0) if totals is not None else entry["total"] + 1
        if len(entry["sample"]) < SAMPLE_PER_FIELD:
            entry["sample"].append(c)
    out = sorted(fields.values(), key=lambda e: e["field"])
    for e in out:
        e["more"] = e["total"] - len(e["sample"])
    return out


def format_evidence(evidence: list[dict] | None, limit: int = 3) -> list[str]:
    """'file:row (column = value)' for the first few evidence items, then '+N more'."""
    items = []
    for ev in (evidence or [])[:limit]:
        where = f"{ev.get('file') or ev.get('source') or '?'}" + (f":{ev['row']}" if ev.get("row") is not None else "")
        what = f"{ev['column']} = " if ev.get("column") else ""
        if ev.get("value") is not None:
            where += f" ({what}{format_value(ev['value'])})"
        items.append(where)
    if len(evidence or []) > limit:
        items.append(f"+{len(evidence) - limit} more")
    return items


def format_value(value: Any) -> str:
    """Plain text for a before/after value; long text clipped."""
    text = as_text(value, blank="(blank)")
    return text if len(text) <= 160 else text[:159] + "…"
