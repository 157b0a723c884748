"""Approval of a plan: who, when, which fields, gate overrides and overwrite releases — bound to plan_id, signed.

Stored beside the plan as `<plan>.approval.json` (format `reconcile.approval/2`): the plan_id and a history of
approvals, the last one in force. Each approval is signed with HMAC-SHA256 (signing.py: the key is outside
the plan's folder), chained to the one before it, so an edited or forged approval — another approver, a
wider scope, a dropped gate override — is refused, and a replaced approval stays in the history.
Approvers come from the policy's [[approvers]]; approving an approved plan needs `replace=REASON`.
Gates are recomputed from the policy in use and the plan's own changes, and the plan's recorded `gates` (from the
policy it was built with) are added to them: a looser policy at approve or apply never drops one.
Approval can release exactly one blocked reason — `overwrite_not_approved` — and only for the fields or
records it names, with a reason. Legal, read-only and allowlist blocks can never be released.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from . import planfile, signing
from .errors import ApprovalError
from .ids import id18
from .files import short_id, write_atomic
from .plan import blast_radius_gates, load_plan, record_fraction_gates
from .policy import Policy, load_policy
from .clock import iso

FORMAT = "reconcile.approval/2"
RELEASABLE = "overwrite_not_approved"
APPLY_COLUMNS = ("object", "record_id", "field", "before", "after", "rule", "status", "reason", "reasons")


def approval_path(plan_path: str | Path) -> Path:
    p = Path(plan_path)
    return p.with_name(p.stem + ".approval.json")


def _field_keys(plan: dict) -> set[str]:
    return {k for (k,) in planfile.pairs(plan, "select distinct object || '.' || field from changes")}


def _resolve_fields(plan: dict, names: list[str] | None) -> list[str] | None:
    if not names:
        return None
    keys = _field_keys(plan)
    out = []
    for name in names:
        hits = sorted(k for k in keys if k.lower() == name.lower() or k.split(".", 1)[1].lower() == name.lower())
        if not hits:
            raise ApprovalError(
                f"Field '{name}' has no change in plan {short_id(plan['plan_id'])}. Fields in this plan: "
                f"{', '.join(sorted(keys)) or '(none)'}."
            )
        out.extend(hits)
    return sorted(set(out))


def plan_gates(plan: dict, policy: Policy) -> list[dict]:
    """The plan-level gates: recomputed from the policy in use and the plan's own ready changes, and every gate the
    plan recorded under the policy it was built with (its `gates`, bound by plan_id) — approving or applying under a
    looser policy (another --policy or --org, a raised threshold) never drops a gate the plan was built with."""
    current = _current_gates(plan, policy)
    keys = {_gate_key(g) for g in current}
    recorded = [
        g
        for g in plan.get("gates") or []
        if isinstance(g, dict) and {"gate", "object", "message"} <= g.keys() and _gate_key(g) not in keys
    ]
    return current + recorded


def _current_gates(plan: dict, policy: Policy) -> list[dict]:
    t = policy.thresholds
    by_field = planfile.pairs(
        plan, "select object || '.' || field, count(*) from changes where status = 'ready' group by 1 order by 1"
    )
    gates = blast_radius_gates({"by_field": {k: {"ready": n} for k, n in by_field}}, t)
    per_object = planfile.pairs(
        plan, "select object, count(distinct record_id) from changes where status = 'ready' group by 1 order by 1"
    )
    return gates + record_fraction_gates(per_object, plan.get("summary", {}).get("records", {}), t)


def _gate_key(g: dict) -> tuple:
    return (g["gate"], g["object"], g.get("field"))


def _approver(policy: Policy, by: str):
    if not by or not by.strip():
        raise ApprovalError("An approval needs the approver's name (--by NAME).")
    person = policy.approver(by)
    if person is None:
        names = ", ".join(a.name for a in policy.approvers) or "(none)"
        raise ApprovalError(
            f"Approver '{by.strip()}' is not in the policy's [[approvers]] ('{policy.path}'): "
            f"{names}. Approve as one of them, or add the person (name and email) to the policy."
        )
    return person


def approve(
    plan_path: str | Path,
    by: str,
    fields: list[str] | None = None,
    override_gate: str | None = None,
    release_fields: list[str] | None = None,
    release_records: list[str] | None = None,
    release_reason: str | None = None,
    now: str | None = None,
    policy: str | Path | Policy | None = None,
    replace: str | None = None,
    db: str | Path | None = None,
    expected_plan_id: str | None = None,
) -> dict:
    """Record a signed approval beside the plan and return it (the approval in force, with plan_id)."""
    if not by or not by.strip():
        raise ApprovalError("An approval needs the approver's name (--by NAME).")
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    person = _approver(pol, by)
    plan = load_plan(plan_path)
    if expected_plan_id is not None and plan["plan_id"] != expected_plan_id:
        raise ApprovalError(
            f"Plan '{plan_path}' changed on disk since it was reviewed (plan_id {short_id(plan['plan_id'])} "
            f"instead of {short_id(expected_plan_id)}). Review the plan again before approving."
        )
    from .provenance import check_file

    check_file(plan, plan_path, db or Path(plan_path).parent / "reconcile.duckdb")
    previous_plan = _other_plans_approval(plan_path, plan)  # set aside once this approval is written
    history = _history(plan_path, plan) if approval_path(plan_path).exists() and not previous_plan else []
    if history and not (replace and replace.strip()):
        last = history[-1]
        raise ApprovalError(
            f"Plan {short_id(plan['plan_id'])} is already approved by {last['approved_by']} at "
            f"{last['approved_at']}. To replace that approval say why: --replace REASON (both stay "
            "in the approval history)."
        )
    scope = _resolve_fields(plan, fields)
    gates = plan_gates(plan, pol)
    if gates and not (override_gate and override_gate.strip()):
        names = "; ".join(g["message"] for g in gates)
        raise ApprovalError(
            f"Plan {short_id(plan['plan_id'])} has {len(gates)} gate(s): {names} Approve with "
            "--override-gate REASON to accept the blast radius."
        )
    if override_gate and override_gate.strip() and not gates:  # as a release that releases nothing: said, not dropped
        raise ApprovalError(
            f"Plan {short_id(plan['plan_id'])} has no gates, so --override-gate overrides nothing. Drop it from the "
            "approval."
        )
    releases = []
    if release_reason and release_reason.strip() and not (release_fields or release_records):
        raise ApprovalError(
            "--release-reason releases nothing without --release-field or --release-record: name the fields or "
            "records whose existing values may be overwritten, or drop the reason."
        )
    if release_fields or release_records:
        if not (release_reason and release_reason.strip()):
            raise ApprovalError("Releasing overwrite candidates needs a reason (--release-reason TEXT).")
        records = []
        for r in release_records or []:
            rid = id18(r)
            if rid is None:
                raise ApprovalError(f"Record id '{r}' is not a Salesforce id (15 or 18 characters).")
            records.append(rid)
        fields = _resolve_fields(plan, release_fields) or []
        _check_releases(plan, fields, records, scope)
        releases.append({"fields": fields, "records": sorted(records), "reason": release_reason.strip()})
    _check_scope(plan, scope, releases)
    entry = {
        "approved_by": person.name,
        "approver_email": person.email,
        "approved_at": now or iso(),
        "policy": pol.fingerprint,
        "scope": {"fields": scope if scope is not None else "all"},
        "gate_overrides": [
            {"gate": g["gate"], "object": g["object"], "field": g.get("field"), "reason": override_gate.strip()}
            for g in gates
        ],
        "overwrite_releases": releases,
        "replaces": (
            {
                "approved_by": history[-1]["approved_by"],
                "approved_at": history[-1]["approved_at"],
                "reason": replace.strip(),
            }
            if history
            else None
        ),
    }
    entry["signature"] = _sign(plan["plan_id"], entry, history[-1]["signature"] if history else None)
    doc = {"format": FORMAT, "plan_id": plan["plan_id"], "approvals": history + [entry]}
    set_aside = _set_aside(approval_path(plan_path), previous_plan) if previous_plan else None
    write_atomic(approval_path(plan_path), json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return {"plan_id": plan["plan_id"], **entry, "set_aside": set_aside}


def _other_plans_approval(plan_path: str | Path, plan: dict) -> str | None:
    """The plan_id of the approval beside PLAN when it approves another plan: a plan rebuilt at the same path leaves
    the previous plan's approval there. Approving the new plan sets that file aside (_set_aside); apply still
    refuses a plan whose approval file is for another plan."""
    try:
        other = json.loads(approval_path(plan_path).read_text("utf-8")).get("plan_id")
    except (OSError, ValueError, AttributeError):
        return None  # none, or unreadable: _history names the problem
    return other if isinstance(other, str) and other != plan["plan_id"] else None


def _set_aside(p: Path, plan_id: str) -> Path:
    """Move an approval of another plan to PLAN.approval.<that plan's id, 12 hex>.json (kept, never read again)."""
    short = re.sub(r"[^0-9a-f]", "", plan_id.removeprefix("sha256:").lower())[:12] or "other"
    stem, n = f"{p.with_suffix('').name}.{short}", 1
    target = p.with_name(stem + ".json")
    while target.exists():
        n += 1
        target = p.with_name(f"{stem}-{n}.json")
    p.rename(target)
    return target


def _sign(plan_id: str, entry: dict, previous: str | None) -> str:
    body = {k: v for k, v in entry.items() if k != "signature"}
    return signing.sign("approval", {"plan_id": plan_id, "previous": previous, "approval": body})


def _history(plan_path: str | Path, plan: dict) -> list[dict]:
    """Every approval of the file beside the plan, each signature checked; ApprovalError otherwise."""
    p = approval_path(plan_path)
    try:
        doc = json.loads(p.read_text("utf-8"))
    except ValueError as e:
        raise ApprovalError(f"Approval '{p}' is not valid JSON. Approve the plan again.") from e
    if (
        not isinstance(doc, dict)
        or doc.get("format") != FORMAT
        or not isinstance(doc.get("approvals"), list)
        or not doc["approvals"]
    ):
        raise ApprovalError(
            f"Approval '{p}' is not a signed {FORMAT} approval (an older or hand-written file). "
            f"Delete it and approve the plan again with `reconcile approve`."
        )
    if doc.get("plan_id") != plan["plan_id"]:
        raise ApprovalError(
            f"Approval '{p}' is for plan {doc.get('plan_id')}, not {plan['plan_id']}: the plan "
            "changed since it was approved. Review and approve the new plan."
        )
    previous = None
    for i, entry in enumerate(doc["approvals"], start=1):
        if not isinstance(entry, dict) or not signing.verify(
            "approval",
            {
                "plan_id": doc["plan_id"],
                "previous": previous,
                "approval": {k: v for k, v in entry.items() if k != "signature"},
            },
            entry.get("signature"),
        ):
            raise ApprovalError(
                f"Approval '{p}' does not verify with this machine's signing key (approval {i} of "
                f"{len(doc['approvals'])} does not match its signature): it was edited after it was written, or "
                f"signed with another key. Use the key it was approved with ({signing.KEY_ENV}, or approval.key in "
                "the config folder: README, Signed approvals), or delete it and approve the plan again."
            )
        previous = entry["signature"]
    return doc["approvals"]


def load_approval(plan_path: str | Path, plan: dict, policy: Policy | None = None) -> dict:
    """The approval in force beside the plan, checked against the plan it claims to approve and the policy."""
    p = approval_path(plan_path)
    if not p.exists():
        raise ApprovalError(
            f"Plan '{plan_path}' is not approved: '{p.name}' is missing. A person approves it first "
            f"with `reconcile approve {plan_path} --by NAME` (or in the apply notebook)."
        )
    approval = {"plan_id": plan["plan_id"], **_history(plan_path, plan)[-1]}
    pol = policy or load_policy()
    if pol.approver(approval["approved_by"]) is None:
        raise ApprovalError(
            f"Approval '{p}' names '{approval['approved_by']}', who is not in the policy's "
            f"[[approvers]] ('{pol.path}'). Approve again as one of them."
        )
    overridden = {_gate_key(g) for g in approval.get("gate_overrides", [])}
    missing = [g for g in plan_gates(plan, pol) if _gate_key(g) not in overridden]
    if missing:
        raise ApprovalError(
            f"Approval '{p}' does not override the plan's gate(s): {missing[0]['message']} Approve "
            "with --override-gate REASON."
        )
    return approval


def approved_changes(plan: dict, approval: dict) -> list[dict]:
    """The changes this approval lets apply: ready ones in scope, plus released overwrite candidates (queried
    from the plan without their evidence, which apply does not need)."""
    scope = approval["scope"]["fields"]
    where, params = "(status = 'ready' or reasons = [?])", [RELEASABLE]
    if scope != "all":
        where += " and list_contains(?, object || '.' || field)"
        params.append(list(scope))
    out = []
    for c in planfile.rows(plan, "changes", where, params, columns=APPLY_COLUMNS):
        if c["status"] == "ready" or is_released(c, approval):
            out.append(c)
    return out


def _check_scope(plan: dict, scope: list[str] | None, releases: list[dict]) -> None:
    """Every field of a scope must approve at least one change: a ready one, or an overwrite candidate this approval
    releases (by field or record); else the approval is refused saying why, as for a release."""
    fields = sorted({f for r in releases for f in r["fields"]})
    records = sorted({x for r in releases for x in r["records"]})
    for key in scope or []:
        writable = planfile.scalar(
            plan,
            "select count(*) from changes where object || '.' || field = ? and (status = 'ready' or "
            "(reasons = [?] and (list_contains(?, object || '.' || field) or list_contains(?, record_id))))",
            [key, RELEASABLE, fields, records],
        )
        if writable:
            continue
        reasons = [
            r
            for (r,) in planfile.pairs(
                plan,
                "select distinct unnest(reasons) as r from changes where object || '.' || field = ? order by r",
                [key],
            )
        ]
        pure = planfile.scalar(
            plan, "select count(*) from changes where object || '.' || field = ? and reasons = [?]", [key, RELEASABLE]
        )
        hint = (
            f"; its {pure} overwrite candidate(s) are approved only with --release-field or --release-record naming "
            "them"
            if pure
            else ", which no approval releases"
        )
        raise ApprovalError(
            f"--fields {key} approves nothing: none of its changes is ready (blocked for {', '.join(reasons)}){hint}. "
            "Drop it from the scope."
        )


def _check_releases(plan: dict, fields: list[str], records: list[str], scope: list[str] | None = None) -> None:
    """Every field and record named in a release must release at least one change the approval's scope (--fields)
    covers, or the approval is refused saying why (a release that releases nothing silently is a misunderstanding
    waiting to happen)."""
    for what, named, key in (("field", fields, "object || '.' || field"), ("record", records, "record_id")):
        # what a release is about: an enrichment change over a value (an overwrite candidate, or one a plan calls
        # ready although its `before` is not blank — apply's fill-if-blank invariant refuses it unless released). A
        # ready fill of a blank field needs none, and one whose field someone filled since the snapshot is drift at
        # apply, which no release overwrites (README "Approval and apply").
        for name in named:
            candidates = planfile.rows(  # queried: a plan's changes are never loaded whole
                plan,
                "changes",
                f"{key} = ? and (list_contains(reasons, ?) or (rule = 'enrichment_fill_if_blank' and "
                "coalesce(before, 'null') <> 'null'))",
                [name, RELEASABLE],
                columns=("object", "record_id", "field", "rule", "reasons"),
            )
            outside = [c for c in candidates if scope is not None and f"{c['object']}.{c['field']}" not in scope]
            inside = [c for c in candidates if c not in outside]
            if any(set(c.get("reasons") or []) <= {RELEASABLE} for c in inside):
                continue
            if not candidates:
                why = f"no change of {what} {name} is an enrichment change over a value ({RELEASABLE})"
            elif not inside:
                keys = sorted({f"{c['object']}.{c['field']}" for c in outside})
                why = f"its changes are on {', '.join(keys)}, outside the approval's --fields ({', '.join(scope)})"
            else:
                others = sorted({r for c in inside for r in c["reasons"] if r != RELEASABLE})
                why = (
                    f"its {len(inside)} enrichment change(s) are also blocked for {', '.join(others)}, "
                    "which no approval releases"
                )
            raise ApprovalError(f"--release-{what} {name} releases nothing: {why}. Drop it from the approval.")


def is_released(change: dict, approval: dict) -> bool:
    key = f"{change['object']}.{change['field']}"
    return any(
        key in r["fields"] or change["record_id"] in r["records"] for r in approval.get("overwrite_releases", [])
    )
