"""Approval of a plan: who, when, which fields, gate overrides and overwrite releases — bound to plan_id.

Stored beside the plan as `<plan>.approval.json`. A plan edited after approval no longer matches its
plan_id and is refused; an approval for another plan_id is refused. Approval can release exactly one
blocked reason — `overwrite_not_approved` — and only for the fields or records it names, with a reason.
Legal, read-only and allowlist blocks can never be released.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from .errors import ApprovalError
from .ids import id18
from .plan import load_plan, write_atomic

FORMAT = "reconcile.approval/1"
RELEASABLE = "overwrite_not_approved"


def approval_path(plan_path: str | Path) -> Path:
    p = Path(plan_path)
    return p.with_name(p.stem + ".approval.json")


def _field_keys(plan: dict) -> set[str]:
    return {f"{c['object']}.{c['field']}" for c in plan["changes"]}


def _resolve_fields(plan: dict, names: list[str] | None) -> list[str] | None:
    if not names:
        return None
    keys = _field_keys(plan)
    out = []
    for name in names:
        hits = sorted(k for k in keys if k.lower() == name.lower() or k.split(".", 1)[1].lower() == name.lower())
        if not hits:
            raise ApprovalError(f"Field '{name}' has no change in plan {plan['plan_id'][:19]}…. Fields in this plan: "
                                f"{', '.join(sorted(keys)) or '(none)'}.")
        out.extend(hits)
    return sorted(set(out))


def approve(plan_path: str | Path, by: str, fields: list[str] | None = None, override_gate: str | None = None,
            release_fields: list[str] | None = None, release_records: list[str] | None = None,
            release_reason: str | None = None, now: str | None = None) -> dict:
    """Record an approval beside the plan and return it."""
    if not by or not by.strip():
        raise ApprovalError("An approval needs the approver's name (--by NAME).")
    plan = load_plan(plan_path)
    scope = _resolve_fields(plan, fields)
    if plan["gates"] and not (override_gate and override_gate.strip()):
        names = "; ".join(g["message"] for g in plan["gates"])
        raise ApprovalError(f"Plan {plan['plan_id'][:19]}… has {len(plan['gates'])} gate(s): {names} Approve with "
                            "--override-gate REASON to accept the blast radius.")
    releases = []
    if release_fields or release_records:
        if not (release_reason and release_reason.strip()):
            raise ApprovalError("Releasing overwrite candidates needs a reason (--release-reason TEXT).")
        records = []
        for r in release_records or []:
            rid = id18(r)
            if rid is None:
                raise ApprovalError(f"Record id '{r}' is not a Salesforce id (15 or 18 characters).")
            records.append(rid)
        releases.append({"fields": _resolve_fields(plan, release_fields) or [], "records": sorted(records),
                         "reason": release_reason.strip()})
    approval = {
        "format": FORMAT,
        "plan_id": plan["plan_id"],
        "approved_by": by.strip(),
        "approved_at": now or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scope": {"fields": scope if scope is not None else "all"},
        "gate_overrides": [{"gate": g["gate"], "object": g["object"], "field": g.get("field"),
                            "reason": override_gate.strip()} for g in plan["gates"]],
        "overwrite_releases": releases,
    }
    approval["signature"] = _signature(approval)
    write_atomic(approval_path(plan_path), json.dumps(approval, indent=2, ensure_ascii=False) + "\n")
    return approval


def _signature(approval: dict) -> str:
    body = {k: v for k, v in approval.items() if k != "signature"}
    return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def load_approval(plan_path: str | Path, plan: dict) -> dict:
    """The approval beside the plan, checked against the plan it claims to approve."""
    p = approval_path(plan_path)
    if not p.exists():
        raise ApprovalError(f"Plan '{plan_path}' is not approved: '{p.name}' is missing. A person approves it first "
                            f"with `reconcile approve {plan_path} --by NAME` (or in the apply notebook).")
    try:
        approval = json.loads(p.read_text("utf-8"))
    except ValueError as e:
        raise ApprovalError(f"Approval '{p}' is not valid JSON. Approve the plan again.") from e
    if approval.get("signature") != _signature(approval):
        raise ApprovalError(f"Approval '{p}' was edited after it was written. Approve the plan again.")
    if approval.get("plan_id") != plan["plan_id"]:
        raise ApprovalError(f"Approval '{p}' is for plan {approval.get('plan_id')}, not {plan['plan_id']}: the plan "
                            "changed since it was approved. Review and approve the new plan.")
    if plan["gates"] and len(approval.get("gate_overrides", [])) < len(plan["gates"]):
        raise ApprovalError(f"Approval '{p}' does not override the plan's gates. Approve with --override-gate REASON.")
    return approval


def approved_changes(plan: dict, approval: dict) -> list[dict]:
    """The changes this approval lets apply: ready ones in scope, plus released overwrite candidates."""
    scope = approval["scope"]["fields"]
    in_scope = (lambda c: True) if scope == "all" else (lambda c: f"{c['object']}.{c['field']}" in scope)
    out = []
    for c in plan["changes"]:
        if not in_scope(c):
            continue
        if c["status"] == "ready" or (c["reasons"] == [RELEASABLE] and _released(c, approval)):
            out.append(c)
    return out


def _released(change: dict, approval: dict) -> bool:
    key = f"{change['object']}.{change['field']}"
    return any(key in r["fields"] or change["record_id"] in r["records"] for r in approval.get("overwrite_releases", []))
