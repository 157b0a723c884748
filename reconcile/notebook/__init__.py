"""The notebook side: the daily papermill run, the analyst notebooks' helpers and the apply panel."""

from importlib import import_module

# Re-exported lazily: importing one module of this package (e.g. reconcile.notebook.run) does not load the others.
_EXPORTS = {"run_daily": "run", "list_runs": "run", "ApplyPanel": "apply_ui"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
