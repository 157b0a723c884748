"""`reconcile smartlead-webhook serve`: a real uvicorn process; durability under concurrency and kill -9."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone
from pathlib import Path

import duckdb
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.build import build_plan
from reconcile.demo_data import generate_snapshot
from reconcile.sources.smartlead import SourcePull
from reconcile.sources.webhook import Spool, copy_events

SECRET = "webhook-secret-" + "x" * 16
RECONCILE = str(Path(sys.executable).with_name("reconcile"))


class Server:
    def __init__(self, spool: Path, secret: str = SECRET):
        env = {**os.environ, "RECONCILE_SMARTLEAD_WEBHOOK_SECRET": secret}
        self.proc = subprocess.Popen(
            [RECONCILE, "smartlead-webhook", "serve", "--spool", str(spool), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read()
        self.info = json.loads(line)
        self.url = self.info["url"].replace("<secret>", secret)

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        self.proc.wait(10)


def event(n: int, kind: str = "EMAIL_REPLY") -> dict:
    return {
        "event_type": kind,
        "event_timestamp": "2026-11-27T01:00:00.000Z",
        "sl_lead_email": f"lead{n}@x.io",
        "to_email": f"lead{n}@x.io",
        "campaign_id": 9181,
        "stats_id": f"s-{n}",
        "reply_message": {"text": "y" * 300},
    }


def spooled(spool: Path) -> list[dict]:
    return [json.loads(line) for p in sorted(spool.glob("events-*.jsonl")) for line in p.read_text().splitlines()]


@pytest.fixture()
def server(tmp_path):
    s = Server(tmp_path / "spool")
    yield s
    if s.proc.poll() is None:
        s.stop()


def test_100_concurrent_posts_are_each_spooled_once_and_whole(server, tmp_path):
    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(lambda n: requests.post(server.url, json=event(n)).status_code, range(100)))
    assert codes == [200] * 100
    got = spooled(tmp_path / "spool")
    assert sorted(e["stats_id"] for e in got) == sorted(f"s-{n}" for n in range(100))


def test_kill_9_mid_burst_loses_no_acknowledged_event_and_leaves_no_torn_line(tmp_path):
    spool = tmp_path / "spool"
    server = Server(spool)
    acked, stop = set(), threading.Event()

    def post(worker: int):
        n = worker * 100_000
        while not stop.is_set():
            n += 1
            try:
                if requests.post(server.url, json=event(n), timeout=5).status_code == 200:
                    acked.add(f"s-{n}")
            except requests.RequestException:
                return

    threads = [threading.Thread(target=post, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    server.stop(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 20
    raw = b"".join(p.read_bytes() for p in sorted(spool.glob("events-*.jsonl")))
    complete = raw[: raw.rfind(b"\n") + 1]
    ids = [json.loads(line)["stats_id"] for line in complete.splitlines()]
    assert acked <= set(ids) and len(ids) == len(set(ids))
    out = SourcePull("smartlead")
    copy_events(spool, tmp_path / "snap", out)  # the reader takes complete lines only
    lines = (tmp_path / "snap" / "smartlead" / "events.jsonl").read_text().splitlines()
    assert {json.loads(line)["stats_id"] for line in lines} == set(ids)
    again = Server(spool)  # a restart repairs any torn tail, so later appends stay whole
    try:
        assert requests.post(again.url, json=event(7)).status_code == 200
    finally:
        again.stop()
    assert all(p.read_bytes().endswith(b"\n") for p in spool.glob("events-*.jsonl"))
    assert "s-7" in {e["stats_id"] for e in spooled(spool)}


def test_a_torn_last_line_is_skipped_by_the_reader_and_moved_to_rejected_at_start(tmp_path):
    spool = tmp_path / "spool"
    Spool(spool).accept(event(1))
    day = next(spool.glob("events-*.jsonl"))
    with day.open("ab") as fh:
        fh.write(b'{"event_type":"EMAIL_REPLY","sl_lead_em')  # what a crash between write and fsync can leave
    out = SourcePull("smartlead")
    copy_events(spool, tmp_path / "snap", out)
    assert len((tmp_path / "snap" / "smartlead" / "events.jsonl").read_text().splitlines()) == 1
    assert "1 unacknowledged partial line(s) skipped" in out.notes[0]
    server = Server(spool)
    try:
        assert server.info["repaired"] == [f"{day.name}: torn last line of 39 bytes moved to rejected/"]
    finally:
        server.stop()
    rejected = [json.loads(x) for x in next((spool / "rejected").glob("*.jsonl")).read_text().splitlines()]
    assert rejected[0]["reason"].startswith("torn write in") and rejected[0]["body"].endswith("sl_lead_em")
    assert day.read_bytes().endswith(b"\n") and len(spooled(spool)) == 1


@pytest.mark.parametrize(
    "body, reason",
    [
        ("not json", "body is not JSON"),
        ("[1, 2]", "payload is not a JSON object"),
        ('{"event_type": "EMAIL_TELEPORTED"}', "event_type 'EMAIL_TELEPORTED' is not a Smartlead event type"),
        ('{"event_type": "EMAIL_BOUNCE", "event_timestamp": "2026-11-27T01:00:00Z"}', "no lead email"),
        ('{"event_type": "EMAIL_REPLY", "to_email": "a@x.io"}', "no event time"),
        # a time the plan cannot read would stop every daily run that pulls the spool: refused here instead
        ('{"event_type": "EMAIL_REPLY", "to_email": "a@x.io", "event_timestamp": "yesterday"}', "event_timestamp"),
        ('{"event_type": "EMAIL_REPLY", "to_email": "a@x.io", "time_replied": "2026-02-30T01:00:00Z"}', "time_replied"),
        ('{"event_type": "EMAIL_BOUNCE", "to_email": "a@x.io", "event_timestamp": 1764205200}', "event_timestamp"),
        ('{"sl_lead_email": "a@x.io", "event_timestamp": "2026-11-27T01:00:00Z"}', "no event_type"),
        ('{"event_type": "", "to_email": "a@x.io", "event_timestamp": "2026-11-27T01:00:00Z"}', "no event_type"),
        ('{"event_type": ["EMAIL_REPLY"], "to_email": "a@x.io"}', "event_type is not a string"),
        ('{"event_type": {"name": "EMAIL_REPLY"}, "to_email": "a@x.io"}', "event_type is not a string"),
    ],
)
def test_bad_payload_gets_400_and_is_kept_with_the_reason(server, tmp_path, body, reason):
    r = requests.post(server.url, data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"].startswith(reason)
    kept = [json.loads(x) for x in next((tmp_path / "spool" / "rejected").glob("*.jsonl")).read_text().splitlines()]
    assert kept[-1]["reason"].startswith(reason) and kept[-1]["body"] == body
    assert spooled(tmp_path / "spool") == []


def test_a_spool_folder_removed_while_running_is_made_again_not_a_500(server, tmp_path):
    """An operator clears rejected/ (or the whole spool) while the receiver runs: the next bad payload still gets
    400 and is kept with its reason, the next good one 200 and is spooled."""
    import shutil

    shutil.rmtree(tmp_path / "spool")
    bad = requests.post(server.url, data='{"to_email": "a@x.io"}', headers={"Content-Type": "application/json"})
    assert bad.status_code == 400
    assert next((tmp_path / "spool" / "rejected").glob("*.jsonl")).read_text().count("\n") == 1
    assert requests.post(server.url, json=event(1)).status_code == 200 and len(spooled(tmp_path / "spool")) == 1


@pytest.mark.parametrize(
    "content_type, status, reason",
    [
        ("text/plain", 415, "Content-Type 'text/plain' is not application/json"),
        ("application/x-www-form-urlencoded", 415, "Content-Type 'application/x-www-form-urlencoded' is not"),
        ("multipart/form-data; boundary=x", 415, "Content-Type 'multipart/form-data' is not"),
    ],
)
def test_a_body_declared_as_something_else_than_json_is_refused_with_415_and_not_spooled(
    server, tmp_path, content_type, status, reason
):
    """Smartlead posts its events as application/json (source_schemas §1.8); a body declared otherwise is not a
    Smartlead event (a form post, a misconfigured proxy) and is kept in rejected/ with the reason."""
    r = requests.post(server.url, data=json.dumps(event(1)), headers={"Content-Type": content_type})
    assert (r.status_code, r.headers["Content-Type"]) == (status, "application/json")
    assert r.json()["error"].startswith(reason)
    assert spooled(tmp_path / "spool") == []
    ok = requests.post(
        server.url, data=json.dumps(event(2)), headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert ok.status_code == 200 and [e["stats_id"] for e in spooled(tmp_path / "spool")] == ["s-2"]


def test_an_oversized_body_gets_413_and_other_methods_405_and_nothing_is_spooled(server, tmp_path):
    from reconcile.sources.webhook import MAX_BODY

    big = {**event(1), "reply_message": {"text": "y" * MAX_BODY}}
    r = requests.post(server.url, json=big)
    assert (r.status_code, r.headers["Content-Type"]) == (413, "application/json") and "8 MiB" in r.json()["error"]
    for method in ("GET", "PUT", "DELETE"):
        r = requests.request(method, server.url)
        assert (r.status_code, r.headers.get("Allow"), r.headers["Content-Type"]) == (405, "POST", "application/json")
        assert (
            r.json()["error"]
            == f"HTTP method {method} is not allowed: Smartlead posts its events (POST /smartlead/<secret>)"
        )
    assert requests.post(server.url.replace("/smartlead/", "/smartlad/"), json=event(2)).status_code == 404
    assert spooled(tmp_path / "spool") == []


def test_secret_in_path_or_header_and_old_and_new_names(server, tmp_path):
    base = server.url.rsplit("/", 1)[0]
    assert (
        requests.post(base, json=event(1, "EMAIL_BOUNCED"), headers={"X-Reconcile-Webhook-Secret": SECRET}).status_code
        == 200
    )
    assert requests.post(base, json=event(2)).status_code == 403
    assert requests.post(base + "/wrong-secret-value", json=event(3)).status_code == 403
    category = {
        "event_type": "LEAD_CATEGORY_UPDATED",
        "lead_category": {"new_name": "Interested"},
        "lead_data": {"email": "c@x.io"},
        "event_timestamp": "2026-11-27T02:00:00Z",
    }
    assert requests.post(server.url, json=category).status_code == 200
    assert (
        requests.post(
            server.url,
            json={"event": "EMAIL_REPLIED", "timestamp": "2026-11-27T03:00:00Z", "lead": {"email": "d@x.io"}},
        ).status_code
        == 200
    )
    assert len(spooled(tmp_path / "spool")) == 3
    assert len(next((tmp_path / "spool" / "rejected").glob("*.jsonl")).read_text().splitlines()) == 2


def test_missing_secret_is_one_error_line(tmp_path):
    env = {**os.environ, "RECONCILE_SMARTLEAD_WEBHOOK_SECRET": ""}
    r = subprocess.run(
        [RECONCILE, "smartlead-webhook", "serve", "--spool", str(tmp_path), "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 1
    assert r.stderr.startswith("Error: RECONCILE_SMARTLEAD_WEBHOOK_SECRET is not set:") and r.stderr.count("\n") == 1


def test_a_busy_port_is_one_error_line_naming_it_and_exit_1_not_3(tmp_path):
    with socket.socket() as busy:  # another process's listener, as far as the server can tell
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = subprocess.run(
            [RECONCILE, "smartlead-webhook", "serve", "--spool", str(tmp_path), "--port", str(port)],
            capture_output=True,
            text=True,
            env={**os.environ, "RECONCILE_SMARTLEAD_WEBHOOK_SECRET": SECRET},
            timeout=60,
        )
    assert r.returncode == 1  # 3 would say "stopped cleanly, rerun to resume"
    assert "Traceback" not in r.stdout + r.stderr and r.stdout == ""
    assert r.stderr == (
        f"Error: Port {port} on 127.0.0.1 is already in use (stop the process listening there, or pass another "
        "--port; 0 = a free one).\n"
    )


def test_spooled_events_pulled_into_a_snapshot_plan_like_the_original_file(server, tmp_path):
    snap = tmp_path / "orig"
    generate_snapshot(snap, leads=60, seed=11, taken_at="2026-11-27T06:00:00Z")
    for line in (snap / "smartlead" / "events.jsonl").read_text().splitlines():
        assert requests.post(server.url, data=line.encode()).status_code == 200
    pulled = tmp_path / "pulled"
    shutil.copytree(snap, pulled)
    (pulled / "smartlead" / "events.jsonl").unlink()
    copy_events(tmp_path / "spool", pulled, SourcePull("smartlead"))
    a = build_plan(snap, out=tmp_path / "a" / "plan.json", exports=False).plan
    b = build_plan(pulled, out=tmp_path / "b" / "plan.json", exports=False).plan
    assert [e for e in a["changes"] if any(x["file"].endswith("events.jsonl") for x in e["evidence"])]
    assert (a["changes"], a["findings"]) == (b["changes"], b["findings"])


def test_pull_copies_only_the_days_since_the_last_pull(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    for day, n in (("2026-11-25", 1), ("2026-11-26", 2), ("2026-11-27", 3)):
        (spool / f"events-{day}.jsonl").write_text(json.dumps(event(n)) + "\n")
    copy_events(spool, tmp_path / "s1", SourcePull("smartlead"))
    assert len((tmp_path / "s1" / "smartlead" / "events.jsonl").read_text().splitlines()) == 3
    (spool / "events-2026-11-28.jsonl").write_text(json.dumps(event(4)) + "\n")
    copy_events(spool, tmp_path / "s2", SourcePull("smartlead"))
    got = [json.loads(x)["stats_id"] for x in (tmp_path / "s2" / "smartlead" / "events.jsonl").read_text().splitlines()]
    assert got == ["s-3", "s-4"]  # the last pull's day again (it may have grown), then the new day


def test_smartleads_own_secret_key_in_the_payload_is_the_shared_secret_and_is_not_kept(server, tmp_path):
    """Smartlead signs each payload with the webhook's `secret_key` (reference/source_schemas.md §1.8,
    help.smartlead.ai Webhook Guide): POST /smartlead with it verifies; the secret is never written to the spool."""
    base = server.url.rsplit("/", 1)[0]
    assert requests.post(base, json={**event(1, "EMAIL_BOUNCE"), "secret_key": SECRET}).status_code == 200
    assert requests.post(base, json={**event(2), "secret_key": "f" * 36}).status_code == 403
    assert requests.post(server.url, json={**event(3), "secret_key": SECRET}).status_code == 200
    bad = {"event_type": "EMAIL_REPLY", "to_email": "a@x.io", "secret_key": SECRET}  # no time: 400, kept
    assert requests.post(base, json=bad).status_code == 400
    # another webhook's secret_key, refused for the secret (403), the Content-Type (415) or the shape (400): kept
    # in rejected/ without it
    other = "1111-another-webhooks-secret-2222"
    assert requests.post(base, json={**event(4), "secret_key": other}).status_code == 403
    text = json.dumps({**event(5), "secret_key": other})
    assert requests.post(server.url, data=text, headers={"Content-Type": "text/plain"}).status_code == 415
    assert requests.post(server.url, json=[{"secret_key": other}]).status_code == 400
    assert [e["stats_id"] for e in spooled(tmp_path / "spool")] == ["s-1", "s-3"]
    kept = "".join(p.read_text() for p in (tmp_path / "spool").rglob("*.jsonl"))
    assert SECRET not in kept and other not in kept, kept
    assert kept.count('\\"secret_key\\": \\"***\\"') >= 3  # the rejected bodies are kept, the value masked


# times written the ways people and tools write them: a real date and time, each part's spelling varied
TIME_TEXTS = st.builds(
    lambda d, sep, clock, frac, zone: d.isoformat() + sep + clock + frac + zone,
    st.dates(),
    st.sampled_from(["T", "t", " ", "_", ""]),
    st.sampled_from(["", "05:50", "05:50:00", "23:59:59", "24:00:00", "5:50:00", "05:61:00"]),
    st.sampled_from(["", ".1", ".618881", ".123456789", ","]),
    st.sampled_from(["", "Z", "z", "+02:00", "+0200", "+02", " Z", " +02:00", "-05:30", "+25:00", "UTC"]),
)


@settings(max_examples=400, deadline=None, database=None)
@given(
    st.one_of(
        st.datetimes(timezones=st.just(timezone.utc)).map(lambda d: d.isoformat()),
        TIME_TEXTS,
        TIME_TEXTS.map(lambda t: t.replace("-", "/")),
        st.text(max_size=30),
    )
)
def test_a_time_the_receiver_takes_is_one_the_plan_reads(value):
    """An event time the receiver accepts (200) is one stg_smartlead__events parses (sf_ts): else the plan would stop
    at it every day the spool is pulled. Checked against DuckDB's own cast."""
    from reconcile.sources.webhook import _is_timestamp

    if _is_timestamp(value):
        con = duckdb.connect()  # its own: DuckDB's module-wide connection is other tests' (and an analyst's)
        try:
            [(parsed,)] = con.execute(
                "select coalesce(try_cast(? as timestamptz), try_cast(trim(?) as timestamptz))", [value, value]
            ).fetchall()
        finally:
            con.close()
        assert parsed is not None, value


def test_a_redelivered_event_is_one_event_in_the_snapshot(server, tmp_path):
    """Smartlead may deliver an event again (a retry after a lost answer): the spool keeps every delivery, the
    snapshot's events.jsonl holds each event once (the same payload, or the same event_type, stats_id and time)."""
    retried = {**event(1, "EMAIL_BOUNCE"), "event_timestamp": "2026-11-27T01:00:00.000Z"}
    for doc in (retried, event(2), retried, {**retried, "event_timestamp": "2026-11-27T01:00:00Z"}, event(3)):
        assert requests.post(server.url, json=doc).status_code == 200
    assert len(spooled(tmp_path / "spool")) == 5
    out = SourcePull("smartlead")
    copy_events(tmp_path / "spool", tmp_path / "snap", out)
    lines = [json.loads(x) for x in (tmp_path / "snap" / "smartlead" / "events.jsonl").read_text().splitlines()]
    assert [e["stats_id"] for e in lines] == ["s-1", "s-2", "s-3"]
    assert "2 repeated deliveries left out" in out.notes[0]
