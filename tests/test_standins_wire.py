"""Wire fidelity of the stand-ins (Jira, Pardot, Smartlead, the incoming-webhook receiver) driven with plain
`requests`, and of the SMTP stand-in driven with `smtplib`: any well-behaved client of the real service must work
against them, not only reconcile's. Each answer is compared with the status, Content-Type and body shape the
service documents (the handlers cite the pages).
The Salesforce org's wire tests are tests/test_sandbox_wire.py."""

from __future__ import annotations

import re
import shlex
import signal
import smtplib
import ssl
import subprocess
import sys
import threading

import pytest
import requests

from reconcile.standins.jira import JiraStandin
from reconcile.standins.pardot import PardotStandin
from reconcile.standins.smartlead import SmartleadStandin
from reconcile.standins.smtp import SmtpStandin
from reconcile.standins.webhook import WebhookStandin

TOKEN = "00D-live-session"


@pytest.fixture(scope="module")
def jira():
    with JiraStandin(flavor="cloud", issues=["KLN-35"]) as j:
        yield j


@pytest.fixture(scope="module")
def jira_dc():
    with JiraStandin(flavor="datacenter", issues=["KLN-40"]) as j:
        yield j


@pytest.fixture(scope="module")
def pardot():
    with PardotStandin([{"id": 1, "email": "a@x.io"}], token_ok=lambda t: t == TOKEN) as p:
        yield p


@pytest.fixture(scope="module")
def smartlead():
    with SmartleadStandin({9181: b'"id","email"\n"1","a@x.io"\n'}, limit=1000) as s:
        yield s


@pytest.fixture(scope="module")
def hooks():
    with WebhookStandin() as h:
        yield h


def call(standin, method: str, path: str, **kw) -> requests.Response:
    """A plain request to a stand-in with the credentials its service wants (Jira basic auth, Pardot's two
    headers, Smartlead's api_key query parameter)."""
    if isinstance(standin, JiraStandin):
        if standin.flavor == "cloud":
            kw.setdefault("auth", (standin.email, standin.token))
        else:
            kw.setdefault("headers", {"Authorization": f"Bearer {standin.token}"})
    elif isinstance(standin, PardotStandin):
        kw.setdefault(
            "headers", {"Authorization": f"Bearer {TOKEN}", "Pardot-Business-Unit-Id": standin.business_unit_id}
        )
    elif isinstance(standin, SmartleadStandin):
        path += ("&" if "?" in path else "?") + f"api_key={standin.api_key}"
    path = path.replace("<secret>", getattr(standin, "secret", ""))
    return requests.request(method, standin.url + path, timeout=10, **kw)


def jira_error(r) -> list[str]:
    # Jira's error collection: https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/#status-codes
    body = r.json()
    assert set(body) == {"errorMessages", "errors"} and isinstance(body["errors"], dict)
    return body["errorMessages"]


def pardot_error(r) -> int:
    # v5 errors: https://developer.salesforce.com/docs/marketing/pardot/guide/error-codes.html
    body = r.json()
    assert set(body) == {"code", "message"} and isinstance(body["code"], int) and body["message"]
    return body["code"]


def smartlead_error(r) -> str:
    body = r.json()
    assert set(body) == {"message"} and body["message"]
    return body["message"]


def chat_error(r) -> int:
    # Google APIs' error envelope: https://cloud.google.com/apis/design/errors#http_mapping
    body = r.json()
    assert set(body) == {"error"} and {"code", "message", "status"} <= set(body["error"])
    return body["error"]["code"]


def teams_error(r) -> str:
    body = r.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    return body["error"]["code"]


# ---- unknown paths and methods a route does not serve ---------------------------------------------------


@pytest.mark.parametrize(
    "name, method, path, status, allow, shape",
    [
        ("jira", "GET", "/rest/api/3/nope", 404, None, jira_error),
        ("jira", "GET", "/nope", 404, None, jira_error),
        ("jira", "DELETE", "/rest/api/3/issue/KLN-35", 405, {"GET", "HEAD"}, jira_error),
        ("jira", "PUT", "/rest/api/3/myself", 405, {"GET", "HEAD"}, jira_error),
        ("jira", "POST", "/rest/api/3/issue/KLN-35", 405, {"GET", "HEAD"}, jira_error),
        ("jira", "GET", "/rest/api/3/issue", 405, {"POST"}, jira_error),
        ("jira_dc", "GET", "/rest/api/3/myself", 404, None, jira_error),  # Data Center has no REST v3
        ("pardot", "GET", "/api/v5/objects/nope", 404, None, pardot_error),
        ("pardot", "GET", "/nope", 404, None, pardot_error),
        ("pardot", "POST", "/api/v5/objects/prospects", 405, {"GET"}, pardot_error),
        ("smartlead", "GET", "/api/v1/nope", 404, None, smartlead_error),
        ("smartlead", "GET", "/api/v1/campaigns/abc/leads", 404, None, smartlead_error),
        ("smartlead", "POST", "/api/v1/campaigns", 405, {"GET"}, smartlead_error),
        ("smartlead", "DELETE", "/api/v1/campaigns/9181/leads-export", 405, {"GET"}, smartlead_error),
        ("hooks", "GET", "/chat/v1/spaces/AAAA/m/<secret>", 405, {"POST"}, chat_error),
        ("hooks", "GET", "/chat/v1/spaces/AAAA/nope", 404, None, chat_error),
        ("hooks", "GET", "/teams/workflows/<secret>", 405, {"POST"}, teams_error),
        ("hooks", "POST", "/teams/nope", 404, None, teams_error),
    ],
)
def test_unknown_paths_and_wrong_methods_answer_the_services_json_error(
    request, name, method, path, status, allow, shape
):
    r = call(request.getfixturevalue(name), method, path)
    assert r.status_code == status
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    assert shape(r)
    if allow:
        assert set(r.headers["Allow"].replace(" ", "").split(",")) == allow


@pytest.mark.parametrize(
    "method, path, status, text",
    [("GET", "/slack/T000/B000/<secret>", 405, "invalid_payload"), ("POST", "/slack/T000/nope", 404, "no_service")],
)
def test_slack_answers_its_plain_text_error_codes_on_unknown_paths_and_methods(hooks, method, path, status, text):
    # Slack webhook errors are plain-text codes: https://api.slack.com/messaging/webhooks#handling_errors
    r = call(hooks, method, path)
    assert (r.status_code, r.headers["Content-Type"].split(";")[0], r.text) == (status, "text/plain", text)


@pytest.mark.parametrize("path", ["/rest/api/3/myself", "/rest/api/3/issue/KLN-35", "/rest/api/3/issue/KLN-35/comment"])
def test_jira_answers_head_as_its_get_without_the_body(jira, path):
    got, head = call(jira, "GET", path), call(jira, "HEAD", path)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["Content-Type"] == got.headers["Content-Type"]
    assert head.headers["Content-Length"] == str(len(got.content))


# ---- Jira create issue: validation errors by field ------------------------------------------------------


def issue_fields(**fields) -> dict:
    return {
        "fields": {"project": {"key": "KLN"}, "summary": "Weekly findings", "issuetype": {"name": "Task"}, **fields}
    }


@pytest.mark.parametrize(
    "fields, errors",
    [
        ({"project": {"key": "NOPE"}}, {"project": "valid project is required"}),
        ({"project": {"id": "99999"}}, {"project": "valid project is required"}),
        ({"summary": "x" * 256}, {"summary": "Summary must be less than 255 characters."}),
        ({"summary": "two\nlines"}, {"summary": "The summary is invalid because it contains newline characters."}),
    ],
)
def test_jira_create_issue_refuses_by_field_what_jira_refuses(jira, fields, errors):
    # 400 with the error collection's `errors` map by field:
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-post
    before = set(jira.issues)
    r = call(jira, "POST", "/rest/api/3/issue", json=issue_fields(**fields))
    assert r.status_code == 400 and r.json() == {"errorMessages": [], "errors": errors}
    assert set(jira.issues) == before


def test_jira_create_issue_takes_the_project_by_key_or_by_id(jira):
    project = call(jira, "GET", "/rest/api/3/issue/KLN-35").json()["fields"]["project"]
    by_id = call(jira, "POST", "/rest/api/3/issue", json=issue_fields(project={"id": project["id"]}))
    by_key = call(jira, "POST", "/rest/api/3/issue", json=issue_fields(summary="x" * 255))
    assert (by_id.status_code, by_key.status_code) == (201, 201)
    assert by_id.json()["key"].startswith("KLN-") and by_key.json()["key"].startswith("KLN-")


@pytest.mark.parametrize("path", ["/api/v1/campaigns", "/api/v1/campaigns/9181/leads", "/api/v1/campaigns/1/leads"])
def test_smartlead_json_answers_declare_their_charset(smartlead, path):
    # every JSON answer has one Content-Type naming its charset (GET /campaigns had a bare application/json)
    r = call(smartlead, "GET", path)
    assert r.headers["Content-Type"].lower() == "application/json; charset=utf-8"


# ---- Jira: serverInfo, comment pages, empty comments (found by a wire audit) ------------------------------


def test_jira_serves_server_info_as_client_libraries_read_it_first(jira, jira_dc):
    # the `jira` package's constructor GETs /rest/api/2/serverInfo and failed on a 404 here
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-server-info/#api-rest-api-3-serverinfo-get
    cloud, dc = call(jira, "GET", "/rest/api/2/serverInfo"), call(jira_dc, "GET", "/rest/api/2/serverInfo")
    assert (cloud.status_code, dc.status_code) == (200, 200)
    assert (cloud.json()["deploymentType"], dc.json()["deploymentType"]) == ("Cloud", "Server")
    for info in (cloud.json(), dc.json()):
        assert {"baseUrl", "version", "versionNumbers", "buildNumber", "serverTime"} <= set(info)
        assert all(isinstance(n, int) for n in info["versionNumbers"]) and len(info["versionNumbers"]) == 3
    assert call(jira, "GET", "/rest/api/3/serverInfo").status_code == 200


@pytest.mark.parametrize("flavor, version, ids", [("jira", "3", {"accountId"}), ("jira_dc", "2", {"name", "key"})])
def test_a_jira_comments_author_is_the_user_myself_names(request, flavor, version, ids):
    """A client recognises its own comments by the author's id: accountId on Cloud, name/key on Data Center.
    https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/ (GET /rest/api/3/myself)"""
    j = request.getfixturevalue(flavor)
    key = next(iter(j.issues))
    body = (
        "mine"
        if version == "2"
        else {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": "mine"}]}],
        }
    )
    made = call(j, "POST", f"/rest/api/{version}/issue/{key}/comment", json={"body": body}).json()
    me = call(j, "GET", f"/rest/api/{version}/myself").json()
    assert ids <= set(me) and all(made["author"][k] == made["updateAuthor"][k] == me[k] for k in ids)


def test_jira_pages_comments_by_start_at_and_max_results(jira):
    # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/#api-rest-api-3-issue-issueidorkey-comment-get
    made = call(jira, "POST", "/rest/api/3/issue", json=issue_fields(summary="paging")).json()["key"]
    for n in range(3):
        body = {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": f"c{n}"}]}],
        }
        assert call(jira, "POST", f"/rest/api/3/issue/{made}/comment", json={"body": body}).status_code == 201
    seen, start = [], 0
    while True:
        page = call(jira, "GET", f"/rest/api/3/issue/{made}/comment", params={"startAt": start, "maxResults": 2}).json()
        assert (page["startAt"], page["maxResults"], page["total"]) == (start, 2, 3)
        seen += [c["id"] for c in page["comments"]]
        start += len(page["comments"])
        if not page["comments"] or start >= page["total"]:
            break
    assert len(seen) == len(set(seen)) == 3
    bad = call(jira, "GET", f"/rest/api/3/issue/{made}/comment", params={"startAt": "x"})
    assert bad.status_code == 400 and bad.json()["errorMessages"]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "doc", "version": 1, "content": []},
        {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": []}]},
        {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": " "}]}]},
    ],
)
def test_jira_refuses_an_empty_adf_comment_as_it_refuses_an_empty_string(jira, body):
    before = len(jira.comments["KLN-35"])
    r = call(jira, "POST", "/rest/api/3/issue/KLN-35/comment", json={"body": body})
    assert r.status_code == 400 and r.json() == {
        "errorMessages": [],
        "errors": {"comment": "Comment body can not be empty!"},
    }
    assert len(jira.comments["KLN-35"]) == before


# ---- Smartlead: the leads list's filters (found by a wire audit: they were ignored, every lead came back) -----

LEADS_CSV = (
    b'"id","email","status","category","reply_count","created_at"\n'
    b'"1","a@x.io","COMPLETED","Interested","2","2026-11-01T10:00:00Z"\n'
    b'"2","b@x.io","STARTED","","0","2026-11-20T10:00:00Z"\n'
    b'"3","c@x.io","COMPLETED","Not Interested","0","2026-11-25T10:00:00.000Z"\n'
)


@pytest.mark.parametrize(
    "params, emails",
    [
        ({}, ["a@x.io", "b@x.io", "c@x.io"]),
        ({"status": "COMPLETED"}, ["a@x.io", "c@x.io"]),
        ({"lead_category_id": "1"}, ["a@x.io"]),  # Interested: the first standard category
        ({"emailStatus": "is_replied"}, ["a@x.io"]),
        ({"emailStatus": "not_replied", "status": "COMPLETED"}, ["c@x.io"]),
        ({"created_at_gt": "2026-11-15T00:00:00Z"}, ["b@x.io", "c@x.io"]),
    ],
)
def test_smartlead_leads_list_applies_its_documented_filters(params, emails):
    # https://api.smartlead.ai/api-reference/campaigns/get-leads (source_schemas.md §1.2 [S3])
    with SmartleadStandin({7: LEADS_CSV}, limit=1000) as s:
        r = call(s, "GET", "/api/v1/campaigns/7/leads", params=params)
    assert r.status_code == 200, r.text
    assert [d["lead"]["email"] for d in r.json()["data"]] == emails
    assert r.json()["total_leads"] == str(len(emails))


@pytest.mark.parametrize(
    "params",
    [{"status": "DONE"}, {"lead_category_id": "x"}, {"emailStatus": "is_opened"}, {"last_sent_time_gt": "2026-11-01"}],
)
def test_smartlead_leads_list_refuses_a_filter_it_cannot_answer_rather_than_ignore_it(params):
    with SmartleadStandin({7: LEADS_CSV}, limit=1000) as s:
        r = call(s, "GET", "/api/v1/campaigns/7/leads", params=params)
    assert r.status_code == 400 and r.json()["message"]


# ---- Smartlead: Get Campaign By Id (an acceptance audit: the path was a 404) --------------------------------


def test_smartlead_serves_a_campaign_by_id_and_a_404_for_an_unknown_one():
    # GET https://server.smartlead.ai/api/v1/campaigns/{campaign_id}?api_key=… ("Get Campaign By Id")
    #   https://help.smartlead.ai/API-Documentation-a0d223bdd3154a77b3735497aad9419f ; source_schemas.md §1.2
    with SmartleadStandin({7: LEADS_CSV, 9181: LEADS_CSV}, limit=1000) as s:
        base = f"{s.url}/api/v1/campaigns"
        one = requests.get(f"{base}/9181", params={"api_key": s.api_key}, timeout=10)
        listed = requests.get(base, params={"api_key": s.api_key}, timeout=10).json()
        missing = requests.get(f"{base}/5", params={"api_key": s.api_key}, timeout=10)
        no_key = requests.get(f"{base}/9181", timeout=10)
    assert one.status_code == 200 and one.headers["Content-Type"].startswith("application/json")
    campaign = one.json()
    assert isinstance(campaign, dict) and campaign["id"] == 9181
    assert {"id", "user_id", "created_at", "updated_at", "status", "name", "client_id"} <= set(campaign)
    assert campaign["status"] in ("DRAFTED", "ACTIVE", "COMPLETED", "STOPPED", "PAUSED")
    assert campaign == next(c for c in listed if c["id"] == 9181)  # the same object as in the list
    assert missing.status_code == 404 and smartlead_error(missing)
    assert no_key.status_code == 401


# ---- Pardot: reusable page tokens, single reads (an acceptance audit) ---------------------------------------

PD_HEADERS = {"Authorization": f"Bearer {TOKEN}", "Pardot-Business-Unit-Id": "0UvDm000000GmkeKAC"}
PD_PROSPECTS = [{"id": n, "email": f"p{n}@x.io", "isDeleted": n == 4} for n in range(1, 6)]


def test_pardot_next_page_token_can_be_retried_and_expires_after_four_hours():
    # version5overview.html, "Pagination": follow nextPageUrl; tokens expire after 4 hours (source_schemas.md §2.1).
    # A client that lost an answer to a network error asks again with the same token and must get the same page.
    now = [1000.0]
    with PardotStandin(PD_PROSPECTS, token_ok=lambda t: t == TOKEN, clock=lambda: now[0]) as p:
        url = f"{p.url}/api/v5/objects/prospects"
        first = requests.get(
            url, params={"fields": "id,email", "limit": 2, "deleted": "all"}, headers=PD_HEADERS, timeout=10
        )
        assert first.status_code == 200, first.text
        token = first.json()["nextPageToken"]
        again = [requests.get(first.json()["nextPageUrl"], headers=PD_HEADERS, timeout=10) for _ in range(2)]
        assert [r.status_code for r in again] == [200, 200]
        assert again[0].json() == again[1].json()  # the same page, the same next token
        assert [v["id"] for v in again[0].json()["values"]] == [3, 4]
        last = requests.get(
            url, params={"nextPageToken": again[0].json()["nextPageToken"]}, headers=PD_HEADERS, timeout=10
        )
        assert [v["id"] for v in last.json()["values"]] == [5] and last.json()["nextPageToken"] is None
        now[0] += 4 * 3600 - 1
        assert requests.get(url, params={"nextPageToken": token}, headers=PD_HEADERS).status_code == 200
        now[0] += 1  # 4 hours after it was issued
        expired = requests.get(url, params={"nextPageToken": token}, headers=PD_HEADERS, timeout=10)
        assert expired.status_code == 400 and pardot_error(expired)


def test_pardot_reads_one_prospect_by_id_with_the_fields_asked_for():
    # "Read": GET /api/v5/objects/prospects/<id>?fields=… — prospect-v5.html; unknown id: "Invalid prospect ID"
    #   https://developer.salesforce.com/docs/marketing/pardot/guide/error-codes.html
    with PardotStandin(PD_PROSPECTS, token_ok=lambda t: t == TOKEN) as p:
        url = f"{p.url}/api/v5/objects/prospects"
        one = requests.get(f"{url}/2", params={"fields": "id,email,isDeleted"}, headers=PD_HEADERS, timeout=10)
        unknown = requests.get(f"{url}/999", params={"fields": "id"}, headers=PD_HEADERS, timeout=10)
        no_fields = requests.get(f"{url}/2", headers=PD_HEADERS, timeout=10)
        bad_field = requests.get(f"{url}/2", params={"fields": "nope"}, headers=PD_HEADERS, timeout=10)
        binned = requests.get(f"{url}/4", params={"fields": "id"}, headers=PD_HEADERS, timeout=10)
        no_auth = requests.get(f"{url}/2", params={"fields": "id"}, timeout=10)
    assert one.status_code == 200 and one.headers["Content-Type"].startswith("application/json")
    assert one.json() == {"id": 2, "email": "p2@x.io", "isDeleted": False}
    assert unknown.status_code == 404 and pardot_error(unknown) == 3
    assert unknown.json()["message"] == "Invalid prospect ID"
    assert no_fields.status_code == 400 and pardot_error(no_fields)
    assert bad_field.status_code == 400 and pardot_error(bad_field)
    assert binned.status_code == 200 and binned.headers["Pardot-Warning"].startswith("201")
    assert no_auth.status_code == 401 and pardot_error(no_auth)


# ---- SMTP: STARTTLS and AUTH, reconcile's default mail settings (an acceptance audit) -----------------------


def _tls_to(smtp: SmtpStandin) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", smtp.port, timeout=10)
    client.starttls(context=ssl.create_default_context(cafile=smtp.ca_path))
    return client


MAIL = "From: reconcile@example.com\r\nTo: dpo@example.com\r\nSubject: findings\r\n\r\nhello\r\n"


def test_smtp_standin_speaks_starttls_and_auth_as_a_submission_server():
    # RFC 3207 (STARTTLS) https://www.rfc-editor.org/rfc/rfc3207 ; RFC 4954 (AUTH) https://www.rfc-editor.org/rfc/rfc4954
    with SmtpStandin(user="reconcile", password="s3cret-pass") as smtp:
        plain = smtplib.SMTP("127.0.0.1", smtp.port, timeout=10)
        plain.ehlo()
        assert plain.has_extn("starttls") and not plain.has_extn("auth")  # no AUTH offered in clear text
        code, _ = plain.mail("reconcile@example.com")
        assert code == 530  # nothing is taken before TLS
        plain.quit()
        with pytest.raises(ssl.SSLCertVerificationError):  # a real certificate chain: untrusted CA refused
            smtplib.SMTP("127.0.0.1", smtp.port, timeout=10).starttls(context=ssl.create_default_context())
        for mechanism in ("PLAIN", "LOGIN"):
            client = _tls_to(smtp)
            client.ehlo()
            assert {"PLAIN", "LOGIN"} <= set(client.esmtp_features["auth"].upper().split())
            client.user, client.password = "reconcile", "wrong"
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"), initial_response_ok=False)
            assert refused.value.smtp_code == 535
            client.close()
        client = _tls_to(smtp)
        with pytest.raises(smtplib.SMTPSenderRefused) as no_auth:
            client.sendmail("reconcile@example.com", ["dpo@example.com"], MAIL)
        assert no_auth.value.smtp_code == 530
        client.login("reconcile", "s3cret-pass")
        assert client.sendmail("reconcile@example.com", ["dpo@example.com"], MAIL) == {}
        client.quit()
        assert [m["Subject"] for m in smtp.messages] == ["findings"]
        assert smtp.envelopes == [{"from": "reconcile@example.com", "to": ["dpo@example.com"]}]
        env = smtp.env()
    assert env["RECONCILE_SMTP_STARTTLS"] == "true" and env["RECONCILE_SMTP_CA_BUNDLE"] == smtp.ca_path
    assert (env["RECONCILE_SMTP_USER"], env["RECONCILE_SMTP_PASSWORD"]) == ("reconcile", "s3cret-pass")


def test_smtp_standin_keeps_its_plain_mode():
    with SmtpStandin(starttls=False, user=None) as smtp:
        client = smtplib.SMTP("127.0.0.1", smtp.port, timeout=10)
        client.ehlo()
        assert not client.has_extn("starttls")
        assert client.sendmail("reconcile@example.com", ["dpo@example.com"], MAIL) == {}
        client.quit()
        assert len(smtp.messages) == 1
        env = smtp.env()
    assert env["RECONCILE_SMTP_STARTTLS"] == "false"
    assert not {"RECONCILE_SMTP_CA_BUNDLE", "RECONCILE_SMTP_USER", "RECONCILE_SMTP_PASSWORD"} & set(env)


def test_standins_serve_prints_the_smtp_variables_of_the_mode_it_runs(tmp_path):
    # `reconcile standins serve` prints export lines; a plain smtplib client configured from them alone delivers
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconcile", "standins", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    watchdog = threading.Timer(60, proc.kill)  # a serve that never prints its lines fails the test, never hangs it
    watchdog.start()
    try:
        env, name = {}, ""
        for line in proc.stdout:
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                env[name] = shlex.split(value)[0]
            if name.startswith("RECONCILE_WEBHOOK_"):  # printed after the Jira and SMTP lines
                break
        assert env.get("RECONCILE_SMTP_STARTTLS") == "true", env
        client = smtplib.SMTP(env["RECONCILE_SMTP_HOST"], int(env["RECONCILE_SMTP_PORT"]), timeout=10)
        client.starttls(context=ssl.create_default_context(cafile=env["RECONCILE_SMTP_CA_BUNDLE"]))
        client.login(env["RECONCILE_SMTP_USER"], env["RECONCILE_SMTP_PASSWORD"])
        assert client.sendmail(env["RECONCILE_SMTP_FROM"], ["dpo@example.com"], MAIL) == {}
        client.quit()
    finally:
        watchdog.cancel()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)


# ---- Jira: search, transitions, projects, fields, anonymous serverInfo (an acceptance audit) -----------------


def jira_with_tickets(flavor: str) -> JiraStandin:
    j = JiraStandin(flavor=flavor, issues=["KLN-1"])
    j.add_issue("KLN-2", "Bounce hop lost", labels=["reconcile", "connector"], status="In Progress")
    j.add_issue("OPS-1", "Rotate the SMTP password", labels=["infra"])
    j.add_issue("KLN-3", "Weekly findings", labels=["reconcile"], status="Done")
    return j


def jira_auth(j: JiraStandin) -> dict:
    if j.flavor == "cloud":
        return {"auth": (j.email, j.token)}
    return {"headers": {"Authorization": f"Bearer {j.token}"}}


def test_jira_server_info_is_served_anonymously_and_other_resources_are_not():
    # "This operation can be accessed anonymously."
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-server-info/#api-rest-api-3-serverinfo-get
    for flavor, versions in (("cloud", "23"), ("datacenter", "2")):
        with JiraStandin(flavor=flavor) as j:
            for v in versions:
                info = requests.get(f"{j.url}/rest/api/{v}/serverInfo", timeout=10)
                assert info.status_code == 200 and info.json()["baseUrl"] == j.url
            assert requests.get(f"{j.url}/rest/api/2/myself", timeout=10).status_code == 401
            wrong = requests.get(f"{j.url}/rest/api/2/serverInfo", auth=("x@example.com", "nope"), timeout=10)
            assert wrong.status_code == 401 and jira_error(wrong)


@pytest.mark.parametrize("flavor, version", [("cloud", "3"), ("cloud", "2"), ("datacenter", "2")])
def test_jira_issue_has_the_standard_fields_and_honours_fields(flavor, version):
    # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-get
    with jira_with_tickets(flavor) as j:
        base = f"{j.url}/rest/api/{version}/issue/KLN-2"
        full = requests.get(base, timeout=10, **jira_auth(j)).json()
        some = requests.get(base, params={"fields": "summary,status"}, timeout=10, **jira_auth(j)).json()
        less = requests.get(base, params={"fields": "*all,-comment"}, timeout=10, **jira_auth(j)).json()
    f = full["fields"]
    standard = {"summary", "status", "issuetype", "project", "created", "updated", "labels", "description", "comment"}
    assert standard <= set(f)
    assert f["status"]["name"] == "In Progress"
    assert {"id", "key", "name"} <= set(f["status"]["statusCategory"])
    assert f["status"]["statusCategory"]["key"] == "indeterminate"
    assert f["issuetype"]["name"] == "Task" and f["project"]["key"] == "KLN" and f["project"]["id"]
    assert f["labels"] == ["reconcile", "connector"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}", f["created"])
    assert (some["key"], set(some["fields"])) == ("KLN-2", {"summary", "status"})
    assert "comment" not in less["fields"] and "summary" in less["fields"]


@pytest.mark.parametrize("flavor, version", [("cloud", "3"), ("datacenter", "2")])
def test_jira_transitions_move_an_issue_through_its_workflow(flavor, version):
    # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-transitions-get
    # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-transitions-post
    with jira_with_tickets(flavor) as j:
        api = f"{j.url}/rest/api/{version}"
        listed = requests.get(f"{api}/issue/KLN-1/transitions", timeout=10, **jira_auth(j)).json()
        names = {t["name"]: t for t in listed["transitions"]}
        assert set(names) == {"In Progress", "Done"}  # To Do is where it is
        assert all({"id", "name", "to"} <= set(t) for t in listed["transitions"])
        done = names["Done"]
        moved = requests.post(
            f"{api}/issue/KLN-1/transitions", json={"transition": {"id": done["id"]}}, timeout=10, **jira_auth(j)
        )
        assert (moved.status_code, moved.content) == (204, b"")
        status = requests.get(f"{api}/issue/KLN-1", params={"fields": "status"}, timeout=10, **jira_auth(j))
        assert status.json()["fields"]["status"]["name"] == "Done"
        assert status.json()["fields"]["status"]["statusCategory"]["key"] == "done"
        bad = requests.post(
            f"{api}/issue/KLN-1/transitions", json={"transition": {"id": "999"}}, timeout=10, **jira_auth(j)
        )
        assert bad.status_code == 400 and jira_error(bad)
        gone = requests.get(f"{api}/issue/KLN-99/transitions", timeout=10, **jira_auth(j))
        assert gone.status_code == 404 and jira_error(gone)


@pytest.mark.parametrize("flavor, version", [("cloud", "3"), ("cloud", "2"), ("datacenter", "2")])
def test_jira_serves_a_project_by_key_or_id(flavor, version):
    # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-projects/#api-rest-api-3-project-projectidorkey-get
    with jira_with_tickets(flavor) as j:
        api = f"{j.url}/rest/api/{version}"
        by_key = requests.get(f"{api}/project/KLN", timeout=10, **jira_auth(j))
        assert by_key.status_code == 200
        p = by_key.json()
        assert p["key"] == "KLN" and {"id", "name", "self", "projectTypeKey", "issueTypes", "lead"} <= set(p)
        assert requests.get(f"{api}/project/{p['id']}", timeout=10, **jira_auth(j)).json()["key"] == "KLN"
        missing = requests.get(f"{api}/project/NOPE", timeout=10, **jira_auth(j))
        assert missing.status_code == 404 and jira_error(missing)


SEARCHES = [
    ("project = KLN", ["KLN-1", "KLN-2", "KLN-3"]),
    ("project = KLN ORDER BY created DESC", ["KLN-3", "KLN-2", "KLN-1"]),
    ("project = KLN ORDER BY created ASC", ["KLN-1", "KLN-2", "KLN-3"]),
    ("key = KLN-2", ["KLN-2"]),
    ("key in (KLN-1, OPS-1) ORDER BY created DESC", ["OPS-1", "KLN-1"]),
    ('status = "In Progress"', ["KLN-2"]),
    ("labels = reconcile AND project = KLN ORDER BY created ASC", ["KLN-2", "KLN-3"]),
    ('project = KLN AND status = "Done" AND labels = reconcile', ["KLN-3"]),
    ("labels = infra OR key = KLN-1 ORDER BY created ASC", ["KLN-1", "OPS-1"]),
]
BAD_JQL = ["project = ", "project KLN", "project = KLN ORDER created", "nosuchfield = 1", "project = NOPE"]


@pytest.mark.parametrize("jql, keys", SEARCHES)
def test_jira_data_center_search_answers_jql_get_and_post(jql, keys):
    # GET|POST /rest/api/2/search — https://developer.atlassian.com/server/jira/platform/rest/v10000/api-group-search/
    with jira_with_tickets("datacenter") as j:
        url = f"{j.url}/rest/api/2/search"
        got = requests.get(url, params={"jql": jql, "fields": "summary,status"}, timeout=10, **jira_auth(j))
        posted = requests.post(url, json={"jql": jql, "fields": ["summary", "status"]}, timeout=10, **jira_auth(j))
    for r in (got, posted):
        assert r.status_code == 200, r.text
        body = r.json()
        assert {"startAt", "maxResults", "total", "issues"} <= set(body)
        assert [i["key"] for i in body["issues"]] == keys and body["total"] == len(keys)
        assert all(set(i["fields"]) == {"summary", "status"} for i in body["issues"])


def test_jira_data_center_search_pages_by_start_at_and_refuses_bad_jql():
    with jira_with_tickets("datacenter") as j:
        url = f"{j.url}/rest/api/2/search"
        seen, start = [], 0
        while True:
            page = requests.post(
                url,
                json={"jql": "project = KLN ORDER BY created ASC", "startAt": start, "maxResults": 2},
                timeout=10,
                **jira_auth(j),
            ).json()
            assert (page["startAt"], page["maxResults"], page["total"]) == (start, 2, 3)
            seen += [i["key"] for i in page["issues"]]
            start += len(page["issues"])
            if start >= page["total"]:
                break
        assert seen == ["KLN-1", "KLN-2", "KLN-3"]
        default = requests.get(url, params={"jql": "key = KLN-1"}, timeout=10, **jira_auth(j)).json()
        assert {"summary", "status", "labels"} <= set(default["issues"][0]["fields"])  # *navigable
        for bad in BAD_JQL:
            r = requests.get(url, params={"jql": bad}, timeout=10, **jira_auth(j))
            assert r.status_code == 400, bad
            assert jira_error(r) and r.json()["errors"] == {}
        assert requests.get(url, params={"jql": "project = KLN"}, timeout=10).status_code == 401
        assert requests.get(f"{j.url}/rest/api/2/search/jql", timeout=10, **jira_auth(j)).status_code == 404


@pytest.mark.parametrize("jql, keys", SEARCHES)
@pytest.mark.parametrize("version", ["3", "2"])
def test_jira_cloud_enhanced_search_answers_jql_get_and_post(version, jql, keys):
    # GET|POST /rest/api/3/search/jql (enhanced search)
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/#api-rest-api-3-search-jql-get
    with jira_with_tickets("cloud") as j:
        url = f"{j.url}/rest/api/{version}/search/jql"
        got = requests.get(url, params={"jql": jql, "fields": "summary"}, timeout=10, **jira_auth(j))
        posted = requests.post(url, json={"jql": jql, "fields": ["summary"]}, timeout=10, **jira_auth(j))
        ids = requests.get(url, params={"jql": jql}, timeout=10, **jira_auth(j))
    for r in (got, posted):
        assert r.status_code == 200, r.text
        assert [i["key"] for i in r.json()["issues"]] == keys and r.json()["isLast"] is True
        assert all(set(i["fields"]) == {"summary"} for i in r.json()["issues"])
    assert all(set(i) == {"id"} for i in ids.json()["issues"]) and len(ids.json()["issues"]) == len(keys)


def test_jira_cloud_enhanced_search_pages_by_next_page_token_and_refuses_bad_jql():
    with jira_with_tickets("cloud") as j:
        url = f"{j.url}/rest/api/3/search/jql"
        body = {"jql": "project = KLN ORDER BY created ASC", "maxResults": 2, "fields": ["summary"]}
        first = requests.post(url, json=body, timeout=10, **jira_auth(j)).json()
        assert first["isLast"] is False and first["nextPageToken"]
        params = {"jql": body["jql"], "maxResults": 2, "fields": "summary", "nextPageToken": first["nextPageToken"]}
        second = requests.get(url, params=params, timeout=10, **jira_auth(j)).json()
        assert second["isLast"] is True and "nextPageToken" not in second
        assert [i["key"] for i in first["issues"] + second["issues"]] == ["KLN-1", "KLN-2", "KLN-3"]
        for bad in [*BAD_JQL, "", "ORDER BY created DESC"]:  # the last two: no search restriction
            r = requests.post(url, json={"jql": bad}, timeout=10, **jira_auth(j))
            assert r.status_code == 400, bad
            assert jira_error(r) and r.json()["errors"] == {}
        # Cloud removed /search (CHANGE-2046): 410 with the error collection
        gone = requests.get(f"{j.url}/rest/api/3/search", params={"jql": "project = KLN"}, timeout=10, **jira_auth(j))
        assert gone.status_code == 410 and "search/jql" in jira_error(gone)[0]
