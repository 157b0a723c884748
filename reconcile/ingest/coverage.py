"""What a snapshot covers: which sources are present and how far behind Salesforce each was taken, every file read
(records, staged, rejected) and every file ignored with its reason. A missing required source or a source the
policy says must be fresh stops the plan; otherwise gaps become warnings shown in `plan` output and at the top of
the report — the report never gives an all-clear about data it did not receive.

Ages are measured against the Salesforce snapshot's taken_at (how far behind Salesforce a source was taken), not
against the clock, so the same snapshot gives the same plan whenever it is planned. How old the Salesforce snapshot
itself may be is checked at apply (thresholds.max_snapshot_age_hours).
"""

from __future__ import annotations

from datetime import datetime

from .contract import SYSTEMS
from ..errors import SnapshotError
from ..policy import Policy
from .snapshots import NO_EVENT_TYPE, Snapshot
from ..clock import parse_utc

# What goes unchecked when a source (or the Clay error log) is missing.
UNCHECKED = {
    "sfdc": "nothing can be reconciled",
    "clay": "Clay enrichment, Clay bounce and reply evidence not checked",
    "smartlead": "Smartlead bounces, replies and reply categories not checked",
    "pardot": "Pardot hard bounces (pardot_sync_gap) not checked",
}
LABEL = {"sfdc": "Salesforce", "clay": "Clay", "smartlead": "Smartlead", "pardot": "Pardot"}
CLAY_ERROR_LOG = "Clay error log not provided (clay/errors.csv) — connector errors not checked"


def assess(snap: Snapshot, policy: Policy) -> dict:
    """The `summary.inputs` block of a plan; raises SnapshotError where the policy says a gap is an error."""
    sfdc_at = _instant(snap.taken_at["sfdc"])
    sources, warnings, errors = {}, [], []
    for system in SYSTEMS:
        rule = policy.sources[system]
        files = [f for f in snap.files if f.system == system]
        entry = {
            "present": bool(files),
            "required": rule.required,
            "files": len(files),
            "records": sum(f.records for f in files),
            "taken_at": snap.taken_at.get(system),
            "behind_sfdc_hours": None,
            "max_age_hours": rule.max_age_hours,
            "status": "ok",
        }
        pulled = snap.manifest.get("pulled", {}).get(system)  # `reconcile pull` records its API requests
        if isinstance(pulled, dict) and "api_requests" in pulled:
            entry["api_requests"] = pulled["api_requests"]
        if not files:
            entry["status"] = "missing"
            text = f"{LABEL[system]} not provided — {UNCHECKED[system]}"
            if rule.required or rule.on_problem == "error":
                errors.append(
                    f"{text}. Add the export (README: Sources and freshness) or relax [sources.{system}] in the policy."
                )
            else:
                warnings.append(text)
        else:
            behind = round((sfdc_at - _instant(entry["taken_at"])).total_seconds() / 3600, 2)
            entry["behind_sfdc_hours"] = behind
            if rule.max_age_hours is not None and behind > rule.max_age_hours:
                entry["status"] = "stale"
                text = (
                    f"{LABEL[system]} was taken {behind:g} h before Salesforce (taken_at {entry['taken_at']}), "
                    f"more than the policy's {rule.max_age_hours:g} h — its evidence may be out of date"
                )
                if rule.on_problem == "error":
                    errors.append(
                        f"{text}. Export {LABEL[system]} again, or raise [sources.{system}] max_age_hours "
                        "in the policy."
                    )
                else:
                    warnings.append(text)
        sources[system] = entry
    if sources["clay"]["present"] and not any(f.source == "clay__errors" for f in snap.files):
        warnings.append(CLAY_ERROR_LOG)
    if errors:
        raise SnapshotError(f"Snapshot '{snap.root}': {errors[0]}")
    return {
        "sources": sources,
        "files": [
            {"file": f.path, "source": f.source, "records": f.records, "staged": f.staged, "rejected": f.rejected}
            for f in sorted(snap.files, key=lambda f: f.path)
        ],
        "ignored": [{"file": rel, "reason": why} for rel, why in sorted(snap.ignored)],
        "not_used": [
            {"file": f.path, "records": sum(f.not_used.values()), "reason": _not_used_reason(f.not_used)}
            for f in sorted(snap.files, key=lambda f: f.path)
            if f.not_used
        ],
        "warnings": warnings + [f"'{rel}' ignored: {why}" for rel, why in sorted(snap.ignored)],
    }


def _not_used_reason(by_type: dict[str, int]) -> str:
    """'event types reconcile does not read: EMAIL_OPEN 2, EMAIL_SENT 1, (no event type) 1' (most first)."""
    ranked = sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0] == NO_EVENT_TYPE, kv[0]))
    return "event types reconcile does not read: " + ", ".join(f"{t} {n}" for t, n in ranked)


def _instant(text: str) -> datetime:
    return parse_utc(text)
