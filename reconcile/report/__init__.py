"""What people read: the daily HTML report, its wording and charts, and the weekly connector digest."""

from importlib import import_module

# Re-exported lazily: importing one module of this package (e.g. reconcile.report.charts) does not load the others.
_EXPORTS = {"render_report": "report", "build_digest": "digest"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
