"""What a message says: per-route findings messages, IT Infra escalations, Jira exception comments.

Pure functions from rows to payloads (e-mail text + HTML + CSV attachment, webhook JSON in the Slack, Teams or
Google Chat shape, Jira ADF for Cloud and wiki markup for Data Center). No secret is ever an input here.
"""

from __future__ import annotations

import html
import io
import os
import re
from collections import Counter

from .csvsafe import LineWriter, cell as safe_cell  # formula injection neutralised (shared helper)

SF_OBJECTS = {"Lead", "CampaignMember", "Contact", "Campaign"}


def about(row: dict) -> str:
    """What a finding row is about, for people: its record id, else the source row it names (notify_state.subject:
    "clay/replies.csv Email=ghost@x.de"), so two record-less findings of one kind never read the same."""
    return row.get("record_id") or row.get("subject") or "-"


_RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


def sf_link(instance_url: str | None, obj: str, record_id: str | None) -> str | None:
    """Lightning record URL `{instance}/lightning/r/{Object}/{Id}/view`: None without an https instance or without a
    Salesforce-shaped id (a connector error's record id is free text from the Clay log: `../../secur/logout.jsp`
    must not become a path in the org)."""
    base = (instance_url or "").strip()
    if not base.lower().startswith("https://") or obj not in SF_OBJECTS:
        return None
    if not record_id or not _RECORD_ID.fullmatch(record_id):
        return None
    return f"{base.rstrip('/')}/lightning/r/{obj}/{record_id}/view"


def instance_url(configured: str | None) -> str | None:
    return configured or os.environ.get("SF_INSTANCE_URL") or None


def to_csv(rows: list[dict], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    w = LineWriter(buf)
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else safe_cell(r.get(c)) for c in columns])
    return buf.getvalue()


CSV_COLUMNS = ("is_new", "kind", "object", "record_id", "link", "detail", "first_seen_at", "last_seen_at", "runs_seen")


def slug(route: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", route.lower()).strip("-")


def findings_message(
    route: str,
    rows: list[dict],
    run_label: str,
    top: int,
    instance: str | None,
    csv_name: str,
    csv_location: str,
    escalation: bool = False,
) -> dict:
    """The message of one route: counts by kind (new / open), the top items with links, the full CSV."""
    new = [r for r in rows if r["is_new"]]
    for r in rows:
        r["link"] = sf_link(instance, r["object"], r["record_id"])
    if escalation:
        subject = f"[reconcile] Escalation to {route}: {len(rows)} connector-level finding(s) still open — {run_label}"
        intro = (
            f"Connector-level findings open since the dates below were not resolved by the CRM Admin; "
            f"escalated to {route} (seed 3.5: CRM Admin → IT Infra)."
        )
    else:
        subject = f"[reconcile] {route}: {len(new)} new finding(s), {len(rows)} open — {run_label}"
        intro = f"Findings routed to {route} by the daily reconciliation."
    total, fresh = Counter(r["kind"] for r in rows), Counter(r["kind"] for r in new)
    counts = [(k, fresh.get(k, 0), n) for k, n in sorted(total.items())]
    shown = (rows if escalation else new)[:top]
    lines = [intro, "", "Counts (new / open):"] + [f"  {k}: {n} / {t}" for k, n, t in counts] + ["", "Top items:"]
    for r in shown:
        history = f" (first seen {r['first_seen_at']}, seen in {r['runs_seen']} run(s))" if escalation else ""
        lines.append(
            f"  - {r['kind']} {r['object']} {about(r)}: {r['detail']}{history}"
            + (f"\n    {r['link']}" if r["link"] else "")
        )
    more = len(rows if escalation else new) - len(shown)
    if more > 0:
        lines.append(f"  … and {more} more")
    lines += ["", f"Full list ({len(rows)} open findings): {csv_location}"]
    text = "\n".join(lines) + "\n"
    attachment = {"name": csv_name, "content": to_csv(rows, CSV_COLUMNS)}
    return {
        "subject": subject,
        "text": text,
        "html": _html(subject, intro, counts, shown, escalation, csv_location),
        "attachments": [attachment],
        "items": shown,
        "counts": counts,
        "csv_location": csv_location,
    }


def _html(subject, intro, counts, shown, escalation, csv_location) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(r['kind'])}</td><td>{e(r['object'])}</td><td>"
        + (f'<a href="{e(r["link"])}">{e(r["record_id"] or "")}</a>' if r["link"] else e(about(r)))
        + f"</td><td>{e(r['detail'])}</td>"
        + (f"<td>{e(r['first_seen_at'] or '')}</td><td>{r['runs_seen']}</td>" if escalation else "")
        + "</tr>"
        for r in shown
    )
    head = "<th>kind</th><th>object</th><th>record</th><th>detail</th>" + (
        "<th>first seen</th><th>runs</th>" if escalation else ""
    )
    count_rows = "".join(f"<tr><td>{e(k)}</td><td>{n}</td><td>{t}</td></tr>" for k, n, t in counts)
    return (
        f'<html><body style="font-family:system-ui,sans-serif"><h2>{e(subject)}</h2><p>{e(intro)}</p>'
        f'<table border="1" cellpadding="4"><tr><th>kind</th><th>new</th><th>open</th></tr>{count_rows}</table>'
        f'<h3>Top items</h3><table border="1" cellpadding="4"><tr>{head}</tr>{rows}</table>'
        f"<p>Full list: {e(csv_location)}</p></body></html>"
    )


def webhook_body(fmt: str, message: dict) -> dict:
    """The JSON an incoming webhook takes: Slack {'text'} (mrkdwn), Google Chat {'text'}, Teams Workflows an
    Adaptive Card in a message envelope."""
    items = []
    for r in message["items"]:
        label = f"{r['kind']} {r['object']} {about(r)}"
        if fmt == "slack" and r["link"]:
            label = f"<{r['link']}|{label}>"
        elif fmt == "google_chat" and r["link"]:
            label = f"<{r['link']}|{label}>"
        elif r["link"]:
            label = f"[{label}]({r['link']})"
        items.append(f"• {label}: {r['detail']}")
    counts = ", ".join(f"{k} {n}/{t}" for k, n, t in message["counts"])
    text = "\n".join(
        [
            f"*{message['subject']}*" if fmt != "teams" else message["subject"],
            f"New/open: {counts}",
            *items,
            f"Full list: {message['csv_location']}",
        ]
    )
    if fmt == "teams":
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {"type": "TextBlock", "text": message["subject"], "weight": "Bolder", "wrap": True},
                            {"type": "TextBlock", "text": "\n\n".join(text.split("\n")[1:]), "wrap": True},
                        ],
                    },
                }
            ],
        }
    return {"text": text}


EXCEPTION_COLUMNS = ("source", "object", "record_id", "field", "error", "message", "at", "next_step")
# what identifies an exception (notify_state: posted once); the next step is advice about it, not part of it
EXCEPTION_KEY = EXCEPTION_COLUMNS[:-1]


# a route's findings in a Jira issue or comment (notify): one row per finding
FINDING_COLUMNS = ("kind", "object", "record_id", "detail", "first_seen")


def jira_payload(
    kind: str, title: str, items: list[dict], instance: str | None, columns: tuple[str, ...] = EXCEPTION_COLUMNS
) -> dict:
    """A Jira comment (kind 'comment') or issue (kind 'issue') listing `items` under `columns` (apply exceptions by
    default, FINDING_COLUMNS for a route's findings): ADF (Cloud) and wiki (DC)."""

    def cells(it):
        return [str(it.get(c) or "") for c in columns]

    def link_of(it):
        return sf_link(instance, it.get("object") or "", it.get("record_id"))

    # ADF: https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/
    def para(text):
        return {"type": "paragraph", "content": [{"type": "text", "text": text}]}

    def cell(node, text, link=None):
        mark = [{"type": "link", "attrs": {"href": link}}] if link else None
        content = [{"type": "text", "text": text or " ", **({"marks": mark} if mark else {})}]
        return {"type": node, "content": [{"type": "paragraph", "content": content}]}

    table = {
        "type": "table",
        "content": [{"type": "tableRow", "content": [cell("tableHeader", c) for c in columns]}],
    }
    for it in items:
        row = [cell("tableCell", v, link_of(it) if c == "record_id" else None) for c, v in zip(columns, cells(it))]
        table["content"].append({"type": "tableRow", "content": row})
    adf = {"type": "doc", "version": 1, "content": [para(title), table]}

    def wiki_cell(v):
        return (v or " ").replace("|", "\\|").replace("\n", " ")

    wiki = [title, "", "||" + "||".join(columns) + "||"]
    for it in items:
        vals = cells(it)
        link = link_of(it)
        if link:
            vals[columns.index("record_id")] = f"[{it['record_id']}|{link}]"
        wiki.append("|" + "|".join(wiki_cell(v) if not v.startswith("[") else v for v in vals) + "|")
    return {"kind": kind, "summary": title[:250], "adf": adf, "wiki": "\n".join(wiki) + "\n"}
