"""Load a snapshot's Salesforce files into the local sandbox org (demo and tests)."""

from __future__ import annotations

from pathlib import Path

from .build import staged
from .ingest.contract import SALESFORCE_OBJECTS
from .sandbox.schema import find_object

SEED_ORDER = ("Campaign", "Contact", "Lead", "CampaignMember")  # a record's lookups are inserted before it
REQUIRED_NAMES = {"Contact": "'Contact' as LastName", "Lead": "'Lead' as LastName"}  # not in a snapshot


def seed_select(sobject: str) -> str:
    """stg_ columns → API names for every snapshot column the org lets a client create (formula and system
    fields are the org's own; Id is kept so plans match). A blank restricted picklist value is seeded as null."""
    fields = find_object(sobject).fields
    out = []
    for c in SALESFORCE_OBJECTS[sobject].columns:
        f = fields[c.header]
        if c.header != "Id" and not f.createable:
            continue
        out.append(f"{f'nullif(trim({c.staged}), {chr(39) * 2})' if f.restricted else c.staged} as {c.header}")
    if sobject in REQUIRED_NAMES:
        out.append(REQUIRED_NAMES[sobject])
    return f"select {', '.join(out)} from stg_{SALESFORCE_OBJECTS[sobject].name}"


_FORMULAS = (
    "select sf_lead_id as Id, overall_hard_bounced as overall_hard_bounced__c, "
    "cold_lead_eligible as Cold_Lead_Eligible__c from stg_sfdc__lead"
)


def salesforce_records(snapshot_dir: str | Path) -> dict[str, list[dict]]:
    """The snapshot's Salesforce records, normalised (18-character ids), keyed by sObject."""
    return _read(snapshot_dir)[0]


def _read(snapshot_dir: str | Path) -> tuple[dict[str, list[dict]], dict[str, dict]]:
    """salesforce_records, and each Lead's formula values as the snapshot holds them, by Lead id."""
    con = staged(snapshot_dir)
    out = {}
    for sobject in SEED_ORDER:
        cur = con.execute(seed_select(sobject))
        names = [d[0] for d in cur.description]
        out[sobject] = [{k: v for k, v in zip(names, row) if v is not None} for row in cur.fetchall()]
    cur = con.execute(_FORMULAS)
    names = [d[0] for d in cur.description]
    formulas = {row[0]: dict(zip(names[1:], row[1:])) for row in cur.fetchall()}
    con.close()
    return out, formulas


def seed_org(org, snapshot_dir: str | Path, keep_formula_values: bool = False) -> dict[str, int]:
    """Insert the snapshot's Campaigns, Contacts, Leads and CampaignMembers into a sandbox Org.

    keep_formula_values: where the snapshot's formula values (overall_hard_bounced__c, Cold_Lead_Eligible__c)
    differ from what the org's formulas compute from the same record, the org keeps answering the snapshot's value
    (the `formula_values` fault: an org whose deployed formula deviates from the spec). The demo uses it so that
    pulling Salesforce from the sandbox keeps its formula-mismatch scenarios."""
    counts = {}
    records, formulas = _read(snapshot_dir)
    for sobject, rows in records.items():
        org.insert(sobject, rows)
        counts[sobject] = len(rows)
    if keep_formula_values:
        deviating = {}
        for lead_id, held in formulas.items():
            computed = org.formulas("Lead", org.data["Lead"][lead_id])
            differ = {name: value for name, value in held.items() if computed.get(name) != value}
            if differ:
                deviating[lead_id] = differ
        org.set_faults(formula_values=deviating)
        org.save()
        counts["deviating formula values"] = len(deviating)
    return counts
