"""Bulk API 2.0: ingest jobs (update) and query jobs, processed synchronously.

Ingest: create (Open) → PUT CSV to /batches (201) → PATCH UploadComplete (processed at once; the next
GET shows JobComplete or Failed — or, with the fault `bulk_processing_polls` N, InProgress to N GETs and processed
at the next, as a real org runs it later) | Aborted. Empty cell = leave unchanged, `#N/A` = set null.
Query: create (UploadComplete, evaluated at once) → GET shows JobComplete → results pages as CSV with
`Sforce-NumberOfRecords` and `Sforce-Locator` (`null` on the last page).
"""

import base64
import csv
import io
from dataclasses import replace

from . import ids
from .query import Runner
from .schema import find_object
from .security import can_read_field, can_read_object
from .soql import SoqlError
from .state import now_sf
from .web import CSV_TYPE, ApiError, Request, Response, json_response, not_found
from .writes import update_records

_INGEST_KEYS = (
    "id",
    "operation",
    "object",
    "createdById",
    "createdDate",
    "systemModstamp",
    "state",
    "errorMessage",
    "concurrencyMode",
    "contentType",
    "apiVersion",
    "jobType",
    "contentUrl",
    "lineEnding",
    "columnDelimiter",
)
_COUNT_KEYS = (
    "numberRecordsProcessed",
    "numberRecordsFailed",
    "retries",
    "totalProcessingTime",
    "apiActiveProcessingTime",
    "apexProcessingTime",
)


def _job_id(org) -> str:
    with org.lock:
        org.id_seq += 1
        return ids.make_id("750", org.id_seq)


def _new_info(req: Request, job_id: str, body: dict, obj_name: str) -> dict:
    stamp = now_sf()
    return {
        "id": job_id,
        "operation": body.get("operation"),
        "object": obj_name,
        "createdById": req.user.user_id,
        "createdDate": stamp,
        "systemModstamp": stamp,
        "concurrencyMode": "Parallel",
        "contentType": "CSV",
        "apiVersion": float(req.version),
        "lineEnding": body.get("lineEnding", "LF"),
        "columnDelimiter": body.get("columnDelimiter", "COMMA"),
    }


def _job(req: Request, kind: str) -> dict:
    job = req.org.jobs.get(req.match[0])
    if job is None or job["kind"] != kind:
        raise not_found()
    return job


def _info_view(job: dict, full: bool) -> dict:
    info = job["info"]
    out = {k: info[k] for k in _INGEST_KEYS if k in info}
    if full:
        out.update({k: info.get(k, 0) for k in _COUNT_KEYS if k in info or job["kind"] == "ingest"})
    return out


def list_jobs(req: Request) -> Response:
    kind = "query" if "/jobs/query" in req.path else "ingest"
    infos = [_info_view(j, False) for j in req.org.jobs.values() if j["kind"] == kind]
    return json_response({"done": True, "records": infos, "nextRecordsUrl": None})


# ---- ingest ------------------------------------------------------------------------------------------------


def create_ingest(req: Request) -> Response:
    body = req.json() or {}
    if body.get("operation") != "update":
        raise ApiError(
            400,
            "INVALIDJOB",
            f"Operation '{body.get('operation')}' is not supported by the sandbox org; only 'update' is.",
        )
    obj = find_object(body.get("object") or "")
    if obj is None or obj.setup or not can_read_object(req.user, obj.name):
        raise ApiError(400, "INVALIDJOB", f"Unable to find object: {body.get('object')}")
    job_id = _job_id(req.org)
    info = _new_info(req, job_id, body, obj.name)
    info.update({"state": "Open", "contentUrl": f"services/data/v{req.version}/jobs/ingest/{job_id}/batches"})
    with req.org.lock:
        req.org.jobs[job_id] = {
            "kind": "ingest",
            "info": info,
            "user": req.user.key,
            "csv": None,
            "header": "",
            "success": [],
            "failed": [],
            "unprocessed": [],
        }
    return json_response(_info_view(req.org.jobs[job_id], False))


def upload(req: Request) -> Response:
    job = _job(req, "ingest")
    if job["info"]["state"] != "Open" or job["csv"] is not None:
        raise ApiError(400, "INVALIDJOBSTATE", f"Job '{job['info']['id']}' is not open for uploads.")
    job["csv"] = req.body.decode("utf-8-sig")
    return Response(201, content_type=None)


def set_ingest_state(req: Request) -> Response:
    job = _job(req, "ingest")
    state = (req.json() or {}).get("state")
    info = job["info"]
    if state == "UploadComplete" and info["state"] == "Open":
        info["state"] = "UploadComplete"
        reply = _info_view(job, False)
        if req.org.faults.bulk_processing_polls > 0:
            job["polls_left"] = req.org.faults.bulk_processing_polls  # run later, at a poll (get_job)
        else:
            _process(req, job)
    elif state == "Aborted" and info["state"] in ("Open", "UploadComplete", "InProgress"):
        info["state"] = "Aborted"
        job["unprocessed"] = _parse(job["csv"] or "")[1]
        reply = _info_view(job, False)
    else:
        raise ApiError(400, "INVALIDJOBSTATE", f"Cannot move job '{info['id']}' from {info['state']} to {state}.")
    info["systemModstamp"] = now_sf()
    info.pop("contentUrl", None)
    info["jobType"] = "V2Ingest"
    return json_response(reply)


def _parse(text: str) -> tuple:
    rows = list(csv.reader(io.StringIO(text)))
    return (rows[0] if rows else []), [r for r in rows[1:] if r]


def _process(req: Request, job: dict) -> None:
    info, text = job["info"], job["csv"]
    header, rows = _parse(text or "")
    job["header"] = (text or "").split("\n", 1)[0].rstrip("\r")
    info.update({k: 0 for k in _COUNT_KEYS})
    names, problem = _resolve_header(req, info["object"], header)
    if text is None or problem:
        info.update({"state": "Failed", "errorMessage": problem or "InvalidBatch : No data uploaded"})
        job["unprocessed"] = rows
        return
    id_at = [n.lower() for n in names].index("id")
    items = []
    for row in rows:
        cells = (row + [""] * len(header))[: len(header)]
        values = {n: (None if c == "#N/A" else c) for n, c in zip(names, cells) if c != "" and n != "Id"}
        items.append((info["object"], cells[id_at], values))
    results = update_records(req.org, req.user, items, via="bulk")
    for (_, rid, _), row, err in zip(items, rows, results):
        if err is None:
            job["success"].append([ids.to18(rid), "false"] + row)
        else:
            fields = f"{','.join(err.fields)} --" if err.fields else "--"
            job["failed"].append([rid, f"{err.code}:{err.message}:{fields}"] + row)
    info.update(
        {"state": "JobComplete", "numberRecordsProcessed": len(rows), "numberRecordsFailed": len(job["failed"])}
    )


def _resolve_header(req: Request, sobject: str, header: list) -> tuple:
    names = []
    for cell in header:
        fdef = find_object(sobject).field(cell.strip())
        if fdef is None or not can_read_field(req.user, sobject, fdef.name):
            return [], f"InvalidBatch : Field name not found : {cell}"
        names.append(fdef.name)
    if "Id" not in names:
        return [], "InvalidBatch : Field Id must be specified in the update operation"
    return names, None


def results(req: Request) -> Response:
    job = _job(req, "ingest")
    kind = req.match[1].lower()
    if kind == "unprocessedrecords":
        return _csv(job["header"] + "\n" + _quoted(job["unprocessed"]) if job["header"] else "")
    first = '"sf__Id","sf__Created"' if kind == "successfulresults" else '"sf__Id","sf__Error"'
    rows = job["success"] if kind == "successfulresults" else job["failed"]
    header = first + ("," + job["header"] if job["header"] else "")
    return _csv(header + "\n" + _quoted(rows))


def delete_job(req: Request) -> Response:
    kind = "query" if "/jobs/query/" in req.path else "ingest"
    _job(req, kind)
    with req.org.lock:
        req.org.jobs.pop(req.match[0])
    return Response(204, content_type=None)


def _quoted(rows: list) -> str:
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _csv(text: str, headers: dict | None = None) -> Response:
    return Response(200, text.encode("utf-8"), CSV_TYPE, headers or {})


# ---- query -------------------------------------------------------------------------------------------------


def create_query(req: Request) -> Response:
    body = req.json() or {}
    operation = body.get("operation", "query")
    if operation not in ("query", "queryAll") or not body.get("query"):
        raise ApiError(400, "INVALIDJOB", "A query job needs 'operation' query|queryAll and a 'query'.")
    runner = Runner(req.org, req.user, include_deleted=operation == "queryAll")
    try:
        result = runner.run(body["query"])
    except SoqlError as err:
        raise ApiError(400, err.code, err.message) from err
    if result.count_only or result.aggregate:
        raise ApiError(400, "INVALIDJOB", "Aggregate queries are not supported by Bulk API 2.0.")
    job_id = _job_id(req.org)
    info = _new_info(req, job_id, body, result.sobject)
    info["state"] = "UploadComplete"
    job = {"kind": "query", "info": info, "user": req.user.key, "runner": runner, "result": result}
    req.org.jobs[job_id] = job
    reply = _info_view(job, False)
    info.update(
        {
            "state": "JobComplete",
            "jobType": "V2Query",
            "numberRecordsProcessed": len(result.rows),
            "retries": 0,
            "totalProcessingTime": 0,
        }
    )
    return json_response(reply)


def get_job(req: Request) -> Response:
    kind = "query" if "/jobs/query/" in req.path else "ingest"
    job = _job(req, kind)
    if kind == "ingest" and job["info"]["state"] in ("UploadComplete", "InProgress"):
        if job.get("polls_left", 0) > 0:
            job["polls_left"] -= 1
            job["info"]["state"] = "InProgress"
        else:  # the held job runs now, as the user who created it
            _process(replace(req, user=req.org.user(job["user"])), job)
        job["info"]["systemModstamp"] = now_sf()
        req.org.save()
    return json_response(_info_view(job, True))


def query_results(req: Request) -> Response:
    job = _job(req, "query")
    runner, result = job["runner"], job["result"]
    size = max(int(req.params.get("maxRecords") or 50000), 1)
    offset = _unlocate(req.params.get("locator"))
    rows = result.rows[offset : offset + size]
    with req.org.lock:
        cells = [[_cell(runner.value(row, col)) for col in result.columns] for row in rows]
    text = _quoted([[c.label for c in result.columns]]) + _quoted(cells)
    more = offset + size < len(result.rows)
    locator = base64.b64encode(str(offset + size).encode()).decode().rstrip("=") if more else "null"
    return _csv(text, {"Sforce-NumberOfRecords": str(len(rows)), "Sforce-Locator": locator})


def _unlocate(locator: str | None) -> int:
    if not locator or locator == "null":
        return 0
    try:
        return int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode())
    except ValueError as err:
        raise ApiError(400, "INVALIDLOCATOR", f"Invalid locator '{locator}'.") from err


def _cell(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
