"""The README's walk-through runs as written: its marked shell block, executed by bash in a folder that holds what
`make demo` leaves (demo/snapshot) and the project's .venv, against a fresh local sandbox org."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import duckdb

from reconcile.demo_data import generate_snapshot
from reconcile.plan import load_plan

REPO = Path(__file__).resolve().parent.parent
MARK = "<!-- README walk-through: tests/test_readme.py runs this block -->"


def walkthrough() -> str:
    text = (REPO / "README.md").read_text("utf-8")
    after = text.split(MARK, 1)[1]
    return re.search(r"```sh\n(.*?)```", after, re.S).group(1)


def test_the_readme_walk_through_runs_as_written(tmp_path):
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    generate_snapshot(tmp_path / "demo" / "snapshot", leads=200, seed=7, taken_at=now)  # what `make demo` writes
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_")}
    script = "set -euo pipefail\n" + walkthrough()
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"

    assert "Record 00vDm0ScN0004xYIKQ" in done.stdout  # explain
    assert "hash chain and signed head intact" in done.stdout  # audit --verify
    plan = load_plan(tmp_path / "day" / "plan.json")  # reconcile.plan/2: the rows are in day/plan.data/
    ready = [c for c in plan["changes"] if c["status"] == "ready"]
    assert ready and (tmp_path / "day" / "report.html").is_file()
    con = duckdb.connect(str(tmp_path / "day" / "reconcile.duckdb"), read_only=True)
    try:
        applied = con.execute("select count(*) from audit where result = 'applied'").fetchone()[0]
    finally:
        con.close()
    assert applied == len(ready)
