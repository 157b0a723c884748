"""The pre-campaign Campaign Member export (SFDC → Clay, seed §3.4), from the latest snapshot."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .build import staged
from .csvsafe import row
from .errors import SnapshotError
from .files import as_text
from .ids import id18
from .files import write_atomic
from .policy import load_policy
from .sql import sql_text


def export_members(snapshot_dir: str | Path, campaign_id: str, out: str | Path, policy=None) -> int:
    """Write the CSV Clay imports for one campaign; headers follow the policy's [clay.columns]. Returns rows."""
    cid = id18(campaign_id)
    if cid is None:
        raise SnapshotError(f"Campaign id '{campaign_id}' is not a Salesforce id (15 or 18 characters).")
    pol = load_policy(policy)
    con = staged(snapshot_dir, pol)
    rows = con.execute(sql_text("exports/export_campaign_members"), {"campaign_id": cid}).fetchall()
    con.close()
    if not rows:
        raise SnapshotError(
            f"Campaign '{cid}' has no members in snapshot '{snapshot_dir}'. Check the id "
            "(sfdc/CampaignMember.csv, CampaignId column) or pull a fresh snapshot."
        )
    h = pol.clay_columns
    header = [
        h["campaign_member_id"],
        h["lead_id"],
        h["email"],
        "Company",
        h["industry"],
        h["company_description"],
        "IsConverted",
        "HasOptedOutOfEmail",
        "Hard Bounced (SFDC)",
    ]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(row(header))
    for r in rows:
        w.writerow(row([as_text(v) for v in r]))
    write_atomic(Path(out), buf.getvalue())
    return len(rows)
