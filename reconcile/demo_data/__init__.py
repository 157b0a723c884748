"""Realistic synthetic snapshot directories for `reconcile demo`, the tests and the benchmarks.

    from reconcile.demo_data import generate_snapshot
    info = generate_snapshot(Path("demo/snapshot"), leads=200, seed=7)

A vectorised filler population (numpy/polars) at realistic proportions, plus a fixed catalogue of
hand-made scenario records (`scenarios.py`), each exercising one case of SPEC §3/§4.
"""

from .generate import generate_snapshot
from .ids import sf_id18

__all__ = ["generate_snapshot", "sf_id18"]
