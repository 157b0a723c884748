"""The daily HTML report: sections, counts, escaping, determinism, self-containment, a real browser."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from reconcile.plan import load_plan, save_plan
from reconcile.report.report import render_report

FIXTURES = Path(__file__).parent / "fixtures" / "report"
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")


def load(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def plan() -> dict:
    return load("plan_full.json")


@pytest.fixture
def history() -> list[dict]:
    return load("history.json")


@pytest.fixture
def html(plan, history, tmp_path) -> str:
    return render_report(plan, tmp_path / "report.html", history).read_text(encoding="utf-8")


def tile(html: str, key: str) -> str:
    return re.search(rf'data-count="{key}">([^<]*)<', html).group(1)


def test_report_has_every_section(html):
    for section in (
        "headline-counts",
        "gates",
        "changes",
        "by-field",
        "by-rule",
        "by-campaign",
        "by-gbu",
        "blocked",
        "hard-bounce",
        "findings",
        "rejects",
        "connector-errors",
        "trends",
        "samples",
    ):
        assert f'id="{section}"' in html, section
    for route in ("CRM Admin", "IT Infra", "MARCOM Ops", "DPO"):
        assert f'data-route="{route}"' in html


def test_headline_tiles_equal_the_plan_summary(html, plan):
    s = plan["summary"]
    assert tile(html, "ready") == f"{s['changes']['ready']:,}"
    assert tile(html, "blocked") == f"{s['changes']['blocked']:,}"
    assert tile(html, "findings") == f"{s['findings']['total']:,}"
    assert tile(html, "rejects") == f"{s['rejects']['total']:,}"
    assert tile(html, "leaving") == f"{s['eligibility']['leaving_pool']:,}"


def test_findings_per_route_equal_the_plan_summary(html, plan):
    for route, n in plan["summary"]["findings"]["by_route"].items():
        assert re.search(rf'data-route="{route}">{n:,}<', html), route


def test_breakdown_tables_equal_the_plan_summary(html, plan):
    s = plan["summary"]
    for section, key in (("by-field", "by_field"), ("by-rule", "by_rule"), ("by-gbu", "by_gbu")):
        part = html[html.index(f'id="{section}"') :]
        for label, c in s[key].items():
            assert re.search(
                rf'{re.escape(label)}(<br>.*?)?</td><td class="n">{c["ready"]:,}</td>'
                rf'<td class="n">{c["blocked"]:,}</td>',
                part,
            ), (section, label)
    part = html[html.index('id="by-campaign"') :]
    for cid, c in s["by_campaign"].items():
        assert re.search(rf'{cid}</span></td><td>{c["gbu"]}</td><td class="n">{c["ready"]}</td>', part), cid


def test_campaign_and_gbu_tables_say_a_leads_change_counts_under_each_of_them(html):
    """README: by_campaign and by_gbu count a Lead's change under each campaign and GBU it touches — the report says
    so where the rows can add up to more than the headline's totals; by field and by rule add up and say nothing."""

    def section(name):
        start = html.index(f'id="by-{name}"')
        return html[
            start : html.index('class="breakdown"', start + 1) if name != "gbu" else html.index("</section>", start)
        ]

    assert "counts under every campaign the Lead is a member of" in section("campaign")
    assert "its own GBU and the GBU of each of its campaigns" in section("gbu")
    assert "can add up to more" not in section("field") + section("rule")


def test_blocked_reasons_read_as_sentences(html):
    assert "3 enrichment values wait for Legal." in html
    assert "1 existing value would be overwritten — needs explicit approval." in html


def test_a_change_blocked_for_several_reasons_is_counted_under_its_first_and_the_others_are_said(plan, tmp_path):
    # SPEC §4: the first reason is given and the others are listed too. "Released when Legal approves" must not
    # promise what Legal alone cannot release: a value that waits for Legal and is too long stays blocked after.
    for c in plan["changes"]:  # as a build writes them: reasons[0] is the reason (audit assert_reason_is_first_reason)
        c["reasons"] = [c["reason"]] if c.get("reason") else []
    legal = [c for c in plan["changes"] if c.get("reason") == "pending_legal"]
    legal[0]["reasons"] = ["pending_legal", "too_long"]
    legal[1]["reasons"] = ["pending_legal", "overwrite_not_approved"]
    html = render_report(plan, tmp_path / "r.html").read_text("utf-8")
    item = re.search(r'<li data-reason="pending_legal">.*?</li>', html, re.S).group(0)
    assert "Also blocked for another reason, and still blocked once this one is cleared" in item
    assert "too_long 1, overwrite_not_approved 1" in item  # in the closed order of SPEC §4
    other = re.search(r'<li data-reason="overwrite_not_approved">.*?</li>', html, re.S).group(0)
    assert "Also blocked" not in other
    save_plan({**plan, "format": "reconcile.plan/2"}, tmp_path / "p2" / "plan.json")  # /2: queried, not loaded
    columnar = load_plan(tmp_path / "p2" / "plan.json")
    text = render_report(columnar, tmp_path / "r2.html").read_text("utf-8")
    assert columnar["format"] == "reconcile.plan/2" and "too_long 1, overwrite_not_approved 1" in text


def test_gates_are_shown_above_the_changes(html):
    assert html.index('id="gates"') < html.index('id="changes"')
    assert "blast_radius_field" in html and "812 changes, limit 500" in html


def test_hard_bounce_section_carries_the_runbook(html):
    section = html[html.index('id="hard-bounce"') : html.index('id="findings"')]
    assert "Check Pardot's hard-bounce source first" in section
    assert "external_hard_bounced__c" in section and "Never override manually without an audit trail" in section
    for kind in ("overall_formula_mismatch", "pardot_sync_gap", "bounce_hop_lost"):
        assert re.search(rf'data-kind="{kind}"><b>1</b>', section), kind
    assert re.search(r'data-rule="hard_bounce_union"><b>2</b>', section)


def test_rejected_rows_list_file_row_column_value_and_expectation(html):
    section = html[html.index('id="rejects"') : html.index('id="connector-errors"')]
    assert "clay/enrichment.csv" in section and "Hard Bounced" in section and "maybe" in section
    assert "a boolean (true/false/1/0/yes/no/y/n/t/f or empty)" in section


def test_connector_errors_of_the_week_are_grouped_by_message(html):
    section = html[html.index('id="connector-errors"') : html.index('id="trends"')]
    assert "REQUIRED_FIELD_MISSING: Company" in section
    assert re.search(r'class="n">2</td>', section)  # two errors, one message
    assert "UNABLE_TO_LOCK_ROW" not in section.split("</table>")[0]  # 17 days old: outside the week
    assert "1 older connector error outside this window" in section


def test_trends_cover_history_and_this_run_without_duplicates(plan, history, tmp_path):
    with_current = [*history, {"run_id": plan["plan_id"], "created_at": plan["created_at"], "summary": plan["summary"]}]
    a = render_report(plan, tmp_path / "a.html", history).read_text(encoding="utf-8")
    b = render_report(plan, tmp_path / "b.html", with_current).read_text(encoding="utf-8")
    assert a == b
    assert "4 runs" in a and "<polyline" in a
    trends = a[a.index('id="trends"') : a.index('id="samples"')]
    assert "2026-11-24" in trends and "2026-11-27" in trends


def test_data_is_escaped(html):
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    assert "Q4 Webinar &lt;b&gt;Launch&lt;/b&gt;" in html


def test_two_renders_are_byte_identical(plan, history, tmp_path):
    a = render_report(plan, tmp_path / "a.html", history).read_bytes()
    b = render_report(copy.deepcopy(plan), tmp_path / "b.html", copy.deepcopy(history)).read_bytes()
    assert a == b


def test_report_references_nothing_outside_the_file(html):
    loads = re.sub(r"<a [^>]*>", "", html)  # a link to a Salesforce record loads nothing; everything else would
    assert not re.search(r"""(src|href|url\()\s*=?\s*["']?\s*(https?:|//)""", loads, re.I)
    assert "@import" not in html and "<link" not in html and "<iframe" not in html


def test_write_is_atomic_and_leaves_no_temp_files(plan, tmp_path):
    out = render_report(plan, tmp_path / "deep" / "report.html")
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]


def test_empty_plan_renders_with_friendly_messages(tmp_path):
    html = render_report(load("plan_empty.json"), tmp_path / "r.html").read_text(encoding="utf-8")
    assert tile(html, "ready") == "0" and 'id="gates"' not in html
    assert "Nothing is blocked." in html and "No input rows were rejected." in html
    assert "Trends appear from the second run on." in html


def test_unknown_reasons_routes_and_sparse_history_still_render(plan, tmp_path):
    plan["summary"]["by_reason"]["brand_new_reason"] = 2
    plan["findings"].append({"kind": "novel_kind", "route": "Legal Ops", "detail": "x", "evidence": []})
    html = render_report(
        plan, tmp_path / "r.html", [{"run_id": "old", "created_at": "2026-11-01T00:00:00Z", "summary": {}}]
    ).read_text(encoding="utf-8")
    assert "2 changes blocked." in html and 'data-route="Legal Ops">1<' in html
    assert "2 runs" in html


def test_title_can_be_set(plan, tmp_path):
    html = render_report(plan, tmp_path / "r.html", title="Daily <MARCOM> review").read_text(encoding="utf-8")
    assert "<title>Daily &lt;MARCOM&gt; review</title>" in html


def test_large_plan_samples_are_capped(plan, tmp_path):
    template = plan["changes"][0]
    plan["changes"] = [
        {**template, "record_id": f"00v{i:015d}", "evidence": template["evidence"]} for i in range(30_000)
    ]
    plan["findings"] = [{**plan["findings"][1], "record_id": f"00Q{i:015d}"} for i in range(5_000)]
    html = render_report(plan, tmp_path / "big.html").read_text(encoding="utf-8")
    assert "… and 29,975 more changes" in html
    assert "… and 4,950 more bounce_hop_lost findings" in html
    assert len(html) < 1_500_000


@pytest.mark.browser
def test_report_opens_in_chromium_without_errors(plan, history, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    out = render_report(plan, tmp_path / "report.html", history)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.on(
                "request", lambda r: problems.append(f"request: {r.url}") if not r.url.startswith("file:") else None
            )
            page.goto(out.as_uri())
            assert page.locator("#headline").is_visible()
            assert page.locator('[data-count="ready"]').inner_text() == "5"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []


def test_record_ids_link_to_salesforce_when_the_org_is_known(plan, tmp_path, monkeypatch):
    monkeypatch.delenv("SF_INSTANCE_URL", raising=False)
    plain = render_report(plan, tmp_path / "plain.html").read_text("utf-8")
    assert "/lightning/r/" not in plain
    linked = render_report(plan, tmp_path / "linked.html", instance_url="https://acme.my.salesforce.com/")
    text = linked.read_text("utf-8")
    c = plan["changes"][0]
    assert f'href="https://acme.my.salesforce.com/lightning/r/{c["object"]}/{c["record_id"]}/view"' in text
    assert text.count("/lightning/r/") >= 10


def test_since_the_last_run_says_who_approved_and_what_was_applied(plan, tmp_path):
    from reconcile.notebook.run import list_runs, since_last_run

    prev = tmp_path / "reports" / "2026-11-26-aaaaaaaa"
    prev.mkdir(parents=True)
    (prev / "summary.json").write_text(
        json.dumps(
            {"plan_id": "sha256:aaaa", "created_at": "2026-11-26T06:00:00Z", "summary": {"changes": {"ready": 5}}}
        ),
        "utf-8",
    )
    (prev / "plan.approval.json").write_text(
        json.dumps(
            {
                "format": "reconcile.approval/2",
                "plan_id": "sha256:aaaa",
                "approvals": [{"approved_by": "Ana Admin", "approved_at": "2026-11-26T09:00:00Z"}],
            }
        ),
        "utf-8",
    )
    (prev / "plan.results.csv").write_text(
        "object,record_id,field,before,after,result,error_code,message\n"
        + "Lead,x,f,,1,applied,,\n" * 3
        + "Lead,y,f,,1,drifted,,\n",
        "utf-8",
    )
    since = since_last_run(list_runs(tmp_path / "reports")[-1])
    text = render_report(plan, tmp_path / "r.html", since=since).read_text("utf-8")
    block = text.split('id="since-last-run"')[1].split("</section>")[0]
    assert "approved by <b>Ana Admin</b>" in block and "3 applied" in block and "1 drifted" in block

    (prev / "plan.results.csv").unlink()
    (prev / "plan.approval.json").unlink()
    text = render_report(plan, tmp_path / "r2.html", since=since_last_run(list_runs(tmp_path / "reports")[-1]))
    assert "was not approved" in text.read_text("utf-8")
    first = render_report(plan, tmp_path / "r3.html", since=since_last_run(None)).read_text("utf-8")
    assert "No earlier run in this reports folder" in first


@pytest.mark.parametrize(
    "record_id",
    ["../../secur/logout.jsp", "00Q000000000005AAA/../../../home", "00Q000000000005AAA?x=1", "x onmouseover=alert(1)"],
)
def test_only_salesforce_ids_become_record_links(plan, tmp_path, record_id):
    """A connector error's record id is free text from the Clay log: it must not steer a link into the org."""
    plan["findings"] = [
        {**f, "record_id": record_id} if f["kind"] == "connector_error" else f for f in plan["findings"]
    ]
    text = render_report(plan, tmp_path / "r.html", instance_url="https://acme.my.salesforce.com").read_text("utf-8")
    hrefs = re.findall(r'href="([^"]*)"', text)
    assert not [h for h in hrefs if "/lightning/r/" in h and not re.search(r"/r/\w+/[A-Za-z0-9]{18}/view$", h)]
    assert any(h.endswith("/lightning/r/Lead/00Q000000000004AAA/view") for h in hrefs)  # a real id still links


@pytest.mark.parametrize(
    "instance", ["javascript:alert(1)//", "data:text/html,x", "acme.my.salesforce.com", "http://acme.my.salesforce.com"]
)
def test_record_links_need_an_https_instance_url(plan, tmp_path, instance):
    text = render_report(plan, tmp_path / "r.html", instance_url=instance).read_text("utf-8")
    assert "/lightning/r/" not in text


def connector_error(at: str, message: str) -> dict:
    ev = {"source": "clay", "file": "clay/errors.csv", "row": 9, "column": "message", "value": message, "at": at}
    return {"kind": "connector_error", "object": "Lead", "route": "CRM Admin", "detail": message, "at": at,
            "evidence": [ev]}  # fmt: skip


@pytest.mark.parametrize(
    "at, counted, older, later",
    [
        # the window is the 7 days up to the later of the Salesforce snapshot (05:00) and the error log's export (05:05)
        ("2026-11-27T05:03:00Z", True, 1, 0),  # logged after the Salesforce snapshot, before the log was exported
        ("2026-11-27T05:05:00Z", True, 1, 0),  # the end is inside
        ("2026-11-20T05:05:01Z", True, 1, 0),
        ("2026-11-20T05:05:00Z", False, 2, 0),  # exactly 7 days before: last week's report counted it
        ("2026-11-27T05:05:01Z", False, 1, 1),  # after the export: a clock or time-zone problem, not an old error
        ("2026-12-24T00:00:00Z", False, 1, 1),
    ],
)
def test_the_weeks_connector_errors_are_the_7_days_up_to_the_snapshot(plan, tmp_path, at, counted, older, later):
    plan["findings"].append(connector_error(at, "PROBE: the error at the boundary"))
    html = render_report(plan, tmp_path / "r.html").read_text("utf-8")
    section = html[html.index('id="connector-errors"') : html.index('id="trends"')]
    assert ("PROBE: the error at the boundary" in section.split("</table>")[0]) is counted
    assert re.search(rf"connector errors <span class=\"total\">\({3 if counted else 2}\)", section)
    assert "2026-11-20 05:05 UTC to 2026-11-27 05:05 UTC" in section
    assert f"{older} older connector error{'s' if older > 1 else ''} outside this window" in section
    assert ("1 connector error dated after the snapshot was taken" in section) is bool(later)


# ------------------------------------------------------------------------------------------ hostile data, real browser

PAYLOAD = '<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2">'
PAYLOAD2 = "'\"><svg onload=window.__pwned=3></style>{{7*7}} javascript:alert(1)"
HOSTILE = PAYLOAD + PAYLOAD2


def hostile_snapshot(root: Path) -> Path:
    """Every place data reaches the report carries markup: values, file names (a Clay table, a Smartlead campaign
    file), campaign and GBU names, the Clay error log's object, record id, field and message, a rejected value."""
    from conftest import (
        CLAY_HEADER,
        LEAD_HEADER,
        MEMBER_HEADER,
        SMARTLEAD_HEADER,
        campaign_id,
        csv_text,
        lead,
        lead_id,
        member,
        member_id,
        write_snapshot,
    )

    in_name = PAYLOAD.replace("/", "_")
    old = {2: f"old {HOSTILE}"}
    leads = [lead(i, GBU__c=f"GBU {HOSTILE}", company_description__c=old.get(i)) for i in (1, 2, 3, 4)]
    clay = [
        {"CampaignMemberId": member_id(1), "LeadId": lead_id(1), "Company Description": f"desc {HOSTILE}",
         "Industry": f"ind {HOSTILE}", "Replied": "yes", "Reply Category": f"cat {HOSTILE}",
         "Reply At": "2026-11-26T00:00:00Z"},
        {"LeadId": lead_id(2), "Company Description": f"new {HOSTILE}" + "x" * 3000, "Hard Bounced": f"maybe {HOSTILE}"},
        {"LeadId": lead_id(3), "Company Description": f"A {HOSTILE}"},
        {"LeadId": lead_id(3), "Company Description": f"B {HOSTILE}"},
        {"Email": f"ghost{PAYLOAD}@x.de", "Company Description": "g"},
    ]  # fmt: skip
    errors = [
        {"time": "2026-11-26T00:00:00Z", "object": f"Obj {HOSTILE}", "record id": f"../../{HOSTILE}",
         "field": f"F {HOSTILE}", "message": f"M {HOSTILE}"},
    ]  # fmt: skip
    return write_snapshot(
        root,
        {
            "sfdc/Lead.csv": csv_text([*LEAD_HEADER, "GBU__c"], leads),
            "sfdc/CampaignMember.csv": csv_text(MEMBER_HEADER, [member(1, 1), member(2, 2)]),
            "sfdc/Campaign.csv": csv_text(
                ["Id", "Name", "GBU__c"], [{"Id": campaign_id(1), "Name": f"Camp {HOSTILE}", "GBU__c": f"CG {HOSTILE}"}]
            ),
            f"clay/table {in_name}.csv": csv_text(CLAY_HEADER, clay),
            "clay/errors.csv": csv_text(["time", "object", "record id", "field", "message"], errors),
            f"smartlead/campaign-77 {in_name}.csv": csv_text(
                SMARTLEAD_HEADER,
                [
                    {
                        "id": "1",
                        "email": "lead4@example.com",
                        "category": "Sender Originated Bounce",
                        "custom_fields": {"sfdc_lead_id": lead_id(4)},
                    }
                ],
            ),  # fmt: skip
        },
    )


def open_in_chromium(path: Path, check):
    """Open `path` in headless Chromium with every request routed (only the file itself may load) and call
    check(page); returns (requests other than the file, dialogs, page errors, CSP violations)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    requests, dialogs, errors = [], [], []

    def route(r):
        if r.request.url == path.as_uri():
            r.continue_()
        else:
            requests.append(r.request.url)
            r.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context()
            context.route("**/*", route)
            page = context.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.add_init_script(
                "window.__csp = []; document.addEventListener('securitypolicyviolation',"
                " e => window.__csp.push(e.violatedDirective))"
            )
            page.goto(path.as_uri())
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            check(page)
            page.wait_for_timeout(300)
            csp = page.evaluate("window.__csp")
        finally:
            browser.close()
    return requests, dialogs, errors, csp


@pytest.mark.browser
def test_hostile_data_shows_literally_and_nothing_runs_or_loads(tmp_path):
    from conftest import plan_in

    plan = plan_in(hostile_snapshot(tmp_path), tmp_path / "out", lenient=True)
    assert plan["summary"]["rejects"]["total"] >= 1 and plan["summary"]["findings"]["by_kind"]["connector_error"] == 1
    history = [{"run_id": f"r {HOSTILE}", "created_at": "2026-11-20T06:00:00Z", "summary": {"by_field": {HOSTILE: {}}}}]
    since = {"run_id": HOSTILE, "created_at": HOSTILE, "ready": 1, "approvals": [{"by": f"Ann {HOSTILE}", "at": "x"}],
             "outcomes": {HOSTILE: 1}}  # fmt: skip
    out = render_report(plan, tmp_path / "r.html", history, title=f"T {HOSTILE}", since=since,
                        instance_url="https://acme.my.salesforce.com", weekly_review="../weekly/2026-W48.html",
                        findings_exports={"CRM Admin": "findings-crm-admin.csv"})  # fmt: skip
    seen = {}

    def check(page):
        seen["pwned"] = page.evaluate("window.__pwned === undefined ? null : window.__pwned")
        seen["active"] = page.evaluate("document.querySelectorAll('script, img, iframe, [onerror], [onload]').length")
        seen["text"] = page.locator("body").inner_text()
        seen["fetch"] = page.evaluate(
            "fetch('http://127.0.0.1:9/beacon').then(() => 'sent', () => 'failed')"
        )  # what an injected script would do

    requests, dialogs, errors, csp = open_in_chromium(out, check)
    assert seen["pwned"] is None and seen["active"] == 0 and dialogs == [] and errors == []
    for where in (f"Camp {HOSTILE}", f"M {HOSTILE}", f"Ann {HOSTILE}", f"table {PAYLOAD.replace('/', '_')}.csv"):
        assert where in seen["text"], where
    # the page forbids every load itself (Content-Security-Policy), so not even a script that got in could call out
    assert requests == [] and "connect-src" in csp, (requests, csp)


@pytest.mark.parametrize(
    "char, name",
    [("\u202e", "U+202E"), ("\u2067", "U+2067"), ("\u200b", "U+200B"), ("\ufeff", "U+FEFF"), ("\x1b", "U+001B")],
)
def test_invisible_and_direction_characters_in_data_are_shown_not_obeyed(plan, tmp_path, char, name):
    """'Acme' and 'Acme' + a zero-width space look the same, and a right-to-left override turns the rest of its line
    around (a campaign's id after its name read backwards): the report names such characters instead."""
    change = plan["changes"][0]
    change.update(before=f"Acme{char}", after="Acme")
    cid = next(iter(plan["summary"]["by_campaign"]))
    plan["summary"]["by_campaign"][cid]["name"] = f"Spring{char} launch"
    plan["findings"].append(connector_error("2026-11-26T11:00:00Z", f"PROBE{char}: bad value"))
    html = render_report(plan, tmp_path / "r.html", title=f"Daily{char}").read_text("utf-8")
    assert char not in html
    for shown in (f"Acme⟨{name}⟩", f"Spring⟨{name}⟩ launch", f"PROBE⟨{name}⟩: bad value", f"Daily⟨{name}⟩"):
        assert shown in html, shown


def test_every_control_and_format_character_is_named():
    import unicodedata

    from reconcile.report.charts import INVISIBLE

    hidden = (chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zl", "Zp"))
    assert [f"U+{ord(c):04X}" for c in hidden if c not in "\t\n\r" and not INVISIBLE.fullmatch(c)] == []


def test_the_trend_chart_has_its_numbers_as_a_table(plan, history, tmp_path):
    """Ready, blocked and findings per run are drawn as lines; a screen reader (or a person copying numbers) gets
    the same numbers as table rows — a run with no changes reads 0, not a dash."""
    history.append({"run_id": "sha256:4444", "created_at": "2026-11-26T18:00:00Z", "summary": {"changes": {}}})
    html = render_report(plan, tmp_path / "r.html", history).read_text("utf-8")
    trends = html[html.index('id="trends"') : html.index('id="samples"')]
    runs = [*history, {"summary": plan["summary"]}]
    ready_blocked = "".join(
        rf'<td class="n[^"]*">{r["summary"]["changes"].get("ready", 0)} / {r["summary"]["changes"].get("blocked", 0)}</td>'
        for r in runs
    )
    assert re.search(rf"<tr><th[^>]*>All fields</th>{ready_blocked}</tr>", trends)
    found = "".join(rf'<td class="n[^"]*">{(r["summary"].get("findings") or {}).get("total", 0)}</td>' for r in runs)
    assert re.search(rf"<tr><th[^>]*>Findings</th>{found}</tr>", trends)


@pytest.mark.browser
def test_the_table_of_contents_scrolls_the_report_shown_inline_in_a_notebook(plan, history, tmp_path):
    """In a notebook the report is a srcdoc frame (report_frame): its table of contents must scroll that frame, not
    load the notebook's own page into it (a srcdoc document resolves '#findings' against its parent's URL)."""
    from reconcile.notebook.explore import report_frame

    report = render_report(plan, tmp_path / "report.html", history)
    host = tmp_path / "notebook.html"
    host.write_text(f"<!doctype html><html><body>{report_frame(report, height=400).data}</body></html>", "utf-8")
    seen = {}

    def check(page):
        frame = page.frames[1]
        frame.locator("nav a[href='#findings']").click()
        page.wait_for_timeout(500)
        frame = page.frames[1]
        seen["url"] = frame.url
        seen["sections"] = frame.locator("#findings").count()
        seen["scrolled"] = frame.evaluate("window.scrollY")

    requests, dialogs, errors, _ = open_in_chromium(host, check)
    assert seen["sections"] == 1 and seen["url"].startswith("about:srcdoc"), (seen, requests)
    assert seen["scrolled"] > 0, (seen, requests)
    assert not requests and not errors and not dialogs


def test_a_backfilled_run_trends_only_the_days_before_it_labelled_by_run_date(tmp_path, plan):
    """`reconcile run --date 2026-11-27` after two runs of 12-04: its trends hold 11-26 and itself, in day order,
    labelled by run date — not the later days' runs, nor everything labelled by the minute it was planned."""
    import json as _json

    from reconcile.notebook.run import history_of
    from reconcile.report.report import build_context

    for run_id, created in [
        ("2026-11-26-aaaa1111", "2026-11-26T06:30:00Z"),
        ("2026-12-04-bbbb2222", "2026-12-04T09:49:00Z"),
        ("2026-12-04-cccc3333", "2026-12-04T09:50:00Z"),
    ]:
        (tmp_path / run_id).mkdir()
        (tmp_path / run_id / "summary.json").write_text(
            _json.dumps({"plan_id": run_id, "created_at": created, "run_date": run_id[:10], "summary": plan["summary"]})
        )
    now = {**plan, "created_at": "2026-12-04T10:00:00Z"}
    history = history_of(tmp_path, before=now["created_at"], run_date="2026-11-27")
    assert [r["run_id"] for r in history] == ["2026-11-26-aaaa1111"]
    trends = build_context(now, history, run_date="2026-11-27")["trends"]
    assert trends["labels"] == ["2026-11-26", "2026-11-27"]
    later = history_of(tmp_path, before="2026-12-04T09:50:00Z", run_date="2026-12-04")  # the third run's own view
    assert [r["run_id"] for r in later] == ["2026-11-26-aaaa1111", "2026-12-04-bbbb2222", "2026-12-04-cccc3333"]


def test_a_damaged_rows_reject_says_what_is_wrong_beside_what_was_expected(plan, history, tmp_path):
    """A ragged row or a broken quote expects 'a well-formed row': its message (how many columns, where the quote
    opens) is what tells the reader what to fix."""
    damaged = {
        "file": "sfdc/Lead.csv",
        "row": 7,
        "column": "",
        "value": '00Q…,"broken',
        "expected": "a well-formed row (complete quoting, as many columns as the header)",
        "message": "a quoted value is not closed before the end of the file (truncated?): the quote opened in "
        "column 'Email' takes in every line to the end of the file (3 lines)",
    }
    page = render_report({**plan, "rejects": [*plan["rejects"], damaged]}, tmp_path / "r.html", history).read_text()
    section = page[page.index('id="rejects"') : page.index('id="connector-errors"')]
    assert "a well-formed row (complete quoting" in section
    assert "the quote opened in column &#39;Email&#39; takes in every line" in section
