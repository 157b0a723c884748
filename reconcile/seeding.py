"""Load a snapshot's Salesforce files into the local sandbox org (demo and tests)."""

from __future__ import annotations

from pathlib import Path

from .build import staged
from .contract import SALESFORCE_OBJECTS
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


def salesforce_records(snapshot_dir: str | Path) -> dict[str, list[dict]]:
    """The snapshot's Salesforce records, normalised (18-character ids), keyed by sObject."""
    con = staged(snapshot_dir)
    out = {}
    for sobject in SEED_ORDER:
        cur = con.execute(seed_select(sobject))
        names = [d[0] for d in cur.description]
        out[sobject] = [{k: v for k, v in zip(names, row) if v is not None} for row in cur.fetchall()]
    con.close()
    return out


def seed_org(org, snapshot_dir: str | Path) -> dict[str, int]:
    """Insert the snapshot's Campaigns, Contacts, Leads and CampaignMembers into a sandbox Org."""
    counts = {}
    for sobject, records in salesforce_records(snapshot_dir).items():
        org.insert(sobject, records)
        counts[sobject] = len(records)
    return counts
