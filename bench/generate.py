"""Synthetic benchmark snapshots (reconcile.demo_data), generated once per (leads, format) and cached."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

SEED = 7


def snapshot_dir(out: Path, leads: int, fmt: str, scenario: str = "quiet") -> Path:
    return Path(out) / "data" / (f"leads-{leads}-{fmt}" + ("" if scenario == "quiet" else f"-{scenario}"))


def ensure_snapshot(out: Path, leads: int, fmt: str, scenario: str = "quiet") -> tuple[Path, dict]:
    """The snapshot directory for (leads, fmt, scenario), generated unless a complete one is already there.
    Scenarios are reconcile.demo_data's day profiles: `quiet` (an ordinary day) and `backfill` (a first run)."""
    from reconcile.demo_data import generate_snapshot

    d = snapshot_dir(out, leads, fmt, scenario)
    done = d / ".bench-info.json"
    if done.exists():
        return d, json.loads(done.read_text())
    t = time.perf_counter()
    info = generate_snapshot(d, leads=leads, seed=SEED, quirks=True, formats=fmt, profile=scenario)
    info = {
        "files": info["files"],
        "leads": info["leads"],
        "seconds": round(time.perf_counter() - t, 2),
        "bytes": sum(p.stat().st_size for p in d.rglob("*") if p.is_file()),
    }
    done.write_text(json.dumps(info, indent=1))
    return d, info


def warm_page_cache(snap: Path) -> dict:
    """Read every input file of `snap` once, untimed, so the steps measured next all find it in the page cache.

    Without it the first step after other work paid the disk: on 2026-12-03, after the 10M snapshot had been read, the
    1M CSV read floor took 25.8 s (14.2 CPU s; 8.9 s warm in the next run) and reconcile, run after it on a warm
    cache, came out at 1.31x the floor — a ratio flattered by the floor's wait, not earned."""
    t, n = time.perf_counter(), 0
    for path in input_files(snap):
        with open(path, "rb", buffering=0) as fh:
            while chunk := fh.read(1 << 24):
                n += len(chunk)
    return {"seconds": round(time.perf_counter() - t, 2), "bytes": n}


def input_files(snap: Path) -> list[Path]:
    """Every input file of a snapshot (what the read floor reads)."""
    return sorted(p for p in snap.rglob("*") if p.is_file() and p.suffix.lower() in (".csv", ".parquet", ".jsonl"))


def input_rows(info: dict) -> int:
    return sum(n for f, n in info["files"].items() if f != "manifest.toml")


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m bench.generate",
        description="Generate (or find cached) one benchmark snapshot, as `python -m bench` does before measuring.",
        epilog="example: python -m bench.generate bench/out 100000 csv --scenario backfill",
    )
    ap.add_argument("out", type=Path, help="the bench output folder (snapshots go under OUT/data/)")
    ap.add_argument("leads", type=int, help="number of Salesforce Leads")
    ap.add_argument("format", choices=["csv", "parquet"])
    ap.add_argument("--scenario", choices=["quiet", "backfill"], default="quiet", help="day profile (default: quiet)")
    a = ap.parse_args(argv)
    d, i = ensure_snapshot(a.out, a.leads, a.format, a.scenario)
    print(d, i["leads"], i["seconds"], i["bytes"])


if __name__ == "__main__":
    main(sys.argv[1:])
