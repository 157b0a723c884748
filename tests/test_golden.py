"""Golden plan of the demo data: any change to a rule, the generator or the plan format shows up as a diff.

The golden file is the plan's JSON export (plan.to_json: the reconcile.plan/2 manifest with its changes,
findings and rejects inline, one per line), so it stays reviewable. Refresh after an intended change with
`.venv/bin/python -m pytest tests/test_golden.py --update-golden` and review the diff of
tests/golden/demo_plan.json like code.
"""

import json
from pathlib import Path

import duckdb
import pytest

from reconcile.build import build_plan
from reconcile.demo_data import generate_snapshot
from reconcile.plan import to_json

GOLDEN = Path(__file__).parent / "golden" / "demo_plan.json"


@pytest.mark.parametrize("memory_limit, spill", [(None, False), ("256MB", True)])
def test_demo_plan_matches_the_golden_plan(tmp_path, memory_limit, spill, update_golden, monkeypatch):
    """Also with the intermediates in the scratch database file (chosen for a snapshot whose intermediates would be
    several times the memory limit: made so here) instead of temporary tables."""
    from reconcile import build, sql

    attached = []
    monkeypatch.setattr(
        build, "attach_scratch", lambda con, path: attached.append(path) or sql.attach_scratch(con, path)
    )
    if spill:
        monkeypatch.setattr(sql, "INTERMEDIATE_FACTOR", 10**6)
    snap = tmp_path / "snapshot"
    generate_snapshot(snap, leads=60, seed=7, taken_at="2026-11-27T06:00:00Z")
    out = tmp_path / "out"
    plan = build_plan(snap, out=out / "plan.json", exports=False, memory_limit=memory_limit, fmt="parquet").plan
    assert bool(attached) is spill
    assert sorted(p.name for p in out.iterdir()) == ["plan.data", "plan.json", "reconcile.duckdb"]
    assert sorted(p.name for p in (out / "plan.data").iterdir()) == [
        "changes.parquet",
        "findings.parquet",
        "rejects.parquet",
    ]
    con = duckdb.connect(str(out / "reconcile.duckdb"), read_only=True)
    try:
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    finally:
        con.close()
    assert {"stg_sfdc__lead", "rule_hard_bounce_union", "plan_changes", "snapshot_files"} <= tables
    assert not {t for t in tables if t.startswith("int_")}
    plan["created_at"] = "(golden)"
    text = to_json(plan)
    if update_golden:
        GOLDEN.write_text(text, "utf-8")
    golden = json.loads(GOLDEN.read_text("utf-8"))
    assert plan["plan_id"] == golden["plan_id"]
    assert plan["summary"] == golden["summary"]
    assert plan["changes"] == golden["changes"]
    assert plan["findings"] == golden["findings"]
    assert text == GOLDEN.read_text("utf-8")
