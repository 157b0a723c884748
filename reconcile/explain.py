"""`reconcile explain RECORD_ID`: why a record gets each change and finding — rule and source rows."""

from __future__ import annotations

from . import planfile
from .errors import PlanError
from .files import as_text
from .ids import id18
from .ingest.contract import KEY_PREFIXES


def explain(plan: dict, record_id: str) -> dict:
    """The changes and findings of one record (15- or 18-character id)."""
    rid = id18(record_id)
    if rid is None:
        raise PlanError(
            f"Record id '{record_id}' is not a Salesforce id (15 or 18 letters and digits with a valid "
            "checksum). Copy the id from the plan or from Salesforce."
        )
    changes = planfile.rows(plan, "changes", "record_id = ?", [rid])
    # a finding names the record as its own, in a source value, or in its detail (ambiguous_match: the candidates)
    findings = planfile.rows(
        plan,
        "findings",
        "record_id = ? or contains(coalesce(detail, ''), ?) "
        "or len(list_filter(evidence, lambda e: contains(coalesce(e.value, ''), ?))) > 0",
        [rid, rid, rid],
    )
    return {
        "record_id": rid,
        "object": KEY_PREFIXES.get(rid[:3]),  # an id's first three characters name its object
        "plan_id": plan.get("plan_id"),
        "changes": changes,
        "findings": findings,
    }


PLANNED = ("Lead", "CampaignMember")


def _nothing(result: dict) -> str:
    """Why a record has no change and no finding, as far as its id tells."""
    obj = result.get("object")
    if obj in PLANNED:
        return (
            f"  Nothing planned and nothing found for this {obj}: Salesforce already holds what the rules say, no "
            "source mentions it, or the plan's snapshot does not hold it."
        )
    if obj == "Contact":
        return (
            "  A Contact: reconcile reads Contacts but never writes them (the integration writes Leads and Campaign "
            "Members only), and no finding names this one."
        )
    if obj == "Campaign":
        return (
            "  A Campaign: never written itself; its members' changes carry its id as campaign_id (the report's "
            "changes by campaign, the notebooks' campaign filter)."
        )
    return (
        f"  Not a Lead, Campaign Member, Contact or Campaign id (key prefix '{result['record_id'][:3]}'): reconcile "
        "plans Leads and Campaign Members only. Check the id was copied from the plan or from a Lead or Campaign "
        "Member in Salesforce."
    )


def render_text(result: dict) -> str:
    lines = [f"Record {result['record_id']}  (plan {result['plan_id']})"]
    if not result["changes"] and not result["findings"]:
        lines.append(_nothing(result))
    for c in result["changes"]:
        verdict = "READY" if c["status"] == "ready" else f"BLOCKED ({', '.join(c['reasons'])})"
        lines.append(f"\n  {c['object']}.{c['field']}: {_v(c['before'])} → {_v(c['after'])}   [{verdict}]")
        lines.append(f"    rule: {c['rule']}")
        lines.extend(_evidence(c.get("evidence", [])))
    for f in result["findings"]:
        lines.append(f"\n  finding {f['kind']} → {f['route']}")
        lines.append(f"    {f['detail']}")
        lines.extend(_evidence(f.get("evidence", [])))
    return "\n".join(lines)


def _evidence(evidence: list[dict]) -> list[str]:
    out = []
    for e in evidence:
        at = f" at {e['at']}" if e.get("at") else ""
        out.append(f"    evidence: {e['source']} {e['file']} row {e['row']} {e['column']} = {_v(e.get('value'))}{at}")
    return out


def _v(value) -> str:
    return repr(value) if isinstance(value, str) else as_text(value, blank="(blank)")
