"""An approved plan → Salesforce: apply, the invariants it re-checks, writeback and the audit trail."""

from importlib import import_module

# Re-exported lazily: importing one module of this package (e.g. reconcile.apply.audit) does not load the others.
_EXPORTS = {"ApplyResult": "apply", "apply_plan": "apply", "exit_status": "apply", "summary_lines": "apply"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
