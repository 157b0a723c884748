"""The pre-campaign Campaign Member export (SFDC → Clay, seed §3.4), from the snapshot given.

The file comes back as a Clay table export that `reconcile plan` reads with the same policy: its keys
(CampaignMemberId, LeadId, Email) and enrichment columns carry the policy's [clay.columns] names, a Contact's member
is left out (its row would reach no Lead: Contacts are read-only context), and the rows stream from DuckDB to a
temporary file beside the target that replaces it only when it is complete.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .build import refuse_in_source_folder, staged
from .csvsafe import LineWriter, cell
from .errors import PolicyError, SnapshotError, toml_value
from .files import as_text, refuse_folder
from .ids import id18
from .policy import load_policy
from .sql import sql_text

BATCH = 10_000  # rows fetched from DuckDB at a time: a campaign of any size never sits in Python whole
# The export's own columns beside the policy's Clay names (Company is no Clay column reconcile reads; the rest are
# the eligibility inputs Clay filters on, named so that no policy default reads them as a Clay signal).
FIXED = ("Company", "IsConverted", "HasOptedOutOfEmail", "Hard Bounced (SFDC)")


@dataclass(frozen=True)
class Exported:
    rows: int  # Lead members written
    contacts_left_out: int  # Contact members of the campaign, not written


def header(pol) -> list[str]:
    """The export's header: the policy's Clay names for the keys and enrichment columns, then FIXED. A policy name
    equal to another column's (Clay and `plan` match headers case-insensitively) is a PolicyError."""
    keys = ("campaign_member_id", "lead_id", "email", None, "industry", "company_description", None, None, None)
    fixed = iter(FIXED)
    names = [pol.clay_columns[k] if k else next(fixed) for k in keys]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        j = seen.setdefault(name.strip().lower(), i)
        if j != i:
            key = next(k for k in (keys[i], keys[j]) if k)
            raise PolicyError(
                f"Policy file '{pol.path}' [clay.columns] {key} = {toml_value(pol.clay_columns[key])}: the member "
                f"export has a column '{names[j] if keys[i] else names[i]}' already (headers match "
                "case-insensitively), so Clay and `reconcile plan` could not tell them apart. Give the Clay column "
                "another name in the policy file."
            )
    return names


def export_members(snapshot_dir: str | Path, campaign_id: str, out: str | Path, policy=None) -> Exported:
    """Write the CSV Clay imports for one campaign's Lead members (headers: `header`)."""
    cid = id18(campaign_id)
    if cid is None:
        raise SnapshotError(
            f"Campaign id '{campaign_id}' is not a Salesforce id (15 or 18 letters and digits with a valid "
            "checksum). Copy the Campaign's id from Salesforce or sfdc/Campaign.csv."
        )
    out = Path(out)
    refuse_folder(out)
    refuse_in_source_folder(out, Path(snapshot_dir), "The member export", overwrite_only=True)
    pol = load_policy(policy)
    names = header(pol)
    con = staged(snapshot_dir, pol)
    try:
        leads, contacts = con.execute(
            sql_text("exports/export_campaign_member_counts"), {"campaign_id": cid}
        ).fetchone()
        if not leads:
            also = (
                f" ({contacts} Contact member(s) only, which the export leaves out: Contacts are read-only context)"
                if contacts
                else ""
            )
            raise SnapshotError(
                f"Campaign '{cid}' has no members of a Lead in snapshot '{snapshot_dir}'{also}. Check the id "
                "(sfdc/CampaignMember.csv, CampaignId column) or pull a fresh snapshot."
            )
        cur = con.execute(sql_text("exports/export_campaign_members"), {"campaign_id": cid})
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                w = LineWriter(fh)
                w.writerow([cell(n) for n in names])
                n = 0
                while batch := cur.fetchmany(BATCH):
                    w.writerows([cell(as_text(v)) for v in r] for r in batch)
                    n += len(batch)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    finally:
        con.close()
    return Exported(n, contacts)
