"""`reconcile pull --sources …` against the Smartlead and Pardot stand-ins (real HTTP on loopback, no mocks).

What "the same plan" means for a round trip (snapshot files → stand-ins → pull → plan): the same changes (object,
record, field, before, after, rule, status, reasons) and the same findings (kind, object, record, route, detail,
time), with the same evidence — except that Pardot's evidence may name another file and row and spell a boolean
differently: the API re-serialises prospects (ordered by id, `true`/`false`, v5 names) where the export had its own
name, order and spellings. Smartlead's leads export is passed through byte for byte, so its evidence is identical.
"""

from __future__ import annotations

import csv
import http.server
import io
import json
import shutil
import socket
import threading
import time
import tomllib
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from reconcile.build import build_plan
from reconcile.cli import app
from reconcile.demo_data import generate_snapshot
from reconcile.errors import PullError
from reconcile.salesforce import connect
from reconcile.sandbox import start_sandbox
from reconcile.sources.http import RETRIES, ApiClient, RateLimiter
from reconcile.sources.pull_all import pull_sources
from reconcile.sources.smartlead import pull_smartlead
from reconcile.standins.pardot import PardotStandin, prospects_from_snapshot
from reconcile.standins.smartlead import SmartleadStandin, campaigns_from_snapshot

TAKEN = "2026-11-27T06:00:00Z"
BOOL = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False, None: False}


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    snap = tmp_path_factory.mktemp("orig") / "snapshot"
    generate_snapshot(snap, leads=60, seed=11, taken_at=TAKEN)
    return snap


@pytest.fixture(scope="module")
def org():
    with start_sandbox() as h:
        yield h


@pytest.fixture()
def smartlead(snapshot):
    with SmartleadStandin(campaigns_from_snapshot(snapshot)) as sl:
        yield sl


@pytest.fixture()
def pardot(snapshot, org):
    with PardotStandin(
        prospects_from_snapshot(snapshot), token_ok=lambda t: org.org.user_for_session(t) is not None, cap=9
    ) as pd:  # a small cap, so the 100,000-per-token restart is exercised
        yield pd


def _evidence(e: dict) -> tuple:
    if e["source"] == "pardot":
        value = BOOL.get(str(e["value"]).lower(), e["value"]) if e["column"] == "isEmailHardBounced" else e["value"]
        return ("pardot", e["column"], value, e["at"])
    return tuple(sorted(e.items()))


def comparable(plan: dict) -> tuple[list, list]:
    changes = sorted(
        repr(({k: v for k, v in c.items() if k != "evidence"}, sorted(map(repr, map(_evidence, c["evidence"])))))
        for c in plan["changes"]
    )
    findings = sorted(
        repr(({k: v for k, v in f.items() if k != "evidence"}, sorted(map(repr, map(_evidence, f["evidence"])))))
        for f in plan["findings"]
    )
    return changes, findings


def test_pulled_smartlead_and_pardot_files_plan_like_the_exports(snapshot, org, smartlead, pardot, tmp_path):
    original = build_plan(snapshot, out=tmp_path / "orig" / "plan.json", exports=False).plan
    pulled = tmp_path / "pulled"
    shutil.copytree(snapshot, pulled, ignore=shutil.ignore_patterns("campaign-*", "prospects*"))
    taken = tomllib.loads((snapshot / "manifest.toml").read_text())["taken_at"]
    env = {**smartlead.env(), **pardot.env()}
    for system in ("smartlead", "pardot"):  # each at its original taken_at: categories count at Smartlead's
        pull_sources(pulled, [system], connect_sf=lambda: connect(env=org.oauth_env()), env=env, taken_at=taken[system])
    assert sorted(p.name for p in (pulled / "smartlead").glob("campaign-*")) == sorted(
        p.name for p in (snapshot / "smartlead").glob("campaign-*")
    )
    again = build_plan(pulled, out=tmp_path / "again" / "plan.json", exports=False).plan
    assert original["changes"] and original["findings"]
    assert comparable(again) == comparable(original)
    assert again["summary"]["changes"] == original["summary"]["changes"]
    sources = again["summary"]["inputs"]["sources"]
    assert sources["smartlead"]["api_requests"] == 1 + len(campaigns_from_snapshot(snapshot))
    assert sources["pardot"]["api_requests"] > 1


def test_pardot_cap_restarts_by_id_without_loss_or_repeat(snapshot, org, pardot, tmp_path):
    r = pull_sources(tmp_path, ["pardot"], connect_sf=lambda: connect(env=org.oauth_env()), env=pardot.env())[0]
    ids = [line.split(",")[0] for line in (tmp_path / "pardot" / "prospects.csv").read_text().splitlines()[1:]]
    expected = sorted(int(p["id"]) for p in prospects_from_snapshot(snapshot))
    assert [int(i) for i in ids] == expected
    assert len(expected) > 9 and any("cap reached" in n for n in r.notes)
    manifest = tomllib.loads((tmp_path / "manifest.toml").read_text())
    assert manifest["pulled"]["pardot"]["records"] == len(expected) and "pardot" in manifest["taken_at"]


def test_smartlead_burst_gets_429_and_the_pull_never_exceeds_the_limit(snapshot, smartlead, tmp_path):
    answers = [
        requests.get(f"{smartlead.base_url}/campaigns", params={"api_key": smartlead.api_key}) for _ in range(14)
    ]
    burst = [r.status_code for r in answers]
    assert burst.count(429) >= 4 and burst[0] == 200
    refused = answers[burst.index(429)]  # https://api.smartlead.ai/guides/rate-limits
    assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert refused.json()["error"]["retry_after"] == int(refused.headers["Retry-After"]) >= 1
    assert answers[0].headers["X-RateLimit-Limit"] == "10" and answers[0].headers["X-RateLimit-Remaining"] == "9"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    time.sleep(2.1)
    start = len(smartlead.log)
    pull_smartlead(tmp_path, env=smartlead.env(), campaigns=list(campaigns_from_snapshot(snapshot)) * 2)
    log = smartlead.log[start:]
    assert len(log) > 10 and {s for _, _, s in log} == {200}
    times = [t for t, _, _ in log]
    assert all(times[i + 10] - times[i] >= 2.0 for i in range(len(times) - 10))


def test_smartlead_client_backs_off_on_429_and_completes(snapshot, tmp_path):
    ids = list(campaigns_from_snapshot(snapshot))
    with SmartleadStandin(campaigns_from_snapshot(snapshot), limit=3, window=1.0) as sl:  # stricter than documented
        r = pull_smartlead(tmp_path, env=sl.env(), campaigns=ids[:6])
        statuses = [s for _, _, s in sl.log]
    assert statuses.count(429) >= 1 and statuses.count(200) == 6
    assert len(r.files) == 6 and any("429" in n for n in r.notes)


def test_rate_limiter_holds_any_window_to_the_limit():
    clock = [0.0]
    limiter = RateLimiter(10, 2.0, clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    sent = []
    for _ in range(35):
        limiter.wait()
        sent.append(clock[0])
        clock[0] += 0.001  # the response arrives 1 ms later
        limiter.finished()
    assert all(sent[i + 10] - sent[i] >= 2.0 for i in range(len(sent) - 10))
    assert sent[-1] < 7.0  # and it does not wait much longer than it must


class _DropsFirst(http.server.BaseHTTPRequestHandler):
    """Closes the first `drops` connections without an answer (a reset mid-pull), then answers 200."""

    drops = 2
    seen = 0

    def do_GET(self):
        type(self).seen += 1
        if type(self).seen <= type(self).drops:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("drops, answered", [(2, True), (RETRIES, False)])
def test_a_dropped_connection_is_retried_like_a_server_error(drops, answered):
    """A GET is idempotent: a connection reset (or a timeout) mid-pull is retried with backoff, as a 5xx is, and only
    RETRIES failures in a row stop the pull, with one line naming the API."""
    handler = type("Handler", (_DropsFirst,), {"drops": drops, "seen": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    waits = []
    client = ApiClient("Smartlead", f"http://127.0.0.1:{server.server_port}", sleep=waits.append)
    try:
        if answered:
            assert client.get("/campaigns").json() == {"ok": True}
        else:
            with pytest.raises(
                PullError, match=rf"Cannot reach Smartlead at .* \(ConnectionError, {RETRIES} attempts\): "
            ):
                client.get("/campaigns")
    finally:
        server.shutdown()
        server.server_close()
    assert handler.seen == (drops + 1 if answered else RETRIES) == client.requests
    assert len(waits) == (drops if answered else RETRIES - 1) and waits == sorted(waits)


def cli(env: dict, *args):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def test_cli_pulls_all_sources_and_keeps_the_key_out_of_everything(snapshot, org, smartlead, pardot, tmp_path):
    env = {**org.oauth_env(), **smartlead.env(), **pardot.env()}
    r = cli(env, "pull", "--out", tmp_path / "snap", "--sources", "sfdc,smartlead,pardot")
    assert r.exit_code == 0, r.stderr
    assert "Pulled smartlead:" in r.stdout and "Pulled pardot:" in r.stdout and "API requests" in r.stdout
    taken = tomllib.loads((tmp_path / "snap" / "manifest.toml").read_text())["taken_at"]
    assert set(taken) == {"sfdc", "smartlead", "pardot"}
    pulled = tomllib.loads((tmp_path / "snap" / "manifest.toml").read_text())["pulled"]
    lines = [line for line in r.stdout.splitlines() if line.startswith("Pulled ")]
    assert len(lines) == 3  # README: one line per source with files, records, taken_at and API requests
    for line, source in zip(lines, ("sfdc", "smartlead", "pardot")):
        p = pulled[source]
        assert f"{p['files']} files, {p['records']} records, taken_at {taken[source]}" in line, line
        assert f"({p['api_requests']} API requests)" in line, line
    for path in (tmp_path / "snap").rglob("*"):
        if path.is_file():
            assert smartlead.api_key.encode() not in path.read_bytes(), path
    assert smartlead.api_key not in r.stdout + r.stderr
    assert build_plan(tmp_path / "snap", out=tmp_path / "plan.json", exports=False).plan["changes"] is not None


@pytest.mark.parametrize("stale", ["leads_2026-11-26.csv", "Lead.parquet"])
def test_pulling_salesforce_replaces_the_sfdc_folder(snapshot, org, tmp_path, stale):
    # README walk-through: `reconcile pull --out day/snapshot` replaces day/snapshot/sfdc; an export of another name
    # or format left beside the pulled files would be a second Lead file (an error) or an old describe
    target = tmp_path / "snap"
    shutil.copytree(snapshot, target)
    (target / "sfdc" / "Lead.csv").rename(target / "sfdc" / stale)
    r = cli(org.oauth_env(), "pull", "--out", target)
    assert r.exit_code == 0, r.stderr
    assert sorted(str(p.relative_to(target / "sfdc")) for p in (target / "sfdc").rglob("*.*")) == [
        "Campaign.csv",
        "CampaignMember.csv",
        "Contact.csv",
        "Lead.csv",
        *(f"describe/{o}.json" for o in ("Campaign", "CampaignMember", "Contact", "Lead")),
    ]
    assert sorted(p.name for p in (target / "clay").iterdir()) == sorted(p.name for p in (snapshot / "clay").iterdir())


def requests_seen(org, smartlead, pardot) -> tuple[int, int, int]:
    """How many requests the sandbox org, the Smartlead and the Pardot stand-ins have answered so far."""
    return len(org.org.request_log), len(smartlead.log), pardot.state.requests


def error_line(r) -> str:
    """The one `Error:` line of a failed command (stderr also carries the progress lines of a non-terminal)."""
    [line] = [x for x in r.stderr.splitlines() if "Error" in x]
    return line


def files_of(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"RECONCILE_CLAY_DIR": ""}, "Error: No Clay drop folder: give --clay-dir DIR or set RECONCILE_CLAY_DIR"),
        ({"RECONCILE_CLAY_DIR": "nowhere"}, "Error: Clay drop folder 'nowhere' does not exist"),
        ({"SMARTLEAD_API_KEY": ""}, "Error: SMARTLEAD_API_KEY is not set"),
        ({"PARDOT_BUSINESS_UNIT_ID": ""}, "Error: PARDOT_BUSINESS_UNIT_ID is not set"),
        ({"SF_CLIENT_SECRET": ""}, "Error: Incomplete Salesforce credentials"),
    ],
)
def test_all_sources_check_every_setting_before_any_request_and_write_nothing(
    snapshot, org, smartlead, pardot, tmp_path, change, expected
):
    (tmp_path / "clay-drop").mkdir()
    shutil.copyfile(snapshot / "clay" / "enrichment.csv", tmp_path / "clay-drop" / "enrichment 2099-01-01.csv")
    env = {**org.oauth_env(), **smartlead.env(), **pardot.env(), "RECONCILE_CLAY_DIR": str(tmp_path / "clay-drop")}
    before = requests_seen(org, smartlead, pardot)
    r = cli({**env, **change}, "pull", "--out", tmp_path / "out" / "snap", "--sources", "all")
    assert r.exit_code == 1 and error_line(r).startswith(expected), r.stderr
    assert requests_seen(org, smartlead, pardot) == before  # nothing was pulled
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clay-drop"]


@pytest.mark.parametrize("existing", [False, True], ids=["new target", "existing target"])
def test_a_source_failing_mid_pull_leaves_the_target_as_it_was(snapshot, org, smartlead, pardot, tmp_path, existing):
    target, spool = tmp_path / "snap", tmp_path / "spool"
    spool.mkdir()
    (spool / "events-2026-11-26.jsonl").write_text((snapshot / "smartlead" / "events.jsonl").read_text())
    if existing:
        shutil.copytree(snapshot, target)
    before = files_of(target) if existing else None
    wrong_unit = {"PARDOT_BUSINESS_UNIT_ID": "0UvDm000000OtherKAC"[:18]}  # well-formed; Pardot refuses it
    env = {**org.oauth_env(), **smartlead.env(), **pardot.env(), **wrong_unit}
    seen = requests_seen(org, smartlead, pardot)
    r = cli(env, "pull", "--out", target, "--sources", "sfdc,smartlead,pardot", "--spool", spool)
    assert r.exit_code == 1 and error_line(r).startswith(
        "Error: Account Engagement refused the request (HTTP 401, code 181"
    )
    after = requests_seen(org, smartlead, pardot)
    assert all(a > b for a, b in zip(after, seen))  # sfdc and smartlead were pulled, pardot was asked
    assert (files_of(target) if target.exists() else None) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["spool"] + ["snap"] * existing)  # no staging left
    assert sorted(p.name for p in spool.iterdir()) == ["events-2026-11-26.jsonl"]  # the spooled day is not marked


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"SMARTLEAD_API_KEY": ""}, "Error: SMARTLEAD_API_KEY is not set: export the key from Smartlead"),
        (
            {"SMARTLEAD_API_KEY": "wrong-key-123"},
            "Error: Smartlead refused SMARTLEAD_API_KEY (HTTP 401: Invalid API Key)",
        ),
    ],
)
def test_missing_or_invalid_smartlead_key_is_one_error_line(smartlead, tmp_path, change, expected):
    r = cli({**smartlead.env(), **change}, "pull", "--out", tmp_path, "--sources", "smartlead")
    assert r.exit_code == 1
    assert r.stderr.startswith(expected) and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "wrong-key-123" not in r.stderr


def test_smartlead_plan_without_api_is_a_403_error(snapshot, tmp_path):
    with SmartleadStandin(campaigns_from_snapshot(snapshot), api_plan=False) as sl:
        with pytest.raises(PullError, match=r"HTTP 403: API access is not available.*Basic plan"):
            pull_smartlead(tmp_path, env=sl.env())


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"PARDOT_BUSINESS_UNIT_ID": ""}, "Error: PARDOT_BUSINESS_UNIT_ID is not set"),
        ({"PARDOT_BUSINESS_UNIT_ID": "12345"}, "Error: PARDOT_BUSINESS_UNIT_ID '12345' is not a business unit id"),
        (
            {"PARDOT_BUSINESS_UNIT_ID": "0UvDm000000OtherKAC"[:18]},
            "Error: Account Engagement refused the request (HTTP 401, code 181: Invalid Business Unit ID",
        ),
    ],
)
def test_missing_or_wrong_pardot_settings_are_one_error_line(org, pardot, tmp_path, change, expected):
    r = cli({**org.oauth_env(), **pardot.env(), **change}, "pull", "--out", tmp_path, "--sources", "pardot")
    assert r.exit_code == 1
    assert r.stderr.startswith(expected) and r.stderr.count("\n") == 1, r.stderr


def test_pardot_refuses_a_token_that_is_not_a_live_salesforce_session(pardot, tmp_path):
    from reconcile.sources.pardot import pull_pardot

    with pytest.raises(PullError, match="HTTP 401, code 184: access_token is invalid"):
        pull_pardot(tmp_path, "00Dxx!not-a-session", env=pardot.env())


def test_pardot_pull_logs_in_again_when_the_token_expires_mid_pull(snapshot, org, pardot, tmp_path):
    """The token is revoked after the first page (as an expiry would end it): Account Engagement answers 401 code
    184, the pull logs in again with the client credentials and resumes the same page; nothing lost or repeated."""
    revoked = []

    def revoke_after_first_page(message):
        if not revoked and "prospects" in message:
            revoked.extend(t for t in list(org.org.tokens) if org.org.tokens[t]["user"] == "integration")
            for t in revoked:
                del org.org.tokens[t]

    r = pull_sources(
        tmp_path,
        ["pardot"],
        connect_sf=lambda: connect(env=org.oauth_env()),
        env=pardot.env(),
        progress=revoke_after_first_page,
    )[0]
    assert revoked
    ids = [int(line.split(",")[0]) for line in (tmp_path / "pardot" / "prospects.csv").read_text().splitlines()[1:]]
    assert ids == sorted(int(p["id"]) for p in prospects_from_snapshot(snapshot))
    assert any("logged in again 1×" in n for n in r.notes)


def test_a_pasted_session_that_expires_mid_pardot_pull_is_one_error(snapshot, org, pardot, tmp_path):
    sf = connect(
        env={"SF_INSTANCE_URL": org.instance_url, "SF_SESSION_ID": org.session_id, "SF_CA_BUNDLE": org.ca_bundle}
    )
    assert sf.renew_session() is None
    from reconcile.sources.pardot import pull_pardot

    with pytest.raises(PullError, match="HTTP 401, code 184: access_token is invalid"):
        pull_pardot(tmp_path, "00Dxx!expired", env=pardot.env(), renew=sf.renew_session)


def test_the_policy_names_the_smartlead_campaigns_and_the_clay_drop_folder(snapshot, smartlead, tmp_path):
    from conftest import policy_with

    ids = sorted(campaigns_from_snapshot(snapshot))
    (tmp_path / "clay-drop").mkdir()
    for f in (snapshot / "clay").iterdir():
        shutil.copyfile(f, tmp_path / "clay-drop" / f"{f.stem} 2026-11-27T05-00-00{f.suffix}")
    policy = policy_with(
        tmp_path,
        replace={  # drop_dir is relative to the policy file
            "[sources.smartlead]\n": f"[sources.smartlead]\ncampaigns = [{ids[0]}, {ids[1]}]\n",
            "[sources.clay]\n": '[sources.clay]\ndrop_dir = "clay-drop"\n',
        },
    )
    env = {**smartlead.env(), "RECONCILE_CLAY_DIR": ""}
    r = cli(env, "pull", "--out", tmp_path / "snap", "--sources", "smartlead,clay", "--policy", policy)
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "snap" / "smartlead").glob("campaign-*.csv")) == [
        f"campaign-{ids[0]}.csv",
        f"campaign-{ids[1]}.csv",
    ]
    assert not any(path.rstrip("/").endswith("/campaigns") for _, path, _ in smartlead.log)  # the policy named them
    assert sorted(p.name for p in (tmp_path / "snap" / "clay").iterdir()) == sorted(
        f.name for f in (snapshot / "clay").iterdir()
    )
    r = cli(
        env, "pull", "--out", tmp_path / "snap2", "--sources", "smartlead", "--policy", policy, "--campaign", ids[2]
    )  # the command line wins over the policy
    assert r.exit_code == 0, r.stderr
    assert [p.name for p in (tmp_path / "snap2" / "smartlead").glob("campaign-*.csv")] == [f"campaign-{ids[2]}.csv"]


@pytest.mark.parametrize(
    "entry, expected",
    [
        ("[sources.pardot]\ncampaigns = [1]\n", "'campaigns' belongs under [sources.smartlead]"),
        (
            '[sources.smartlead]\ncampaigns = ["9181"]\n',
            'campaigns = ["9181"]: expected a list of Smartlead campaign ids',
        ),
        ('[sources.smartlead]\ndrop_dir = "x"\n', "'drop_dir' belongs under [sources.clay]"),
    ],
)
def test_misplaced_or_mistyped_pull_settings_are_one_policy_error(tmp_path, entry, expected):
    from reconcile.errors import PolicyError
    from reconcile.policy import default_policy_path, load_policy

    text = default_policy_path().read_text("utf-8")
    section = entry.split("\n", 1)[0]
    policy = tmp_path / "policy.toml"
    policy.write_text(text.replace(section + "\n", entry, 1), "utf-8")
    with pytest.raises(PolicyError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        load_policy(policy)


# A plain `requests` client against the Pardot stand-in, as Account Engagement API v5 documents the prospect query
# (https://developer.salesforce.com/docs/marketing/pardot/guide/prospect-v5.html, …/version5overview.html).
PROSPECTS = [
    {"id": 3, "email": "c@x.io", "createdAt": "2026-01-03T00:00:00-05:00", "updatedAt": "2026-11-02T00:00:00+00:00"},
    {"id": 1, "email": "a@x.io", "createdAt": "2026-01-01T00:00:00-05:00", "updatedAt": "2026-11-03T00:00:00+00:00"},
    {"id": 2, "email": "b@x.io", "createdAt": "2026-01-02T00:00:00-05:00", "updatedAt": "2026-11-01T00:00:00+00:00"},
    {"id": 4, "email": "d@x.io", "createdAt": "2026-01-04T00:00:00-05:00", "updatedAt": ""},
]


@pytest.fixture()
def v5():
    with PardotStandin(PROSPECTS, token_ok=lambda t: t == "tok") as pd:
        headers = {"Authorization": "Bearer tok", "Pardot-Business-Unit-Id": pd.business_unit_id}
        yield lambda url=None, **params: requests.get(
            url or pd.url + "/api/v5/objects/prospects", params=params, headers=headers
        )


def test_pardot_nextpageurl_is_followed_as_given(v5):
    """nextPageUrl is the next page's URL: a client that requests it verbatim gets the next page, with the fields
    of the first request (the token carries the query)."""
    r, got = v5(fields="id,email", limit=1), []
    while True:
        assert r.status_code == 200, r.text
        got += r.json()["values"]
        if not r.json()["nextPageUrl"]:
            break
        r = v5(r.json()["nextPageUrl"])
    assert got == [{"id": i, "email": e} for i, e in ((1, "a@x.io"), (2, "b@x.io"), (3, "c@x.io"), (4, "d@x.io"))]


@pytest.mark.parametrize(
    "params, ids",
    [
        ({"orderBy": "updatedAt"}, [2, 3, 1, 4]),  # a prospect without the value comes last
        ({"orderBy": "updatedAt DESC"}, [1, 3, 2, 4]),
        ({"orderBy": "createdAt desc"}, [4, 3, 2, 1]),
        ({"orderBy": "id DESC"}, [4, 3, 2, 1]),
        ({"updatedAtAfter": "2026-11-01T00:00:00+00:00"}, [1, 3]),
        ({"updatedAtAfterOrEqualTo": "2026-11-01T00:00:00Z"}, [1, 2, 3]),
        ({"updatedAtBefore": "2026-11-02T00:00:00+00:00"}, [2]),
        ({"createdAtBeforeOrEqualTo": "2026-01-02T05:00:00+00:00"}, [1, 2]),
        ({"idGreaterThanOrEqualTo": 2, "idLessThan": 4}, [2, 3]),
        ({"deleted": "true"}, []),
        ({"deleted": "all"}, [1, 2, 3, 4]),
    ],
)
def test_pardot_query_orders_and_filters_as_v5_documents(v5, params, ids):
    r = v5(fields="id", **params)
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()["values"]] == ids


@pytest.mark.parametrize(
    "params, message",
    [
        ({"updatedAfter": "2026-11-01"}, "updatedAfter"),  # a v3/v4 name is not silently ignored
        ({"updatedAtAfter": "yesterday"}, "updatedAtAfter"),
        ({"orderBy": "email"}, "orderBy"),
        ({"deleted": "maybe"}, "deleted"),
    ],
)
def test_pardot_query_refuses_a_parameter_it_does_not_know_with_the_v5_error_shape(v5, params, message):
    r = v5(fields="id", **params)
    assert r.status_code == 400 and r.json()["code"] == 66 and message in r.json()["message"], r.text


def test_pardot_query_knows_the_documented_prospect_fields(v5):
    r = v5(fields="id,jobTitle,score,grade,salesforceAccountId,lastActivityAt,isDeleted")
    assert r.status_code == 200, r.text
    assert r.json()["values"][0] == {
        "id": 1,
        "jobTitle": None,
        "score": None,
        "grade": None,
        "salesforceAccountId": None,
        "lastActivityAt": None,
        "isDeleted": False,
    }


def test_smartlead_campaign_leads_page_by_offset_and_limit_as_documented(snapshot, smartlead):
    """GET /campaigns/{id}/leads (https://api.smartlead.ai/api-reference/campaigns/get-leads): the leads export's
    rows as JSON, {total_leads (a string), offset, limit, data: [{campaign_lead_map_id, status, lead: {…}}]}."""
    cid, body = max(campaigns_from_snapshot(snapshot).items(), key=lambda kv: kv[1].count(b"\n"))
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    url, got, offset = f"{smartlead.base_url}/campaigns/{cid}/leads", [], 0
    while True:
        r = requests.get(url, params={"api_key": smartlead.api_key, "offset": offset, "limit": 2})
        assert r.status_code == 200, r.text
        doc = r.json()
        assert (doc["total_leads"], doc["offset"], doc["limit"]) == (str(len(rows)), offset, 2)
        got += doc["data"]
        offset += 2
        if offset >= int(doc["total_leads"]):
            break
    assert len(rows) > 2 and len(got) == len(rows)
    for row, item in zip(rows, got):
        assert item["campaign_lead_map_id"] == int(row["campaign_lead_map_id"]) and item["status"] == row["status"]
        assert item["lead"]["id"] == int(row["id"]) and item["lead"]["email"] == row["email"]
        assert item["lead"]["custom_fields"] == json.loads(row["custom_fields"] or "{}")
        assert item["lead"]["is_unsubscribed"] is (row["is_unsubscribed"] == "true")
    assert requests.get(url, params={"api_key": smartlead.api_key, "limit": 101}).status_code == 400
    assert requests.get(url, params={"api_key": "wrong"}).status_code == 401
    assert requests.get(f"{smartlead.base_url}/campaigns/1/leads", params={"api_key": smartlead.api_key}).json() == {
        "message": "Campaign not found"
    }
