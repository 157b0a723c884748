"""Shared test helpers and fixtures. Keep each section small; add new sections below the existing ones.

The helpers are plain functions (importable as `from conftest import …`, which hypothesis tests need because
they cannot use function-scoped fixtures) with thin fixtures on top for ordinary tests.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from reconcile.ingest import contract
from reconcile.ids import id18

REPO = Path(__file__).resolve().parent.parent
HANDMADE = Path(__file__).resolve().parent / "fixtures" / "handmade"

# ------------------------------------------------------------------------------------------ options


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="Rewrite tests/golden/* from this run (then review the diff like code).",
    )


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


# ------------------------------------------------------------------------------------------ Salesforce ids

LEAD_PREFIX, MEMBER_PREFIX, CONTACT_PREFIX, CAMPAIGN_PREFIX = "00Q", "00v", "003", "701"


def sfid(prefix: str, n: int | str, length: int = 18) -> str:
    """A Salesforce id with a valid checksum: prefix + n zero-padded to 15 characters (+ 3 checksum chars).

    `n` may carry letters (`sfid("00Q", "AbC1")`) so the checksum is not the trivial 'AAA'.
    """
    body = f"{prefix}{str(n).rjust(15 - len(prefix), '0')}"
    assert len(body) == 15, body
    full = id18(body)
    return full if length == 18 else body


def lead_id(n, length: int = 18) -> str:
    return sfid(LEAD_PREFIX, n, length)


def member_id(n, length: int = 18) -> str:
    return sfid(MEMBER_PREFIX, n, length)


def contact_id(n, length: int = 18) -> str:
    return sfid(CONTACT_PREFIX, n, length)


def campaign_id(n, length: int = 18) -> str:
    return sfid(CAMPAIGN_PREFIX, n, length)


# ------------------------------------------------------------------------------------------ snapshot files

# The headers come from the snapshot contract (reconcile/ingest/contract.py), never retyped: a Lead file carries the required
# columns only (GBU__c is optional), Clay files the default policy's headers.
LEAD_HEADER = [c.header for c in contract.SFDC_LEAD.columns if c.required]
MEMBER_HEADER = [c.header for c in contract.SFDC_CAMPAIGN_MEMBER.columns]
CONTACT_HEADER = [c.header for c in contract.SFDC_CONTACT.columns]
CLAY_HEADER = [c.header for c in contract.CLAY_COLUMNS]
SMARTLEAD_HEADER = [c.header for c in contract.SMARTLEAD_LEADS.columns]
PARDOT_HEADER = [c.header for c in contract.PARDOT_PROSPECTS.columns]

DEFAULT_TAKEN_AT = {
    "sfdc": "2026-11-27T06:00:00Z",
    "clay": "2026-11-27T05:00:00Z",
    "smartlead": "2026-11-27T05:30:00Z",
    "pardot": "2026-11-27T05:45:00Z",
}


def csv_text(header: list[str], rows: list[dict] = (), delimiter: str = ",", quote_all: bool = False) -> str:
    """CSV text with `header`; each row dict names only the columns it sets (None and missing → empty).

    quote_all writes every cell quoted, so an empty value is `""` (an empty string, not a missing value).
    """
    unknown = {k for r in rows for k in r} - set(header)
    assert not unknown, f"columns not in header: {unknown}"
    buf = io.StringIO()
    w = csv.writer(
        buf, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    )
    w.writerow(header)
    for r in rows:
        w.writerow(["" if r.get(h) is None else _cell(r[h]) for h in header])
    return buf.getvalue()


def _cell(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return json.dumps(v)
    return str(v)


def lead(n, email: str | None = None, **fields) -> dict:
    """A consistent Lead row (not bounced, eligible, not converted); override any column by its header name."""
    row = {
        "Id": lead_id(n),
        "Email": email if email is not None else f"lead{n}@example.com",
        "Company": f"Co {n}",
        "external_hard_bounced__c": False,
        "overall_hard_bounced__c": False,
        "pi__pardot_hard_bounced__c": False,
        "Cold_Lead_Eligible__c": True,
        "HasOptedOutOfEmail": False,
        "IsConverted": False,
        "Status": "Open",
        "SystemModstamp": "2026-11-26T09:41:02Z",
    }
    row.update(fields)
    return row


def member(n, lead_n, campaign_n=1, **fields) -> dict:
    """A CampaignMember row of lead `lead_n` in campaign `campaign_n` (no reply yet)."""
    row = {
        "Id": member_id(n),
        "CampaignId": campaign_id(campaign_n),
        "LeadId": lead_id(lead_n),
        "Status": "Sent",
        "Has_Replied__c": False,
        "SystemModstamp": "2026-11-26T09:41:02Z",
    }
    row.update(fields)
    return row


def jsonl_text(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def manifest(taken_at: dict | None = None) -> str:
    lines = ["[taken_at]"] + [f'{k} = "{v}"' for k, v in sorted((taken_at or DEFAULT_TAKEN_AT).items())]
    return "\n".join(lines) + "\n"


def default_files() -> dict[str, str]:
    """The smallest valid snapshot: the three required Salesforce files, header only, and a manifest."""
    return {
        "sfdc/Lead.csv": csv_text(LEAD_HEADER),
        "sfdc/CampaignMember.csv": csv_text(MEMBER_HEADER),
        "sfdc/Contact.csv": csv_text(CONTACT_HEADER),
        "manifest.toml": manifest(),
    }


def write_snapshot(root: Path, files: dict[str, str | bytes | None], defaults: bool = True, name: str = "snap") -> Path:
    """Write the snapshot directory `root/name` (replaced if it exists) and return it.

    `files` maps a relative path to its content (str → UTF-8, bytes as they are, None → leave the file out).
    With `defaults`, every required file the test does not state is written header-only (see default_files);
    a test that states `sfdc/Lead.parquet` replaces the default `sfdc/Lead.csv`.
    """
    snap = Path(root) / name
    if snap.exists():
        shutil.rmtree(snap)
    merged: dict = {}
    if defaults:
        stated_stems = {p.rsplit(".", 1)[0] for p in files}
        merged = {p: c for p, c in default_files().items() if p.rsplit(".", 1)[0] not in stated_stems}
    merged.update(files)
    for rel, content in merged.items():
        if content is None:
            continue
        path = snap / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
    return snap


def plan_in(snapshot_dir: Path, work: Path | None = None, **kw) -> dict:
    """build_plan of a snapshot, with the plan and DuckDB written under `work` (default: beside the snapshot)."""
    from reconcile.build import build_plan

    work = Path(work) if work else Path(snapshot_dir).parent / "out"
    kw.setdefault("exports", False)
    return loaded(build_plan(snapshot_dir, out=work / "plan.json", db=work / "reconcile.duckdb", **kw).plan)


def loaded(plan: dict) -> dict:
    """A plan with its changes, findings and rejects read into lists (a later build into the same folder replaces
    the data files a reconcile.plan/2 plan reads on demand)."""
    for key in ("changes", "findings", "rejects"):
        plan[key]
    return plan


# ------------------------------------------------------------------------------------------ policies


def policy_with(
    tmp: Path, statuses: dict[str, str] | None = None, replace: dict[str, str] | None = None, drop: tuple[str, ...] = ()
) -> Path:
    """tmp/policy.toml: a copy of the default policy with field statuses changed ({"Industry": "active"}),
    text replaced, or whole [[fields]] entries dropped (by field name)."""
    from reconcile.policy import default_policy_path

    text = default_policy_path().read_text("utf-8")
    for fld in drop:
        start = text.index(f'field = "{fld}"\n')
        start = text.rindex("[[fields]]", 0, start)
        end = text.find("[[fields]]", start + 1)
        end = text.index("\n# ", start) + 1 if end < 0 else end
        text = text[:start] + text[end:]
    for fld, status in (statuses or {}).items():
        marker = f'field = "{fld}"\n'
        head, tail = text.split(marker, 1)
        old = tail.split("status = ", 1)[1].split("\n", 1)[0]
        tail = tail.replace(f"status = {old}", f'status = "{status}"', 1)
        text = head + marker + tail
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path = Path(tmp) / "policy.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ plan queries


def changes(plan: dict, field: str | None = None) -> list[dict]:
    return [c for c in plan["changes"] if field is None or c["field"] == field]


def findings(plan: dict, kind: str | None = None) -> list[dict]:
    return [f for f in plan["findings"] if kind is None or f["kind"] == kind]


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture
def snapshot(tmp_path):
    """snapshot(files) → a snapshot directory under tmp_path (see write_snapshot)."""
    return lambda files=None, **kw: write_snapshot(tmp_path, files or {}, **kw)


@pytest.fixture
def plan_of(tmp_path):
    """plan_of(snapshot_dir, **build_plan kwargs) → the plan dict, with outputs under tmp_path/out."""
    return lambda snap, **kw: plan_in(snap, tmp_path / "out", **kw)


@pytest.fixture
def run_cli():
    """run_cli(*args) → click Result of `reconcile …` (exit code, stdout, stderr kept apart)."""
    from click.testing import CliRunner

    from reconcile.cli import app

    def run(*args):
        return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)

    return run


# ------------------------------------------------------------------------------------------ signing key


@pytest.fixture(scope="session", autouse=True)
def signing_key_dir(tmp_path_factory):
    """Hermetic signing key: approvals, plan records and audit heads are signed with a key created on first use
    in a temporary config dir (never the real user's ~/.config/reconcile). Subprocesses inherit it."""
    import os

    saved = {k: os.environ.get(k) for k in ("RECONCILE_CONFIG_DIR", "RECONCILE_APPROVAL_KEY")}
    folder = tmp_path_factory.mktemp("config") / "reconcile"
    os.environ["RECONCILE_CONFIG_DIR"] = str(folder)
    os.environ.pop("RECONCILE_APPROVAL_KEY", None)
    yield folder
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session", autouse=True)
def quiet_progress():
    """No periodic progress lines (console.Steps) in any test's output, however slow a busy machine makes a command:
    tests compare stderr exactly. Subprocesses inherit it; test_console sets its own."""
    import os

    saved = os.environ.get("RECONCILE_PROGRESS_EVERY")
    os.environ["RECONCILE_PROGRESS_EVERY"] = "86400"
    yield
    if saved is None:
        os.environ.pop("RECONCILE_PROGRESS_EVERY", None)
    else:
        os.environ["RECONCILE_PROGRESS_EVERY"] = saved


# ------------------------------------------------------------------------------------------ sandbox org


@pytest.fixture(scope="module")
def _sandbox_started():
    """One sandbox org per test module (starting one costs a TLS CA and a server); `sandbox_org` resets it."""
    from reconcile.sandbox import start_sandbox

    h = start_sandbox()
    h.pristine = copy.deepcopy(h.org.data)
    yield h
    h.stop()


@pytest.fixture
def sandbox_org(_sandbox_started):
    """The module's sandbox org, reset to its pristine (unseeded) state: records, history, request log, jobs,
    faults and API counters; the integration user gets a fresh session. Seed it with `seed(handle, snapshot)`."""
    reset_sandbox(_sandbox_started)
    return _sandbox_started


def reset_sandbox(h) -> None:
    from reconcile.sandbox.faults import Faults

    o = h.org
    with o.lock:
        for name in o.data:
            o.data[name] = copy.deepcopy(h.pristine[name])
        o.field_history.clear()
        o.request_log.clear()
        o.jobs.clear()
        o.cursors.clear()
        o.faults = Faults()
        o.api_used = 0
        o.daily_limit = 15000
        o.contact_changed()
    o.renew_session("integration")


_SEED_RECORDS: dict[str, dict] = {}


def seed(h, snapshot_dir) -> None:
    """Insert a snapshot's Salesforce records into the sandbox org (the snapshot is read once per session)."""
    from reconcile.seeding import salesforce_records

    key = str(snapshot_dir)
    if key not in _SEED_RECORDS:
        _SEED_RECORDS[key] = salesforce_records(snapshot_dir)
    for sobject, records in _SEED_RECORDS[key].items():
        h.org.insert(sobject, copy.deepcopy(records))


def sandbox_env(h, user: str = "integration") -> dict:
    """The SF_* variables of a pasted session of sandbox user `user` (integration, admin, overprivileged)."""
    return {"SF_INSTANCE_URL": h.instance_url, "SF_SESSION_ID": h.session_for(user), "SF_CA_BUNDLE": h.ca_bundle}


def client_for(h, user: str = "integration"):
    """A reconcile Client on `user`'s current sandbox session, with test-speed retry backoff and Bulk polls."""
    from reconcile.salesforce import connect

    c = connect(env=sandbox_env(h, user))
    c.backoff, c.bulk_wait = 0.01, 0.05
    return c
