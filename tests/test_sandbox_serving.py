"""`reconcile sandbox serve --seed/--reset` on an existing state, and `reconcile sandbox env` for `eval`."""

import json
import os
import shlex
import signal
import socket
import subprocess
import sys

import pytest
import requests
from click.testing import CliRunner
from conftest import HANDMADE

from reconcile.cli import app
from reconcile.salesforce import connect
from reconcile.sandbox import start_sandbox


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def serve(*args):
    """`reconcile sandbox serve …` in a subprocess; returns it once its JSON line is out (or it exited)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconcile.cli", "sandbox", "serve", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.info = json.loads(proc.stdout.readline() or "null")
    return proc


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def exported(lines: str) -> dict:
    """What `eval "$(reconcile sandbox env)"` would set (the unset line is checked separately)."""
    out = {}
    for line in lines.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            out[name] = shlex.split(value)[0]
    return out


def test_seed_on_an_existing_state_is_refused_with_the_fix(tmp_path):
    state = tmp_path / "org.json"
    start_sandbox(state_path=state).stop()
    proc = serve("--state", state, "--seed", HANDMADE)
    assert proc.info is None and proc.wait(timeout=15) == 1
    assert proc.stderr.read().strip() == (
        f"Error: Sandbox state '{state}' already exists, so --seed would be "
        "ignored. Add --reset to replace it with a fresh org seeded from the "
        "snapshot, or drop --seed to keep it."
    )


def test_a_busy_port_is_one_error_line_naming_it_not_a_path(tmp_path):
    with socket.socket() as busy:  # another process's listener, as far as the org can tell
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = serve("--state", tmp_path / "org.json", "--port", port)
        assert proc.info is None and proc.wait(timeout=15) == 1
    stderr = proc.stderr.read()
    assert "Traceback" not in stderr
    assert stderr == (
        f"Error: Port {port} on 127.0.0.1 is already in use (stop the process listening there, or pass another "
        "--port; 0 = a free one).\n"
    )


def test_reset_reseeds_an_existing_state_and_env_points_at_it(tmp_path):
    state = tmp_path / "org.json"
    first = serve("--state", state, "--seed", HANDMADE)
    try:
        env = exported(cli("sandbox", "env", "--state", state).output)
        sf = connect(env=env)
        lead = sf.query_all("SELECT Id FROM Lead")[0]["Id"]
        admin_token = first.info["admin_session_id"]
    finally:
        stop(first)
    handle = start_sandbox(state_path=state)  # change the saved org, so a reseed is visible
    requests.delete(
        f"{handle.instance_url}/services/data/v59.0/sobjects/Lead/{lead}",
        verify=handle.ca_bundle,
        headers={"Authorization": f"Bearer {admin_token}"},
    ).raise_for_status()
    handle.stop()
    second = serve("--state", state, "--seed", HANDMADE, "--reset")
    try:
        result = cli("sandbox", "env", "--state", state)
        assert result.exit_code == 0
        env = exported(result.output)
        assert set(env) == {
            "SF_LOGIN_URL",
            "SF_CLIENT_ID",
            "SF_CLIENT_SECRET",
            "SF_CA_BUNDLE",
            "SMARTLEAD_BASE_URL",
            "SMARTLEAD_API_KEY",
            "PARDOT_BASE_URL",
            "PARDOT_BUSINESS_UNIT_ID",
        }
        assert env["SF_CA_BUNDLE"] == first.info["ca_bundle"]  # the CA survives a reset
        assert result.output.splitlines()[0].startswith("unset SF_USERNAME SF_PRIVATE_KEY_FILE ")
        assert len(connect(env=env).query_all("SELECT Id FROM Lead")) == 4  # the deleted lead is back
        jwt = exported(cli("sandbox", "env", "--state", state, "--flow", "jwt").output)
        assert "SF_CLIENT_SECRET" not in jwt and os.path.exists(jwt["SF_PRIVATE_KEY_FILE"])
        assert len(connect(env=jwt).query_all("SELECT Id FROM Lead")) == 4
        legacy = exported(cli("sandbox", "env", "--state", state, "--flow", "password").output)
        assert {"SF_USERNAME", "SF_PASSWORD", "SF_SECURITY_TOKEN"} <= set(legacy) and "SF_CLIENT_ID" not in legacy
        assert len(connect(env=legacy, warn=lambda _: None).query_all("SELECT Id FROM Lead")) == 4
        pasted = exported(cli("sandbox", "env", "--state", state, "--flow", "session").output)
        assert pasted["SF_INSTANCE_URL"] == second.info["instance_url"] and "SF_LOGIN_URL" not in pasted
        assert len(connect(env=pasted).query_all("SELECT Id FROM Lead")) == 4
    finally:
        stop(second)
    assert not (tmp_path / "org.serving.json").exists()


@pytest.mark.parametrize("args", [(), ("--flow", "jwt")])
def test_env_without_a_serving_org_says_how_to_start_one(tmp_path, args):
    state = tmp_path / "org.json"
    result = cli("sandbox", "env", "--state", state, "--wait", "0", *args)
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: No sandbox org is serving from state '{state}' (no live "
        f"'org.serving.json' beside it). Start one first: reconcile sandbox serve "
        f"--state {state} &"
    )


def test_sandbox_serves_smartlead_and_pardot_seeded_from_the_snapshot(tmp_path):
    from reconcile.demo_data import generate_snapshot

    snap = tmp_path / "snap"
    generate_snapshot(snap, leads=40, seed=3, taken_at="2026-11-27T06:00:00Z")
    state = tmp_path / "org.json"
    served = serve("--state", state, "--seed", snap)
    try:
        assert {"smartlead_base_url", "smartlead_api_key", "pardot_base_url", "pardot_business_unit_id"} <= set(
            served.info
        )
        env = exported(cli("sandbox", "env", "--state", state).output)
        result = CliRunner().invoke(
            app, ["pull", "--out", str(tmp_path / "out"), "--sources", "smartlead,pardot"], env=env
        )
        assert result.exit_code == 0, result.stderr
    finally:
        stop(served)
    assert sorted(p.name for p in (tmp_path / "out" / "smartlead").iterdir()) == sorted(
        p.name for p in (snap / "smartlead").glob("campaign-*")
    )
    assert len((tmp_path / "out" / "pardot" / "prospects.csv").read_text().splitlines()) == len(
        (snap / "pardot" / "prospects.csv").read_text("utf-8-sig").splitlines()
    )
