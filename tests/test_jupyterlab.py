"""The notebooks as a person uses them: JupyterLab on 127.0.0.1 in headless Chromium (Debian's, driven by
Playwright). explore.ipynb: Run All, the filters show "(all)", changing one changes the tables. apply.ipynb: Run All,
Apply stays disabled until an approver and a field group are given, then writes to the sandbox org — checked in
the org. Screenshots of both are kept in tests/artifacts/."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from reconcile.build import build_plan
from reconcile.demo_data import generate_snapshot
from reconcile.plan import load_plan

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium not installed (apt-get install -y chromium)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_parameters(name: str, folder: Path, **values) -> None:
    """Copy notebooks/<name>.ipynb into folder with its parameters cell set to `values`."""
    nb = json.loads((REPO / "notebooks" / f"{name}.ipynb").read_text("utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    lines = "".join(cell["source"]).splitlines(keepends=True)
    for i, line in enumerate(lines):
        key = line.split(":", 1)[0].strip()
        if key in values:
            lines[i] = f"{key}: str = {json.dumps(str(values[key]))}\n"
    cell["source"] = lines
    (folder / f"{name}.ipynb").write_text(json.dumps(nb), "utf-8")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A sandbox org seeded from a demo snapshot, its plan, and JupyterLab serving both notebooks (the server and its
    kernels get the org's client-credentials variables, as a CRM Admin's environment would)."""
    from reconcile.sandbox import start_sandbox
    from reconcile.seeding import seed_org

    work = tmp_path_factory.mktemp("lab")
    snap = work / "snapshot"
    generate_snapshot(snap, leads=120, seed=7, taken_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    org = start_sandbox()
    seed_org(org.org, snap)
    plan = work / "run" / "plan.json"
    build_plan(snap, out=plan)
    for name in ("explore", "apply"):
        with_parameters(name, work, plan_path=plan)
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SF_")},
        **org.oauth_env("client_credentials"),
        "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
        "JUPYTER_DATA_DIR": str(work / "data"),
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "jupyter"),
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={work}",
            "--ServerApp.port_retries=0",
            "--allow-root",
            f"--LabApp.user_settings_dir={work / 'settings'}",
            f"--LabApp.workspaces_dir={work / 'ws'}",
        ],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=(work / "lab.log").open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                org.stop()
                pytest.fail("JupyterLab did not start: " + (work / "lab.log").read_text()[-2000:])
            time.sleep(0.3)
    yield {"base": base, "token": token, "org": org, "plan": plan, "work": work}
    server.terminate()
    server.wait(timeout=20)
    org.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_and_run_all(browser, lab, name: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(40_000)
    page.goto(f"{lab['base']}/lab/tree/{name}.ipynb?token={lab['token']}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
    select = page.locator(".jp-Dialog .jp-mod-accept", has_text="Select")  # notebooks are saved without a kernelspec
    try:
        select.wait_for(timeout=15_000)
        select.click()
    except Exception:  # no dialog: JupyterLab picked the kernel itself
        pass
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    return page


def test_explore_in_jupyterlab_filters_change_the_tables(browser, lab):
    page = open_and_run_all(browser, lab, "explore")
    field = page.locator(".widget-dropdown", has_text="Field").locator("select")
    try:
        field.wait_for()
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-explore-failed.png"), full_page=True)
        raise
    for label in ("Rule", "Field", "Finding kind", "Campaign", "GBU"):
        select = page.locator(".widget-dropdown", has_text=label).first.locator("select")
        assert select.evaluate("s => s.options[s.selectedIndex].text") == "(all)"
    tables = page.locator(".widget-html", has_text="Changes (").first
    before = tables.inner_text()
    changes = before.split("Findings (")[0]
    assert "external_hard_bounced__c" in changes and "Has_Replied__c" in changes
    field.select_option(label="CampaignMember.Has_Replied__c")
    page.wait_for_function(
        "el => !el.innerText.split('Findings (')[0].includes('external_hard_bounced__c')", arg=tables.element_handle()
    )
    after = tables.inner_text().split("Findings (")[0]
    assert "Has_Replied__c" in after and "ReplyClassification__c" not in after
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-explore.png"), full_page=True)
    # an analyst done exploring shuts the kernel down: its read-only connection would keep apply from writing the
    # audit into the same DuckDB file (apply says so; tested in the apply test's panel otherwise)
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Shut Down Kernel").first.click()
    confirm = page.locator(".jp-Dialog .jp-mod-accept")
    try:
        confirm.wait_for(timeout=5_000)
        confirm.click()
    except Exception:
        pass
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='unknown'], .jp-Notebook-ExecutionIndicator[data-status='dead']",
        state="attached",
    )
    page.close()


def test_apply_in_jupyterlab_needs_a_name_and_a_group_then_writes_to_the_org(browser, lab):
    org = lab["org"]
    plan = load_plan(lab["plan"])  # reconcile.plan/2: rows read from run/plan.data/ on first use
    replied = [c for c in plan["changes"] if c["field"] == "Has_Replied__c" and c["status"] == "ready"]
    assert replied
    before = {c["record_id"]: org.org.get("CampaignMember", c["record_id"])["Has_Replied__c"] for c in replied}
    assert not any(before.values())

    page = open_and_run_all(browser, lab, "apply")
    button = page.locator(".widget-button", has_text="Apply").first
    button.wait_for()
    assert button.is_disabled()
    page.get_by_placeholder("your name").fill("Ana Admin")
    page.get_by_placeholder("your name").press("Tab")
    time.sleep(0.5)
    assert button.is_disabled()  # a name alone is not enough: no field group ticked
    page.locator(".widget-checkbox", has_text="CampaignMember.Has_Replied__c").locator("input").check()
    page.wait_for_function("el => !el.disabled", arg=button.element_handle())
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-apply-ready.png"), full_page=True)
    button.click()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not all(
        org.org.get("CampaignMember", rid)["Has_Replied__c"] for rid in before
    ):
        time.sleep(0.5)
    if not all(org.org.get("CampaignMember", rid)["Has_Replied__c"] for rid in before):
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-apply-failed.png"), full_page=True)
        pytest.fail("Apply did not write the ticked group; see tests/artifacts/jupyterlab-apply-failed.png")
    page.wait_for_selector("text=applied")
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-apply-done.png"), full_page=True)
    others = [
        c
        for c in plan["changes"]
        if c["field"] != "Has_Replied__c" and c["object"] == "CampaignMember" and c["status"] == "ready"
    ]
    for c in others:  # an unticked group is never written
        assert org.org.get("CampaignMember", c["record_id"])[c["field"]] == c["before"]
    page.close()
