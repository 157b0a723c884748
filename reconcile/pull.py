"""`reconcile pull`: read Lead, CampaignMember, Contact and Campaign from Salesforce into a snapshot directory.

REST query_all (2,000 records a page) up to `bulk_threshold` records, Bulk API 2.0 query above it. Also
saves the integration user's describe of each object (sfdc/describe/<Object>.json), which the plan uses
for `org_field_not_updateable`, and a manifest.toml with taken_at.sfdc.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from pathlib import Path

from .ingest.contract import salesforce_fields
from .files import as_text
from .files import write_atomic
from .clock import iso
from .sources.pull_all import dump_toml

FIELDS = salesforce_fields()  # contract.py: the Salesforce sources' headers are the API field names
BULK_THRESHOLD = 50_000


def pull_snapshot(
    out_dir: str | Path, client, bulk_threshold: int = BULK_THRESHOLD, progress=None, taken_at: str | None = None
) -> dict[str, int]:
    """Write sfdc/<Object>.csv for every object; returns rows per object."""
    out = Path(out_dir)
    counts = {}
    taken = taken_at or iso()
    for obj, wanted in FIELDS.items():
        describe = client.describe(obj)
        names = {f["name"] for f in describe.get("fields", [])}
        fields = [f for f in wanted if f in names]
        write_atomic(
            out / "sfdc" / "describe" / f"{obj}.json",
            json.dumps(
                {
                    "name": obj,
                    "fields": [
                        {
                            "name": f["name"],
                            "type": f.get("type"),
                            "updateable": f.get("updateable"),
                            "calculated": f.get("calculated"),
                        }
                        for f in describe.get("fields", [])
                    ],
                },
                indent=1,
            )
            + "\n",
        )
        soql = f"SELECT {', '.join(fields)} FROM {obj}"
        text, n = (
            _bulk_csv(client, obj, soql) if client.count(obj) > bulk_threshold else _rest_csv(client, soql, fields)
        )
        write_atomic(out / "sfdc" / f"{obj}.csv", text)
        counts[obj] = n
        if progress:
            progress(f"{obj}: {n} records")
    _stamp_manifest(out / "manifest.toml", taken, getattr(client, "instance_url", None))
    return counts


def _rest_csv(client, soql: str, fields: list[str]) -> tuple[str, int]:
    rows = client.query_all(soql)
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(fields)
    for r in rows:
        w.writerow([as_text(r.get(f)) for f in fields])  # the snapshot CSV cell rule
    return buf.getvalue(), len(rows)


def _bulk_csv(client, obj: str, soql: str) -> tuple[str, int]:
    """Bulk API 2.0 pages → one CSV (header once); parsed as CSV so quoted newlines stay inside their cell."""
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    header, n = None, 0
    for page in client.bulk_query(obj, soql):
        rows = csv.reader(io.StringIO(page))
        page_header = next(rows, None)
        if page_header is None:
            continue
        if header is None:
            header = page_header
            w.writerow(header)
        for row in rows:
            w.writerow(row)
            n += 1
    return buf.getvalue(), n


def _stamp_manifest(path: Path, taken: str, instance_url: str | None = None) -> None:
    """Set taken_at.sfdc (and instance_url, the org the Salesforce files were read from: apply refuses the plan
    against another) in manifest.toml, keeping everything else it says (org_id, notes, the other sources'
    taken_at and [pulled.*], values with their types), written as `pull --sources` writes it."""
    doc = tomllib.loads(path.read_text("utf-8")) if path.exists() else {"notes": "pulled by reconcile pull"}
    doc.setdefault("taken_at", {})["sfdc"] = taken
    if instance_url:
        doc["instance_url"] = instance_url
    write_atomic(path, dump_toml(doc))
