"""Sending approved record updates to Salesforce: sObject Collections for small sets, Bulk API 2.0 for large.

Per-record outcomes come back joined by record id. UNABLE_TO_LOCK_ROW is retried with backoff; a batch the
server keeps failing (5xx) is split in halves until the bad part is isolated; session expiry and API limits
stop the run (ApplyStopped) — the caller's write-ahead audit makes the stop resumable.
"""

from __future__ import annotations

import csv
import io
import re
import time

from ..errors import SalesforceError
from ..files import as_text
from ..salesforce import COLLECTION_CHUNK, error_code

TRANSIENT = {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"}
# sf__Error of a Bulk API 2.0 failed result is "STATUSCODE:message:fields --" ("…:--" when no field applies); the
# message is what sObject Collections answer, so the field list and the "--" are cut off
BULK_ERROR_FIELDS = re.compile(r":[\w.,]*\s*--\s*$")


def send(
    client,
    sobject: str,
    updates: dict[str, dict],
    bulk_threshold: int,
    on_batch=None,
    on_job=None,
    on_abandoned=None,
    lock_rounds: int = 4,
    backoff: float = 0.2,
    sleep=time.sleep,
) -> dict[str, tuple[bool, str | None, str | None]]:
    """Write {record_id: {field: value}}; returns {record_id: (ok, error_code, message)}.
    on_batch(ids) before each sObject Collections call; on_job(job_id, ids) when a Bulk API 2.0 job was created;
    on_abandoned(job_id, ids, note) when one was given up (its upload or close failed), before it is sent again."""
    results: dict[str, tuple[bool, str | None, str | None]] = {}
    ids = sorted(updates)
    if len(ids) > bulk_threshold:
        results.update(_bulk(client, sobject, ids, updates, on_job, on_abandoned))
    else:
        for i in range(0, len(ids), COLLECTION_CHUNK):
            chunk = ids[i : i + COLLECTION_CHUNK]
            if on_batch:
                on_batch(chunk)
            results.update(_collection(client, sobject, chunk, updates))
    for round_ in range(lock_rounds):
        retry = sorted(r for r, (ok, code, _) in results.items() if not ok and code in TRANSIENT)
        if not retry:
            break
        sleep(backoff * 2**round_)
        for i in range(0, len(retry), COLLECTION_CHUNK):
            results.update(_collection(client, sobject, retry[i : i + COLLECTION_CHUNK], updates))
    return results


def _payload(sobject: str, rid: str, fields: dict) -> dict:
    return {"attributes": {"type": sobject}, "id": rid, **fields}


def _collection(client, sobject: str, ids: list[str], updates: dict) -> dict:
    """One PATCH composite/sobjects call; a batch that fails as a whole is split until isolated."""
    try:
        answer = client.update_collection([_payload(sobject, r, updates[r]) for r in ids])
    except SalesforceError as e:
        if len(ids) > 1:
            mid = len(ids) // 2
            return {
                **_collection(client, sobject, ids[:mid], updates),
                **_collection(client, sobject, ids[mid:], updates),
            }
        return {ids[0]: (False, error_code(e.__cause__) or "REQUEST_FAILED", str(e))}
    out = {}
    for rid, item in zip(ids, answer):
        if item.get("success"):
            out[rid] = (True, None, None)
        else:
            err = (item.get("errors") or [{}])[0]
            out[rid] = (False, err.get("statusCode"), err.get("message"))
    return out


def _bulk(client, sobject: str, ids: list[str], updates: dict, on_job=None, on_abandoned=None) -> dict:
    """One Bulk API 2.0 update job; None becomes '#N/A' (an empty cell would mean 'leave unchanged')."""
    rows = [{"Id": r, **{k: ("#N/A" if v is None else as_text(v)) for k, v in updates[r].items()}} for r in ids]
    columns = sorted({k for row in rows for k in row} - {"Id"})
    # every record of one job must carry the same columns: a missing column is 'leave unchanged' (empty cell)
    records = [{"Id": row["Id"], **{c: row.get(c, "") for c in columns}} for row in rows]
    ok_csv, failed_csv = client.bulk_update(sobject, records, on_job=on_job, on_abandoned=on_abandoned)
    return bulk_answers(ids, ok_csv, failed_csv)


def bulk_answers(ids, ok_csv: str, failed_csv: str) -> dict:
    """{record_id: (ok, error_code, message)} of `ids` from a job's successful and failed results CSV."""
    out = {r: (False, "NOT_PROCESSED", "Bulk API did not report this record") for r in ids}
    for row in csv.DictReader(io.StringIO(ok_csv)):
        out[row["sf__Id"]] = (True, None, None)
    for row in csv.DictReader(io.StringIO(failed_csv)):
        rid = row.get("Id") or row.get("sf__Id")
        code, _, message = (row.get("sf__Error") or "").partition(":")
        out[rid] = (False, code or "BULK_ERROR", BULK_ERROR_FIELDS.sub("", message).strip() or None)
    return out
