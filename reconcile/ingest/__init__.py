"""Snapshot files → raw DuckDB tables: the contract, the reads and checks, damaged files, coverage."""

from importlib import import_module

# Re-exported lazily: importing one module of this package (e.g. reconcile.ingest.contract) does not load the others.
_EXPORTS = {"Snapshot": "snapshots", "discover": "snapshots", "ingest": "snapshots"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
