"""`reconcile notify PLAN`: findings reach the people who act (seed §3.5 escalation path, sprint Jira ticket).

    from reconcile.notify import notify
    result = notify("plans/2026-11-27.json")            # state in reconcile.duckdb beside the plan

One message per route and run with what is new (a finding already told for the same record — or source row,
when it has no record — and kind is not told again until it changes), legal/compliance findings to the DPO
directly, connector-level findings still open after `escalate_after_days` escalated to IT Infra with their
history, the run's apply exceptions and the connector's missing-field errors as one comment on the sprint ticket.
Every message goes through the outbox in the DuckDB file: one that cannot be delivered is retried once, reported,
and sent by the next run.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from . import messages, notify_state as state, senders
from .apply import runbook
from .csvsafe import uncell
from .destinations import LEGAL_KINDS, ROUTE_NAMES, NotifySettings
from .errors import PolicyError, refuse_not_duckdb, unopened_db
from .files import write_atomic
from .plan import load_plan
from .policy import load_policy
from .clock import iso

MISSING_FIELD = re.compile(r"required|missing", re.IGNORECASE)
RETRY_PAUSE = 0.5


@dataclass
class NotifyResult:
    messages: list[dict] = field(default_factory=list)  # {route, channel, target, subject, status, detail}
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> list[dict]:
        return [m for m in self.messages if m["status"] == "queued"]


def notify(
    plan_path: str | Path,
    db: str | Path | None = None,
    policy: str | Path | None = None,
    dry_run: bool = False,
    jira_ticket: str | None = None,
    sleep=time.sleep,
) -> NotifyResult:
    plan_path = Path(plan_path)
    plan = load_plan(plan_path)  # what it tells people is what plan_id binds
    settings = load_policy(policy).notify or NotifySettings()
    db_path = Path(db) if db else plan_path.with_name("reconcile.duckdb")
    refuse_not_duckdb(db_path)
    try:
        con = duckdb.connect(str(db_path))
    except duckdb.Error as e:  # it holds the notify state (who was told what)
        raise unopened_db(db_path, e) from e
    result = NotifyResult()
    try:
        state.create_tables(con)
        con.execute("begin transaction")
        compose(con, plan, plan_path, settings, result, dry_run, jira_ticket)
        if dry_run:
            result.messages += [_row(m, "dry run", "not sent") for m in state.queued(con)]
            con.execute("rollback")
            return result
        con.execute("commit")
        deliver(con, result, sleep=sleep)
    finally:
        con.close()
    return result


def _now() -> str:
    return iso()


def _row(m: dict, status: str, detail: str) -> dict:
    return {
        "route": m["route"],
        "channel": m["channel"],
        "target": m["target"],
        "subject": m["subject"],
        "status": status,
        "detail": detail,
        "payload": m["payload"],
    }


def _message(run_id: str, route: str, channel: str, target: str, subject: str, payload: dict) -> dict:
    digest = hashlib.sha256(
        json.dumps([run_id, route, channel, target, payload], sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()[:24]
    return {
        "id": digest,
        "run_id": run_id,
        "route": route,
        "channel": channel,
        "target": target,
        "subject": subject,
        "payload": payload,
    }


def grouped_findings(plan: dict) -> list[dict]:
    """The plan's findings, one per (kind, object, subject) (notify_state.subject: the record, or the source row
    when there is no record); legal kinds always routed to the DPO."""
    keys: dict[tuple, dict] = {}
    for f in plan.get("findings") or []:
        route = "DPO" if f["kind"] in LEGAL_KINDS else (f.get("route") or "CRM Admin")
        k = (f["kind"], f.get("object") or "", state.subject(f))
        keys.setdefault(
            k,
            {
                "kind": k[0],
                "object": k[1],
                "subject": k[2],
                "record_id": f.get("record_id") or "",
                "route": route,
                "details": [],
            },
        )
        keys[k]["details"].append(f.get("detail") or "")
    return [keys[k] for k in sorted(keys)]


def compose(
    con,
    plan: dict,
    plan_path: Path,
    settings: NotifySettings,
    result: NotifyResult,
    dry_run: bool,
    jira_ticket: str | None,
) -> None:
    at = plan.get("created_at") or _now()
    run_id = plan["plan_id"].removeprefix("sha256:")[:12]
    label = f"run {at[:10]} (plan {run_id})"
    instance = messages.instance_url(settings.instance_url)
    state.observe(con, grouped_findings(plan), plan["plan_id"], at)
    stem = plan_path.with_suffix("")

    def out(route: str, rows: list[dict], escalation: bool, told: list) -> None:
        dest = settings.destinations.get(route)
        kind = "escalation" if escalation else "findings"
        if dest is None:
            if route == "DPO":
                raise PolicyError(
                    f"{len(rows)} legal/compliance finding(s) for the DPO but the policy has no "
                    '[destinations."DPO"] with the DPO\'s e-mail address: add it (they go to the '
                    "DPO directly, never only to a shared channel) and rerun."
                )
            result.warnings.append(
                f"Route '{route}' has {len(rows)} {kind} to tell but no [destinations.\"{route}\"] "
                "in the policy: nothing sent, they are told once a destination is added."
            )
            return
        name = f"{stem.name}.{kind}-{messages.slug(route)}.csv"
        csv_path = stem.with_name(name)
        msg = messages.findings_message(
            route, rows, label, settings.top_items, instance, name, str(csv_path.resolve()), escalation=escalation
        )
        if not dry_run:
            write_atomic(csv_path, msg["attachments"][0]["content"])
            result.files.append(csv_path)
        payload = {k: msg[k] for k in ("subject", "text", "html", "attachments")}
        queue = []
        if dest.email:
            queue.append(_message(run_id, route, "email", ", ".join(dest.email), msg["subject"], payload))
        if dest.webhook_env:
            body = messages.webhook_body(dest.webhook_format, msg)
            queue.append(
                _message(
                    run_id,
                    route,
                    "webhook",
                    f"{dest.webhook_env} ({dest.webhook_format})",
                    msg["subject"],
                    {"body": body},
                )
            )
        if dest.jira_project or dest.jira_ticket:
            items = [
                {
                    "kind": r["kind"],
                    "object": r["object"],
                    "record_id": r["record_id"],
                    "detail": r["detail"],
                    "first_seen": r["first_seen_at"],
                }
                for r in rows
                if r["is_new"] or escalation
            ]
            jp = messages.jira_payload(
                "issue" if dest.jira_project else "comment",
                msg["subject"],
                items,
                instance,
                columns=messages.FINDING_COLUMNS,
            )
            queue.append(_message(run_id, route, "jira", dest.jira_project or dest.jira_ticket, msg["subject"], jp))
        for m in queue:
            state.enqueue(con, m, at)
        told.append(True)

    for route in ROUTE_NAMES:
        rows = state.open_findings(con, route)
        new = [r for r in rows if r["is_new"]]
        if not new:
            continue
        told: list = []
        out(route, rows, False, told)
        if told:
            state.mark_notified(con, [(r["kind"], r["object"], r["subject"], r["fingerprint"]) for r in new], at)
    due = state.due_for_escalation(
        con, settings.connector_kinds, settings.escalate_after_days, at, settings.escalate_to
    )
    if due:
        told = []
        out(settings.escalate_to, due, True, told)
        if told:
            state.mark_escalated(con, [(r["kind"], r["object"], r["subject"]) for r in due], at)
    ticket = jira_ticket or settings.sprint_ticket
    if ticket:
        _sprint_ticket(con, plan, plan_path, ticket, run_id, label, instance, at)


def exception_items(plan: dict, plan_path: Path) -> list[dict]:
    """The run's apply exceptions (PLAN.exceptions.csv, when apply ran) and the connector's missing-field errors."""
    items = []
    exc = Path(f"{plan_path.with_suffix('')}.exceptions.csv")
    if exc.is_file():
        with exc.open(encoding="utf-8", newline="") as fh:
            for r in ({k: uncell(v) for k, v in row.items()} for row in csv.DictReader(fh)):
                items.append(
                    {
                        "source": "apply",
                        "object": r.get("object"),
                        "record_id": r.get("record_id"),
                        "field": r.get("field"),
                        "error": r.get("error_code") or r.get("result"),
                        "message": r.get("message"),
                        "at": None,
                        "next_step": runbook.as_text(r.get("result") or "failed", r.get("error_code")),
                    }
                )
    for f in plan.get("findings") or []:
        if f["kind"] != "connector_error":
            continue
        ev = (f.get("evidence") or [{}])[0]
        message = ev.get("value") or f.get("detail") or ""
        if not MISSING_FIELD.search(message):
            continue
        fld = (f.get("detail") or "").split(": ", 1)[0] if ": " in (f.get("detail") or "") else ""
        items.append(
            {
                "source": "clay connector",
                "object": f.get("object"),
                "record_id": f.get("record_id"),
                "field": fld,
                "error": "",
                "message": message,
                "at": f.get("at"),
                "next_step": runbook.as_text("failed", "REQUIRED_FIELD_MISSING"),  # seed 3.5
            }
        )
    for it in items:
        it["key"] = hashlib.sha256(json.dumps([it[c] for c in messages.EXCEPTION_KEY]).encode()).hexdigest()[:24]
    return sorted(items, key=lambda it: (it["source"], it["object"] or "", it["record_id"] or "", it["field"] or ""))


def _sprint_ticket(con, plan, plan_path, ticket, run_id, label, instance, at) -> None:
    done = state.posted_items(con, ticket)
    items = [it for it in exception_items(plan, plan_path) if it["key"] not in done]
    if not items:
        return
    title = f"reconcile {label}: {len(items)} exception(s) — apply errors and Clay connector missing-field errors"
    msg = _message(run_id, "Jira", "jira", ticket, title, messages.jira_payload("comment", title, items, instance))
    state.enqueue(con, msg, at)
    state.mark_posted(con, ticket, [it["key"] for it in items], msg["id"], at)


def send_one(m: dict) -> str:
    p = m["payload"]
    if m["channel"] == "email":
        return senders.send_email(p, [a.strip() for a in m["target"].split(",")], message_key=m["id"])
    if m["channel"] == "webhook":
        return senders.send_webhook(p, m["target"].split(" ", 1)[0])
    return senders.send_jira(p, m["target"])


def deliver(con, result: NotifyResult, sleep=time.sleep) -> None:
    """Send every queued message (this run's and earlier runs' undelivered ones); a failure is retried once."""
    for m in state.queued(con):
        tries, detail, ok = 0, "", False
        for attempt in range(2):
            tries += 1
            try:
                detail, ok = send_one(m), True
                break
            except senders.DeliveryError as e:
                detail = str(e)
                if attempt == 0:
                    sleep(RETRY_PAUSE)
        state.record_attempt(con, m["id"], ok, detail, _now(), tries)
        result.messages.append(_row(m, "sent" if ok else "queued", detail))


def notify_digest(
    digest, db: str | Path, policy: str | Path | None = None, route: str = "CRM Admin", sleep=time.sleep
) -> NotifyResult:
    """Send the weekly connector review to `route`'s e-mail and webhook destinations (once per week and content)."""
    from .report.digest import digest_totals

    settings = load_policy(policy).notify or NotifySettings()
    result = NotifyResult()
    dest = settings.destinations.get(route)
    if dest is None:
        result.warnings.append(
            f'No [destinations."{route}"] in the policy: the weekly review was written to '
            f"'{digest.html_path}' but sent to nobody."
        )
        return result
    t = digest_totals(digest)
    subject = (
        f"[reconcile] Weekly connector review {digest.week}: {t['connector_errors']} connector error(s), "
        f"{t['exceptions']} apply exception(s), {t['applied']} applied"
    )
    text = digest.md_path.read_text("utf-8")
    html = digest.html_path.read_text("utf-8")
    queue = []
    if dest.email:
        queue.append(
            _message(
                digest.week,
                route,
                "email",
                ", ".join(dest.email),
                subject,
                {
                    "subject": subject,
                    "text": text,
                    "html": html,
                    "attachments": [{"name": digest.md_path.name, "content": text, "subtype": "markdown"}],
                },
            )
        )
    if dest.webhook_env:
        msg = {"subject": subject, "items": [], "counts": [], "csv_location": str(digest.html_path.resolve())}
        queue.append(
            _message(
                digest.week,
                route,
                "webhook",
                f"{dest.webhook_env} ({dest.webhook_format})",
                subject,
                {"body": messages.webhook_body(dest.webhook_format, msg)},
            )
        )
    con = duckdb.connect(str(db))
    try:
        state.create_tables(con)
        for m in queue:
            state.enqueue(con, m, _now())
        deliver(con, result, sleep=sleep)
    finally:
        con.close()
    return result
