"""Progress of long commands in a log (console.Steps): periodic plain lines on stderr, their cadence set by
RECONCILE_PROGRESS_EVERY, never mixed into stdout."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import HANDMADE

LINE = re.compile(r"^\[planning \d+\.\ds\] (\d+)/(\d+) \S.*$")


def plan(tmp_path, every: str):
    env = {**os.environ, "RECONCILE_PROGRESS_EVERY": every}
    return subprocess.run(
        [sys.executable, "-m", "reconcile", "plan", str(HANDMADE), "--out", str(tmp_path / "plan.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_every_step_is_a_line_on_stderr_at_zero_seconds_and_stdout_keeps_only_the_result(tmp_path):
    r = plan(tmp_path, "0")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines and all(LINE.match(line) for line in lines), lines
    done = [int(LINE.match(line).group(1)) for line in lines]
    total = {int(LINE.match(line).group(2)) for line in lines}
    assert done == list(range(1, len(done) + 1))  # one line per step, in order
    assert len(total) == 1 and done[-1] <= total.pop()
    assert "[planning" not in r.stdout and "Plan" in r.stdout


def test_a_long_interval_prints_no_progress_line(tmp_path):
    r = plan(tmp_path, "3600")
    assert r.returncode == 0 and r.stderr == ""


@pytest.mark.parametrize("every", ["soon", "-1", "nan", "inf"])
def test_a_bad_interval_is_one_error_line_naming_the_variable(tmp_path, every):
    r = plan(tmp_path, every)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        f"Error: RECONCILE_PROGRESS_EVERY = '{every}' is not a number of seconds: set e.g. 2 (a progress line at "
        "most every 2 s), 0 (one per step) or unset it."
    ]
    assert not (tmp_path / "plan.json").exists()
