"""`python -m bench.compare --base COMMIT [--leads N] [--runs K] [--scenario quiet|backfill]`: this checkout
against another commit, in one run.

Checks the base commit out into a temporary git worktree, then plans the same generated snapshot with each tree in
turn (fresh processes, alternating, so load on the machine falls on both alike) and prints wall time, peak RSS and
plan_id per run and the ratio of the best times. The plan_ids also show whether each tree is deterministic.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.generate import ensure_snapshot

REPO = Path(__file__).resolve().parent.parent
PLAN = (
    "import sys, time, resource\nfrom reconcile.build import build_plan\nt = time.perf_counter()\n"
    "r = build_plan(sys.argv[1], out=sys.argv[2] + '/plan.json', exports=True)\n"
    "hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM:')]  # ru_maxrss survives fork+exec\n"
    "rss = int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print(time.perf_counter() - t, rss // 1024, r.plan['plan_id'])"
)


def plan_once(tree: Path, snap: Path, out: Path) -> tuple[float, int, str]:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(tree)}  # that tree's reconcile package (and its sql/) is imported
    p = subprocess.run(
        [sys.executable, "-c", PLAN, str(snap), str(out)], env=env, cwd=tree, capture_output=True, text=True
    )
    if p.returncode:
        raise SystemExit(f"plan with {tree} failed:\n{p.stderr[-3000:]}")
    seconds, rss, plan_id = p.stdout.split()
    return float(seconds), int(rss), plan_id


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.compare")
    ap.add_argument("--base", required=True, help="commit to compare against (e.g. 52bb8be)")
    ap.add_argument("--leads", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scenario", default="quiet", help="the snapshot's day profile: quiet or backfill")
    ap.add_argument("--out", default="bench/out")
    a = ap.parse_args(argv)
    out = Path(a.out).resolve()
    snap, _ = ensure_snapshot(out, a.leads, "csv", a.scenario)
    with tempfile.TemporaryDirectory(prefix="reconcile-base-") as tmp:
        base = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(base), a.base], check=True, capture_output=True
        )
        try:
            trees = {"base": base, "head": REPO}
            times: dict[str, list[float]] = {k: [] for k in trees}
            for i in range(a.runs):
                for name, tree in trees.items():
                    seconds, rss, plan_id = plan_once(tree, snap, out / "compare" / name)
                    times[name].append(seconds)
                    print(f"{name:4} run {i + 1}: {seconds:6.1f} s  peak {rss:5d} MB  {plan_id[:23]}…", flush=True)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)], capture_output=True)
    ratio = min(times["head"]) / min(times["base"])
    print(f"best: base {min(times['base']):.1f} s, head {min(times['head']):.1f} s → head/base = {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
