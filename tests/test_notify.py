"""`reconcile notify`: routes to e-mail / webhook / Jira, idempotence, escalation, failures, secrets.

Real parts only: an aiosmtpd SMTP server, the tornado webhook receiver and Jira stand-in on loopback.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pytest
import requests
from conftest import lead_id, member_id, policy_with

from reconcile.plan import compute_plan_id
from reconcile.notify import notify
from reconcile.standins.jira import JiraStandin
from reconcile.standins.smtp import SmtpStandin
from reconcile.standins.webhook import WebhookStandin

SMTP_PASSWORD = "smtp-pass-7f3a9c1e"
INSTANCE = "https://acme.my.salesforce.com"


def finding(kind, n, route, detail="detail", obj="Lead", evidence=None):
    rid = lead_id(n) if obj == "Lead" else member_id(n)
    return {
        "kind": kind,
        "object": obj,
        "record_id": rid,
        "route": route,
        "detail": detail,
        "at": None,
        "evidence": evidence or [],
    }


def write_plan(path: Path, findings: list[dict], created_at="2026-11-27T06:10:00Z", plan_id="sha256:" + "ab" * 32):
    """A /1 plan of these findings whose plan_id binds its content (notify verifies it, as load_plan does); `plan_id`
    only tells two plans of the same findings apart (it is kept in the summary, so their plan_ids differ)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "format": "reconcile.plan/1",
        "created_at": created_at,
        "summary": {"test_plan": plan_id},
        "changes": [],
        "findings": findings,
        "gates": [],
    }
    path.write_text(json.dumps({**doc, "plan_id": compute_plan_id(doc)}), "utf-8")
    return path


DEFAULT_FINDINGS = [
    finding("pardot_sync_gap", 1, "CRM Admin", "Pardot prospect hard-bounced, SFDC not"),
    finding("conflicting_enrichment", 2, "MARCOM Ops", "two Clay values"),
    finding("do_not_contact_reply", 3, "DPO", "reply classified Do Not Contact", obj="CampaignMember"),
    finding(
        "connector_error",
        4,
        "CRM Admin",
        "Company: REQUIRED_FIELD_MISSING",
        evidence=[
            {
                "source": "clay",
                "file": "clay/errors.csv",
                "row": 1,
                "column": "message",
                "value": "REQUIRED_FIELD_MISSING: Required fields are missing: [Company]",
                "at": None,
            }
        ],
    ),
]


def notify_policy(tmp_path, extra: str = "", webhook_format: str = "slack") -> Path:
    text = f"""
[notify]
escalate_after_days = 3
sprint_ticket = "KLN-35"
top_items = 5
instance_url = "{INSTANCE}"

[destinations."CRM Admin"]
email = ["crm.admin@example.com"]
webhook_env = "RECONCILE_TEST_HOOK"
webhook_format = "{webhook_format}"

[destinations."MARCOM Ops"]
email = ["marcom@example.com", "ops@example.com"]

[destinations."DPO"]
email = ["dpo@example.com"]

[destinations."IT Infra"]
email = ["it.infra@example.com"]
{extra}
"""
    path = policy_with(tmp_path)
    path.write_text(path.read_text("utf-8") + text, "utf-8")
    return path


@pytest.fixture
def smtp():
    with SmtpStandin(user="reconcile", password=SMTP_PASSWORD) as s:
        yield s


@pytest.fixture
def hooks():
    with WebhookStandin() as h:
        yield h


@pytest.fixture
def jira():
    with JiraStandin(flavor="cloud", issues=["KLN-35"]) as j:
        yield j


@pytest.fixture
def wired(monkeypatch, smtp, hooks, jira):
    """Environment pointing every destination at the stand-ins."""
    for k, v in {**smtp.env(), **jira.env(), "RECONCILE_TEST_HOOK": hooks.url_for("slack")}.items():
        monkeypatch.setenv(k, v)
    return smtp, hooks, jira


def by_to(smtp):
    return {m["To"]: m for m in smtp.messages}


def test_each_route_gets_one_email_with_counts_links_and_its_findings_csv(tmp_path, wired):
    smtp, hooks, jira = wired
    plan = write_plan(tmp_path / "plan.json", DEFAULT_FINDINGS)
    result = notify(plan, policy=notify_policy(tmp_path), sleep=lambda s: None)
    assert not result.failed
    mails = by_to(smtp)
    assert sorted(mails) == ["crm.admin@example.com", "dpo@example.com", "marcom@example.com, ops@example.com"]
    crm = mails["crm.admin@example.com"]
    assert crm["Subject"].startswith("[reconcile] CRM Admin: 2 new finding(s), 2 open")
    text = crm.get_body(("plain",)).get_content()
    assert "pardot_sync_gap: 1 / 1" in text and "connector_error: 1 / 1" in text
    assert f"{INSTANCE}/lightning/r/Lead/{lead_id(1)}/view" in text
    attachment = next(crm.iter_attachments())
    assert attachment.get_filename() == "plan.findings-crm-admin.csv"
    csv_text = attachment.get_content()
    csv_text = csv_text.decode() if isinstance(csv_text, bytes) else csv_text
    assert lead_id(1) in csv_text and lead_id(4) in csv_text and lead_id(2) not in csv_text
    assert (tmp_path / "plan.findings-crm-admin.csv").is_file()
    assert "IT Infra" not in " ".join(m["route"] for m in result.messages)  # nothing new for IT Infra


def test_an_email_is_a_well_formed_utf8_message_a_plain_python_reader_decodes(tmp_path, wired):
    """RFC 5322 wants Date (and a Message-ID, which relays otherwise invent or mark as spam); the findings CSV is UTF-8
    text, so its part says charset=utf-8 — without it Python's email (and mail clients) read the bytes as ASCII."""
    from email.utils import parsedate_to_datetime

    smtp, _, _ = wired
    detail = "Company 'Müller & Söhne GmbH' ✓ fehlt"
    plan = write_plan(tmp_path / "plan.json", [finding("conflicting_enrichment", 2, "MARCOM Ops", detail)])
    assert not notify(plan, policy=notify_policy(tmp_path), sleep=lambda s: None).failed
    (mail,) = smtp.messages
    assert mail["MIME-Version"] == "1.0" and parsedate_to_datetime(mail["Date"]).tzinfo is not None
    assert mail["Message-ID"].startswith("<") and mail["Message-ID"].endswith(">")
    assert detail in mail.get_body(("plain",)).get_content()
    (attachment,) = mail.iter_attachments()
    assert attachment.get_content_type() == "text/csv" and attachment.get_content_charset() == "utf-8"
    assert detail in attachment.get_content()


def test_a_plan_edited_after_it_was_built_is_refused_and_nobody_is_told(tmp_path, wired, run_cli):
    smtp, hooks, jira = wired
    plan = write_plan(tmp_path / "plan.json", DEFAULT_FINDINGS)
    doc = json.loads(plan.read_text("utf-8"))
    doc["findings"][0]["detail"] = "a detail nobody planned"
    plan.write_text(json.dumps(doc), "utf-8")
    r = run_cli("notify", plan, "--policy", notify_policy(tmp_path))
    assert r.exit_code == 1
    assert r.stderr.startswith(f"Error: Plan '{plan}' was edited after it was built")
    assert not smtp.messages and hooks.received == [] and not (tmp_path / "plan.findings-crm-admin.csv").exists()


def test_legal_findings_go_to_the_dpo_directly_even_when_routes_say_otherwise(tmp_path, wired):
    smtp, hooks, jira = wired
    plan = write_plan(tmp_path / "plan.json", [finding("do_not_contact_reply", 3, "MARCOM Ops", "DNC")])
    notify(plan, policy=notify_policy(tmp_path), sleep=lambda s: None)
    assert list(by_to(smtp)) == ["dpo@example.com"]
    assert hooks.received == []


def test_dpo_findings_without_a_dpo_address_are_an_error_not_a_shared_channel(tmp_path, wired, run_cli):
    pol = policy_with(tmp_path)
    pol.write_text(pol.read_text() + '\n[destinations."CRM Admin"]\nemail = ["a@example.com"]\n')
    plan = write_plan(tmp_path / "plan.json", [finding("do_not_contact_reply", 3, "DPO", "DNC")])
    r = run_cli("notify", plan, "--policy", pol)
    assert r.exit_code == 1
    assert r.stderr.startswith(
        'Error: 1 legal/compliance finding(s) for the DPO but the policy has no [destinations."DPO"]'
    )


def test_run_twice_sends_once_and_a_changed_finding_is_sent_again(tmp_path, wired):
    smtp, hooks, jira = wired
    pol = notify_policy(tmp_path)
    plan = write_plan(tmp_path / "plan.json", DEFAULT_FINDINGS)
    notify(plan, policy=pol, sleep=lambda s: None)
    first = (len(smtp.messages), len(hooks.received), len(jira.comments["KLN-35"]))
    assert first == (3, 1, 1)
    again = notify(plan, policy=pol, sleep=lambda s: None)
    assert again.messages == []
    assert (len(smtp.messages), len(hooks.received), len(jira.comments["KLN-35"])) == first
    changed = [dict(f) for f in DEFAULT_FINDINGS]
    changed[1] = {**changed[1], "detail": "two different Clay values now"}
    write_plan(plan, changed, created_at="2026-11-28T06:10:00Z", plan_id="sha256:" + "cd" * 32)
    third = notify(plan, policy=pol, sleep=lambda s: None)
    assert [(m["route"], m["channel"]) for m in third.messages] == [("MARCOM Ops", "email")]
    assert "1 new finding(s), 1 open" in smtp.messages[-1]["Subject"]


def row_finding(kind, file, row, value, detail, column="email", route="MARCOM Ops"):
    """A finding on a source row that reaches no record (record_id NULL), as find_unmatched_source_row writes it."""
    ev = {"source": file.split("/")[0], "file": file, "row": row, "column": column, "value": value, "at": None}
    return {
        "kind": kind,
        "object": "Lead",
        "record_id": None,
        "route": route,
        "detail": detail,
        "at": None,
        "evidence": [ev],
    }


def rowless_day(shift: int = 0, extra: tuple = ()) -> list[dict]:
    """The demo's record-less MARCOM Ops findings; `shift` moves every row down (the export gained rows above)."""
    twin = "Email sam.twin@polaris-plastics.com matches 2 Leads; nothing is changed for this row."
    rows = [
        ("unmatched_source_row", "clay/replies.csv", 155, "ghost@nowhere-gmbh.de", "clay row matches no Lead."),
        ("unmatched_source_row", "pardot/prospects.csv", 4, "walk.in@fair.com", "pardot row matches no Lead."),
        ("unmatched_source_row", "smartlead/campaign-9526.csv", 15, "stranger@unknown.com", "smartlead row ..."),
        ("ambiguous_match", "clay/replies.csv", 154, "sam.twin@polaris-plastics.com ", twin),
        ("ambiguous_match", "pardot/prospects.csv", 3, "SAM.TWIN@polaris-plastics.com", twin),
        *extra,
    ]
    return [row_finding(kind, file, row + shift, value, detail) for kind, file, row, value, detail in rows]


def test_findings_on_unmatched_source_rows_count_one_per_row_and_stay_open_the_next_day(tmp_path, wired):
    smtp, hooks, jira = wired
    pol = notify_policy(tmp_path)
    plan = write_plan(tmp_path / "plan.json", rowless_day())
    notify(plan, policy=pol, sleep=lambda s: None)
    [mail] = [m for m in smtp.messages if m["To"] == "marcom@example.com, ops@example.com"]
    text = mail.get_body(("plain",)).get_content()
    assert "MARCOM Ops: 5 new finding(s), 5 open" in mail["Subject"]
    assert "unmatched_source_row: 3 / 3" in text and "ambiguous_match: 2 / 2" in text
    twins = [line for line in text.splitlines() if line.startswith("  - ambiguous_match")]
    assert len(twins) == 2 and all(t.count("matches 2 Leads") == 1 for t in twins)  # never two rows in one item
    assert {t.split(": ")[0] for t in twins} == {  # each names its own source row: they never read the same
        "  - ambiguous_match Lead clay/replies.csv email=sam.twin@polaris-plastics.com ",
        "  - ambiguous_match Lead pardot/prospects.csv email=SAM.TWIN@polaris-plastics.com",
    }

    # the next day: the same rows, moved down by the export, and one new unmatched row
    new_row = ("unmatched_source_row", "clay/replies.csv", 160, "new@nowhere.de", "clay row matches no Lead.")
    write_plan(plan, rowless_day(2, (new_row,)), created_at="2026-11-28T06:10:00Z", plan_id="sha256:" + "cd" * 32)
    notify(plan, policy=pol, sleep=lambda s: None)
    assert len(smtp.messages) == 2
    text = smtp.messages[-1].get_body(("plain",)).get_content()
    assert "MARCOM Ops: 1 new finding(s), 6 open" in smtp.messages[-1]["Subject"]
    assert "unmatched_source_row: 1 / 4" in text and "ambiguous_match: 0 / 2" in text
    assert "clay/replies.csv email=new@nowhere.de: clay row matches no Lead." in text  # the new row, by its value
    assert "ghost@nowhere-gmbh.de" not in text  # yesterday's rows, moved down, are not new
    con = duckdb.connect(str(tmp_path / "reconcile.duckdb"))
    runs = con.execute("select runs_seen, count(*) from notify_findings group by all order by all").fetchall()
    con.close()
    assert runs == [(1, 1), (2, 5)]


OLD_FINDINGS_DDL = (
    "create table notify_findings (kind varchar, object varchar, record_id varchar, route varchar, "
    "detail varchar, fingerprint varchar, first_seen_at timestamptz, last_seen_at timestamptz, "
    "closed_at timestamptz, runs_seen integer, last_plan_id varchar, notified_fingerprint varchar, "
    "notified_at timestamptz, escalated_at timestamptz, primary key (kind, object, record_id))"
)


def old_state(db: Path) -> None:
    """A state file written before findings had a subject: one record finding already told, one record-less."""
    from reconcile.notify_state import fingerprint

    con = duckdb.connect(str(db))
    con.execute(OLD_FINDINGS_DDL)
    told = fingerprint(["two Clay values"])
    con.execute(
        "insert into notify_findings values ('conflicting_enrichment', 'Lead', ?, 'MARCOM Ops', 'two Clay values', "
        "?, '2026-11-26T06:10:00Z', '2026-11-26T06:10:00Z', null, 1, 'sha256:00', ?, '2026-11-26T06:10:00Z', null)",
        [lead_id(2), told, told],
    )
    con.execute(
        "insert into notify_findings values ('unmatched_source_row', 'Lead', '', 'MARCOM Ops', 'a; b', 'x', "
        "'2026-11-26T06:10:00Z', '2026-11-26T06:10:00Z', null, 1, 'sha256:00', 'x', '2026-11-26T06:10:00Z', null)"
    )
    con.close()


def test_state_file_from_before_finding_subjects_is_migrated_in_place(tmp_path, wired):
    smtp, hooks, jira = wired
    old_state(tmp_path / "reconcile.duckdb")
    plan = write_plan(tmp_path / "plan.json", [DEFAULT_FINDINGS[1], *rowless_day()[:2]])
    notify(plan, policy=notify_policy(tmp_path), sleep=lambda s: None)
    [mail] = smtp.messages
    text = mail.get_body(("plain",)).get_content()
    assert "MARCOM Ops: 2 new finding(s), 3 open" in mail["Subject"]  # the record finding was told already
    assert "conflicting_enrichment: 0 / 1" in text and "unmatched_source_row: 2 / 2" in text


def test_state_from_before_finding_subjects_is_carried_over_by_a_replan(tmp_path):
    from reconcile import notify_state

    old_state(tmp_path / "old.duckdb")
    old, new, newer = (duckdb.connect(str(tmp_path / f"{n}.duckdb")) for n in ("old", "new", "newer"))
    notify_state.carry_over(old, new)
    notify_state.carry_over(new, newer)  # and a file of this version into the next plan's
    query = "select kind, record_id, subject, runs_seen from notify_findings order by kind"
    rows = [new.execute(query).fetchall(), newer.execute(query).fetchall()]
    old.close(), new.close(), newer.close()
    assert rows == [[("conflicting_enrichment", lead_id(2), lead_id(2), 1), ("unmatched_source_row", "", "", 1)]] * 2


def test_webhook_shapes_slack_teams_google_chat(tmp_path, monkeypatch, hooks):
    for fmt in ("slack", "teams", "google_chat"):
        monkeypatch.setenv("RECONCILE_TEST_HOOK", hooks.url_for(fmt))
        pol = notify_policy(tmp_path / fmt, webhook_format=fmt).read_text()
        pol = pol.replace('email = ["crm.admin@example.com"]\n', "", 1)
        (tmp_path / fmt / "p.toml").write_text(pol)
        plan = write_plan(tmp_path / fmt / "plan.json", DEFAULT_FINDINGS[:1])
        result = notify(
            plan,
            policy=tmp_path / fmt / "p.toml",
            db=tmp_path / fmt / "db.duckdb",
            jira_ticket=None,
            sleep=lambda s: None,
        )
        sent = [m for m in result.messages if m["channel"] == "webhook"]
        assert [m["status"] for m in sent] == ["sent"]
    shapes = {r["format"]: r["json"] for r in hooks.received}
    assert "pardot_sync_gap" in shapes["slack"]["text"] and f"<{INSTANCE}/lightning/r/Lead/" in shapes["slack"]["text"]
    card = shapes["teams"]["attachments"][0]
    assert (
        card["contentType"] == "application/vnd.microsoft.card.adaptive" and card["content"]["type"] == "AdaptiveCard"
    )
    assert "pardot_sync_gap" in shapes["google_chat"]["text"]


def test_connector_finding_open_past_the_threshold_is_escalated_to_it_infra_once(tmp_path, wired):
    smtp, hooks, jira = wired
    pol = notify_policy(tmp_path)
    plan = write_plan(tmp_path / "plan.json", DEFAULT_FINDINGS)
    notify(plan, policy=pol, sleep=lambda s: None)
    for day, pid in (("2026-11-29", "cd"), ("2026-11-30", "ef"), ("2026-12-01", "01")):
        write_plan(plan, DEFAULT_FINDINGS, created_at=f"{day}T06:10:00Z", plan_id="sha256:" + pid * 32)
        notify(plan, policy=pol, sleep=lambda s: None)
    infra = [m for m in smtp.messages if m["To"] == "it.infra@example.com"]
    assert len(infra) == 1  # day 3 (2026-11-30), not again on day 4
    text = infra[0].get_body(("plain",)).get_content()
    assert "Escalation to IT Infra: 1 connector-level finding(s)" in infra[0]["Subject"]
    assert "first seen 2026-11-27T06:10:00Z, seen in 3 run(s)" in text and lead_id(4) in text
    assert "2026-11-30" in infra[0]["Subject"]


def test_a_lost_bounce_hop_goes_to_the_crm_admin_and_is_escalated_to_it_infra_when_it_stays_open(tmp_path, wired):
    """Seed §3.5: integration issues → CRM Admin → IT Infra (if connector-level). The Smartlead → Clay hop losing a
    bounce is a connector-level integration issue: the default policy routes it to the CRM Admin, and the default
    [notify] connector_kinds escalate it to IT Infra once it stays open past escalate_after_days."""
    from reconcile.policy import load_policy

    assert load_policy().routes["bounce_hop_lost"] == "CRM Admin"
    smtp, hooks, jira = wired
    pol = notify_policy(tmp_path)
    hop = finding("bounce_hop_lost", 5, "CRM Admin", "Smartlead recorded a hard bounce that never reached Clay")
    plan = write_plan(tmp_path / "plan.json", [hop])
    notify(plan, policy=pol, sleep=lambda s: None)
    assert [m["To"] for m in smtp.messages] == ["crm.admin@example.com"]
    for day, pid in (("2026-11-29", "cd"), ("2026-11-30", "ef")):
        write_plan(plan, [hop], created_at=f"{day}T06:10:00Z", plan_id="sha256:" + pid * 32)
        notify(plan, policy=pol, sleep=lambda s: None)
    infra = [m for m in smtp.messages if m["To"] == "it.infra@example.com"]
    assert len(infra) == 1 and "Escalation to IT Infra: 1 connector-level finding(s)" in infra[0]["Subject"]
    assert lead_id(5) in infra[0].get_body(("plain",)).get_content()


def test_sprint_ticket_gets_one_adf_comment_with_apply_exceptions_and_missing_field_errors(tmp_path, wired):
    smtp, hooks, jira = wired
    plan = write_plan(tmp_path / "plan.json", DEFAULT_FINDINGS)
    (tmp_path / "plan.exceptions.csv").write_text(
        "object,record_id,field,before,after,result,error_code,message\n"
        f'Lead,{lead_id(7)},Industry,null,"""Banking""",failed,REQUIRED_FIELD_MISSING,Required fields are missing\n'
    )
    notify(plan, policy=notify_policy(tmp_path), sleep=lambda s: None)
    [comment] = jira.comments["KLN-35"]
    assert comment["body"]["type"] == "doc"
    flat = json.dumps(comment["body"])
    assert lead_id(7) in flat and lead_id(4) in flat and "REQUIRED_FIELD_MISSING" in flat
    assert "2 exception(s)" in flat
    # each with the runbook's next step: both are missing-field errors (seed 3.5: the validation-bypass permission)
    header = [c["content"][0]["content"][0]["text"] for c in comment["body"]["content"][1]["content"][0]["content"]]
    assert header[-1] == "next_step"
    steps = [r["content"][-1]["content"][0]["content"][0]["text"] for r in comment["body"]["content"][1]["content"][1:]]
    assert len(steps) == 2 and all(s.startswith("CRM Admin: ") and "validation-bypass" in s for s in steps), steps
    # a new exception later: only it is posted
    with (tmp_path / "plan.exceptions.csv").open("a") as fh:
        fh.write(f"Lead,{lead_id(8)},Industry,null,x,failed,FIELD_CUSTOM_VALIDATION_EXCEPTION,bad\n")
    notify(plan, policy=notify_policy(tmp_path), sleep=lambda s: None)
    assert len(jira.comments["KLN-35"]) == 2
    second = json.dumps(jira.comments["KLN-35"][1]["body"])
    assert lead_id(8) in second and lead_id(7) not in second


def test_jira_data_center_gets_a_v2_wiki_comment_with_a_personal_access_token(tmp_path, monkeypatch, smtp):
    with JiraStandin(flavor="datacenter", issues=["KLN-40"]) as dc:
        for k, v in {**smtp.env(), **dc.env()}.items():
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("RECONCILE_TEST_HOOK", raising=False)
        plan = write_plan(tmp_path / "plan.json", DEFAULT_FINDINGS[3:])
        pol = notify_policy(tmp_path).read_text().replace('webhook_env = "RECONCILE_TEST_HOOK"\n', "")
        (tmp_path / "p.toml").write_text(pol)
        result = notify(plan, policy=tmp_path / "p.toml", jira_ticket="KLN-40", sleep=lambda s: None)
        assert [m["status"] for m in result.messages if m["channel"] == "jira"] == ["sent"]
        [comment] = dc.comments["KLN-40"]
        assert isinstance(comment["body"], str) and "||source||object||record_id||" in comment["body"]
        assert all(r["path"].startswith("/rest/api/2/") for r in dc.requests)


def test_a_route_configured_with_a_jira_project_gets_a_ticket_per_run(tmp_path, wired):
    smtp, hooks, jira = wired
    pol = (
        notify_policy(tmp_path)
        .read_text()
        .replace('[destinations."MARCOM Ops"]\n', '[destinations."MARCOM Ops"]\njira_project = "KLN"\n')
    )
    (tmp_path / "p.toml").write_text(pol)
    plan = write_plan(tmp_path / "plan.json", DEFAULT_FINDINGS)
    notify(plan, policy=tmp_path / "p.toml", sleep=lambda s: None)
    created = [k for k in jira.issues if k != "KLN-35"]
    assert created == ["KLN-36"]
    assert jira.issues["KLN-36"]["fields"]["summary"].startswith("[reconcile] MARCOM Ops: 1 new finding(s)")
    # the ticket's table holds the route's findings under their own headers (not the apply exceptions' columns)
    table = next(n for n in jira.issues["KLN-36"]["fields"]["description"]["content"] if n["type"] == "table")
    text = [[c["content"][0]["content"][0]["text"] for c in row["content"]] for row in table["content"]]
    assert text[0] == ["kind", "object", "record_id", "detail", "first_seen"]
    assert text[1][:4] == ["conflicting_enrichment", "Lead", lead_id(2), "two Clay values"]


def test_smtp_down_is_reported_retried_once_and_sent_by_the_next_run(tmp_path, monkeypatch, hooks, jira, run_cli):
    smtp = SmtpStandin(user="reconcile", password=SMTP_PASSWORD)
    env = smtp.env()
    smtp.stop()  # nothing listens on that port now
    for k, v in {**env, **jira.env(), "RECONCILE_TEST_HOOK": hooks.url_for("slack")}.items():
        monkeypatch.setenv(k, v)
    pol = notify_policy(tmp_path)
    plan = write_plan(tmp_path / "plan.json", DEFAULT_FINDINGS)
    r = run_cli("notify", plan, "--policy", pol)
    assert r.exit_code == 1
    assert "Error: 3 of 5 message(s) not delivered (see above); they stay queued" in r.stderr
    con = duckdb.connect(str(tmp_path / "reconcile.duckdb"))
    attempts = con.execute("select attempts from notify_outbox where channel = 'email'").fetchall()
    con.close()
    assert attempts == [(2,), (2,), (2,)]  # tried, retried once
    with SmtpStandin(user="reconcile", password=SMTP_PASSWORD, port=int(env["RECONCILE_SMTP_PORT"])) as back:
        r = run_cli("notify", plan, "--policy", pol)
        assert r.exit_code == 0, r.stderr
        assert len(back.messages) == 3 and len(hooks.received) == 1


def test_jira_401_is_reported_and_the_comment_stays_queued(tmp_path, wired, monkeypatch):
    smtp, hooks, jira = wired
    monkeypatch.setenv("RECONCILE_JIRA_API_TOKEN", "wrong-token-123456")
    plan = write_plan(tmp_path / "plan.json", DEFAULT_FINDINGS)
    result = notify(plan, policy=notify_policy(tmp_path), sleep=lambda s: None)
    [failed] = result.failed
    assert failed["channel"] == "jira"
    assert failed["detail"].startswith(
        "Jira answered 401 to POST /rest/api/3/issue/KLN-35/comment: You are not authenticated."
    )
    assert "wrong-token-123456" not in failed["detail"]
    monkeypatch.setenv("RECONCILE_JIRA_API_TOKEN", jira.token)
    later = notify(plan, policy=notify_policy(tmp_path), sleep=lambda s: None)
    assert [(m["channel"], m["status"]) for m in later.messages] == [("jira", "sent")]
    assert len(jira.comments["KLN-35"]) == 1


def test_webhook_500_is_retried_once(tmp_path, wired):
    smtp, hooks, jira = wired
    hooks.fail_next(500, times=1)
    plan = write_plan(tmp_path / "plan.json", DEFAULT_FINDINGS)
    result = notify(plan, policy=notify_policy(tmp_path), sleep=lambda s: None)
    assert [m["status"] for m in result.messages if m["channel"] == "webhook"] == ["sent"]
    assert len(hooks.received) == 1
    hooks.fail_next(500, times=2)
    write_plan(
        plan,
        DEFAULT_FINDINGS + [finding("eligibility_mismatch", 9, "CRM Admin", "x")],
        created_at="2026-11-28T06:10:00Z",
        plan_id="sha256:" + "cd" * 32,
    )
    result = notify(plan, policy=notify_policy(tmp_path), sleep=lambda s: None)
    [failed] = result.failed
    assert failed["channel"] == "webhook" and "answered 500" in failed["detail"]
    nothing_new = notify(plan, policy=notify_policy(tmp_path), sleep=lambda s: None)
    assert [(m["channel"], m["status"]) for m in nothing_new.messages] == [("webhook", "sent")]


def test_dry_run_sends_nothing_and_changes_no_state(tmp_path, wired, run_cli):
    smtp, hooks, jira = wired
    pol = notify_policy(tmp_path)
    plan = write_plan(tmp_path / "plan.json", DEFAULT_FINDINGS)
    r = run_cli("notify", plan, "--policy", pol, "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert "dry run  CRM Admin → email crm.admin@example.com: [reconcile] CRM Admin: 2 new finding(s)" in r.stdout
    assert smtp.messages == [] and hooks.received == [] and jira.comments["KLN-35"] == []
    result = notify(plan, policy=pol, sleep=lambda s: None)
    assert len([m for m in result.messages if m["status"] == "sent"]) == 5


def test_no_secret_lands_in_any_message_file_or_output(tmp_path, wired, run_cli, monkeypatch):
    smtp, hooks, jira = wired
    monkeypatch.setenv("SF_INSTANCE_URL", INSTANCE)
    hook_url = hooks.url_for("slack")
    secrets = [SMTP_PASSWORD, jira.token, hooks.secret, hook_url]
    plan = write_plan(tmp_path / "plan.json", DEFAULT_FINDINGS)
    hooks.fail_next(500, times=2)
    r = run_cli("--debug", "notify", plan, "--policy", notify_policy(tmp_path))
    r2 = run_cli("--debug", "notify", plan, "--policy", notify_policy(tmp_path))
    assert r.exit_code == 1 and r2.exit_code == 0
    seen = [r.stdout, r.stderr, r2.stdout, r2.stderr]
    seen += [m.as_string() for m in smtp.messages] + [json.dumps(x["json"]) for x in hooks.received]
    seen += [json.dumps(c) for c in jira.comments["KLN-35"]]
    seen += [p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*") if p.is_file()]
    con = duckdb.connect(str(tmp_path / "reconcile.duckdb"))
    seen += [json.dumps(row, default=str) for row in con.execute("select * from notify_outbox").fetchall()]
    con.close()
    for s in secrets:
        assert not [text for text in seen if s in text], s


def test_findings_csv_neutralises_formula_injection():
    from reconcile.messages import to_csv

    out = to_csv(
        [{"a": '=HYPERLINK("x")', "b": "-3", "c": 5, "d": "@SUM(A1)", "e": "\tx", "f": "+1-2"}],
        ("a", "b", "c", "d", "e", "f"),
    )
    assert out.splitlines()[1] == '"\'=HYPERLINK(""x"")",-3,5,\'@SUM(A1),\'\tx,\'+1-2'


@pytest.mark.parametrize(
    "extra, message",
    [
        ('[destinations."DPO"]\nwebhook_env = "HOOK"\n', "legal and compliance findings go to the DPO directly"),
        ('[destinations."Legal"]\nemail = ["a@example.com"]\n', "'Legal' is not a route"),
        (
            '[destinations."CRM Admin"]\nwebhook_env = "https://hooks.slack.com/services/T/B/x"\n',
            "webhook_env must name an environment variable",
        ),
        ('[destinations."CRM Admin"]\nemail = ["not-an-address"]\n', "email 'not-an-address' is not an e-mail address"),
        ("[notify]\nescalate_after_days = 0\n", "escalate_after_days '0' is not a positive number"),
        ('[notify]\nsprint_ticket = "kln 35"\n', "sprint_ticket 'kln 35' is not a Jira issue key"),
    ],
)
def test_bad_destinations_are_one_error_line(tmp_path, run_cli, extra, message):
    pol = policy_with(tmp_path)
    pol.write_text(pol.read_text() + "\n" + extra)
    plan = write_plan(tmp_path / "plan.json", [])
    r = run_cli("notify", plan, "--policy", pol)
    assert r.exit_code == 1 and r.stderr.startswith(f"Error: Policy file '{pol}'") and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_default_policy_routes_mapping_still_loads():
    from reconcile.policy import load_policy

    pol = load_policy()
    assert pol.routes["do_not_contact_reply"] == "DPO" and pol.notify.destinations == {}


def test_jira_standin_answers_plain_requests_like_jira(jira):
    auth = (jira.email, jira.token)
    base = jira.url + "/rest/api/3"
    r = requests.post(
        base + "/issue",
        auth=auth,
        json={"fields": {"project": {"key": "KLN"}, "summary": "x", "issuetype": {"name": "Task"}}},
    )
    assert (
        r.status_code == 201 and r.json()["key"] == "KLN-36" and r.json()["self"].endswith("/issue/" + r.json()["id"])
    )
    r = requests.post(base + "/issue", auth=auth, json={"fields": {}})
    assert r.status_code == 400 and r.json()["errors"]["summary"] == "You must specify a summary of the issue."
    r = requests.post(
        base + "/issue/NOPE-1/comment", auth=auth, json={"body": {"type": "doc", "version": 1, "content": []}}
    )
    assert r.status_code == 404
    assert r.json() == {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {},
    }
    r = requests.get(base + "/issue/KLN-35/comment", auth=auth)
    assert r.status_code == 200 and r.json()["total"] == 0
    assert requests.get(base + "/myself").status_code == 401
    with JiraStandin(flavor="datacenter") as dc:
        assert (
            requests.get(dc.url + "/rest/api/3/myself", headers={"Authorization": f"Bearer {dc.token}"}).status_code
            == 404
        )
        assert (
            requests.get(dc.url + "/rest/api/2/myself", headers={"Authorization": f"Bearer {dc.token}"}).status_code
            == 200
        )


def test_jira_standin_takes_an_issue_id_wherever_jira_takes_issue_id_or_key(jira):
    """Jira's paths are /issue/{issueIdOrKey}: the `self` link a create returns (by id) is followed, and comments go
    to an issue by id as by key."""
    auth = (jira.email, jira.token)
    created = requests.post(
        jira.url + "/rest/api/3/issue",
        auth=auth,
        json={"fields": {"project": {"key": "KLN"}, "summary": "x", "issuetype": {"name": "Task"}}},
    ).json()
    r = requests.get(created["self"], auth=auth)
    assert r.status_code == 200 and r.json()["key"] == created["key"]
    adf = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "é"}]}]}
    r = requests.post(f"{jira.url}/rest/api/3/issue/{created['id']}/comment", auth=auth, json={"body": adf})
    assert r.status_code == 201
    assert [c["body"] for c in jira.comments[created["key"]]] == [adf]
    r = requests.get(f"{jira.url}/rest/api/3/issue/{created['id']}/comment", auth=auth)
    assert r.status_code == 200 and r.json()["total"] == 1


def test_webhook_standin_answers_like_slack(hooks):
    r = requests.post(hooks.url_for("slack"), json={"text": "hi"})
    assert (r.status_code, r.headers["Content-Type"], r.text) == (200, "text/plain", "ok")
    r = requests.post(hooks.url_for("slack"), json={"attachments": []})
    assert (r.status_code, r.text) == (400, "no_text")
    # legacy attachments alone are a message, and so is the legacy form post payload=<JSON> (found by a wire audit)
    r = requests.post(hooks.url_for("slack"), json={"attachments": [{"fallback": "fb", "text": "att"}]})
    assert (r.status_code, r.text) == (200, "ok")
    r = requests.post(hooks.url_for("slack"), data={"payload": '{"text": "form"}'})
    assert (r.status_code, r.text) == (200, "ok") and hooks.received[-1]["json"] == {"text": "form"}
    r = requests.post(hooks.url_for("slack"), data={"payload": "not json"})
    assert (r.status_code, r.text) == (400, "invalid_payload")
    r = requests.post(hooks.url_for("slack") + "x", json={"text": "hi"})
    assert (r.status_code, r.text) == (404, "no_service")


def test_standins_serve_prints_export_lines_a_shell_sources_and_a_plain_client_reaches(tmp_path):
    """`reconcile standins serve > standins.env &` then `. ./standins.env` (README): shell lines, not JSON to convert."""
    import os
    import smtplib
    import subprocess
    import sys

    env_file = tmp_path / "standins.env"
    with env_file.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "reconcile", "standins", "serve"], stdout=out, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while "RECONCILE_SMTP_PORT" not in env_file.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        shown = subprocess.run(
            ["bash", "-c", f". {env_file} && env"], capture_output=True, text=True, check=True, env={}
        ).stdout
        seen = dict(line.split("=", 1) for line in shown.splitlines() if line.startswith("RECONCILE_"))
        assert {"RECONCILE_JIRA_URL", "RECONCILE_SMTP_HOST", "RECONCILE_WEBHOOK_SLACK"} <= seen.keys()
        with smtplib.SMTP(seen["RECONCILE_SMTP_HOST"], int(seen["RECONCILE_SMTP_PORT"]), timeout=10) as smtp:
            assert smtp.noop()[0] == 250
        r = requests.post(seen["RECONCILE_WEBHOOK_SLACK"], json={"text": "hello"}, timeout=10)
        assert (r.status_code, r.text) == (200, "ok")
        assert os.environ.get("RECONCILE_JIRA_URL") != seen["RECONCILE_JIRA_URL"]  # came from the file, not from us
    finally:
        proc.terminate()
        proc.wait(timeout=30)
