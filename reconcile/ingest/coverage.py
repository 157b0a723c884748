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

from .contract import SYSTEMS, sources
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

# Optional columns a rule reads, and what goes unchecked without them: a source's file that lacks one is planned
# from, with a warning naming the column (the header as the contract or the policy spells it). Clay tables differ by
# design (an enrichment table has no Replied column), so a Clay column is missing only when no Clay table has it;
# a Smartlead campaign export or a Pardot export has one format, so each file without the column is named.
NEEDED = {
    "clay__rows": {
        "hard_bounced": "Clay hard bounces not checked",
        "replied": "Clay replies not checked",
        "reply_category": "Clay reply categories not checked",
        "reply_at": "Clay reply categories count at Clay's taken_at",
        "company_description": "Clay company descriptions not checked",
        "industry": "Clay industries not checked",
        "email_validation": "Clay email validation (deliverability_review) not checked",
    },
    "clay__errors": {"record_id": "connector errors name no record"},
    "smartlead__leads": {
        "category": "its categories not checked",
        "reply_count": "its reply counts not checked",
        "custom_fields": "its rows matched by email only (no sfdc_lead_id, no sfdc_campaign_id)",
    },
    "pardot__prospects": {"is_hard_bounced": "Pardot hard bounces (pardot_sync_gap) not checked"},
}
PER_SOURCE = ("clay__rows",)


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
    for system, text in missing_columns(snap, policy):
        warnings.append(text)
        if sources[system]["status"] == "ok":
            sources[system]["status"] = "partial"
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


def missing_columns(snap: Snapshot, policy: Policy) -> list[tuple[str, str]]:
    """(system, warning) for every column of NEEDED a source's files lack (per file, or for Clay tables per source)."""
    out = []
    for src in sources(policy.clay_columns):
        files = [f for f in snap.files if f.source == src.name and f.columns is not None]
        header = {c.name: c.header for c in src.columns}
        for name, unchecked in NEEDED.get(src.name, {}).items():
            if name not in header:  # a Clay column the policy does not map
                continue
            lacking = [f.path for f in files if name not in f.columns]
            if not lacking or (src.name in PER_SOURCE and len(lacking) < len(files)):
                continue
            where = (
                f"no {LABEL[src.system]} table has a '{header[name]}' column"
                if src.name in PER_SOURCE
                else f"{_listed(lacking)} {'has' if len(lacking) == 1 else 'have'} no '{header[name]}' column"
            )
            out.append((src.system, f"{where} — {unchecked}"))
    return out


def _listed(paths: list[str], shown: int = 3) -> str:
    more = len(paths) - shown
    return ", ".join(paths[:shown]) + (f" and {more} more" if more > 0 else "")


def _not_used_reason(by_type: dict[str, int]) -> str:
    """'event types reconcile does not read: EMAIL_OPEN 2, EMAIL_SENT 1, (no event type) 1' (most first)."""
    ranked = sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0] == NO_EVENT_TYPE, kv[0]))
    return "event types reconcile does not read: " + ", ".join(f"{t} {n}" for t, n in ranked)


def _instant(text: str) -> datetime:
    return parse_utc(text)
