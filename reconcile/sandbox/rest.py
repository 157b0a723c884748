"""REST resources: versions, limits, query/queryAll (+ paging), sobjects (describe, GET, PATCH),
sObject Collections update and retrieve, OAuth userinfo."""

import itertools
import re

from . import ids
from .describe import describe_global, describe_object, object_summary
from .query import Runner
from .schema import find_object
from .security import can_read_field, can_read_object, sees_gbu
from .soql import Path, Query, SoqlError
from .web import ApiError, Request, Response, json_response, not_found
from .writes import delete_records, update_records

# Every supported version, as GET /services/data lists them: 31.0 (Summer '14) to this org's latest; 21.0-30.0 were
# retired in Summer '25 and answer 410 GONE ("Salesforce Platform API Versions 21.0 through 30.0 Retirement",
# https://help.salesforce.com/s/articleView?id=000354473&type=1). Three releases a year: Winter, Spring, Summer.
FIRST_SUPPORTED = 31.0
VERSIONS = tuple(
    (f"{('Summer', 'Winter', 'Spring')[i % 3]} '{14 + (i + 2) // 3}", f"{31 + i}.0") for i in range(65 - 31 + 1)
)
LATEST = max(float(v) for _, v in VERSIONS)
ORG_ID = "00D8d0000000SbxEAE"
MAX_CURSORS = 100
_locators = itertools.count(1)


def versions(req: Request) -> Response:
    return json_response([{"label": label, "url": f"/services/data/v{v}", "version": v} for label, v in VERSIONS])


def resources(req: Request) -> Response:
    """GET /services/data/vXX.X: the resources of that version ("Resources by Version",
    https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_discoveryresource.htm);
    only those this org implements, plus `identity`, the Identity URL clients use to find the user."""
    base = f"/services/data/v{req.version}"
    names = ("composite", "jobs", "limits", "query", "queryAll", "sobjects")
    body = {name: f"{base}/{name}" for name in names}
    body["identity"] = identity_url(req)
    return json_response(dict(sorted(body.items())))


def identity_url(req: Request) -> str:
    return f"{req.org.login_url or 'https://login.salesforce.com'}/id/{ORG_ID}/{req.user.user_id}"


def identity(req: Request) -> Response:
    """GET /id/{orgId}/{userId} with the user's token ("Identity URLs",
    https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_using_openid.htm): a subset of the
    documented fields. Another user's Identity URL is refused as Salesforce does (403 Bad_Id)."""
    user = req.user
    if req.match[0] != ORG_ID or req.match[1] not in (user.user_id, user.user_id[:15]):
        return Response(403, b"Bad_Id", "text/plain;charset=UTF-8")
    base = f"{req.org.login_url or 'https://login.salesforce.com'}/services/data/v{{version}}"
    return json_response(
        {
            "id": identity_url(req),
            "asserted_user": True,
            "user_id": user.user_id,
            "organization_id": ORG_ID,
            "username": user.username,
            "nick_name": user.username.split("@")[0],
            "display_name": user.name,
            "email": user.username,
            "active": True,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 0,
            "urls": {
                "rest": base + "/",
                "sobjects": base + "/sobjects/",
                "query": base + "/query/",
                "limits": base + "/limits/",
            },
        }
    )


def limits(req: Request) -> Response:
    org = req.org
    return json_response(
        {
            "DailyApiRequests": {"Max": org.daily_limit, "Remaining": max(org.daily_limit - org.api_used, 0)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
        }
    )


def userinfo(req: Request) -> Response:
    """GET/POST /services/oauth2/userinfo (OpenID Connect; Salesforce help "UserInfo Endpoint",
    https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_using_userinfo_endpoint.htm): a subset
    of the documented fields, for the session's or access token's user."""
    user = req.user
    login_url = req.org.login_url or "https://login.salesforce.com"
    return json_response(
        {
            "sub": f"{login_url}/id/{ORG_ID}/{user.user_id}",
            "user_id": user.user_id,
            "organization_id": ORG_ID,
            "preferred_username": user.username,
            "nickname": user.username.split("@")[0],
            "name": user.name,
            "email": user.username,
            "email_verified": True,
            "active": True,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 0,
        }
    )


# ---- query ------------------------------------------------------------------------------------------------


def query(req: Request) -> Response:
    text = req.params.get("q")
    if not text:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    runner = Runner(req.org, req.user, include_deleted=req.match[0].lower() == "queryall")
    try:
        result = runner.run(text)
    except SoqlError as err:
        raise ApiError(400, err.code, err.message) from err
    if result.count_only:
        return json_response({"totalSize": result.total, "done": True, "records": []})
    if result.aggregate:
        rec = {"attributes": {"type": "AggregateResult"}, "expr0": result.total}
        return json_response({"totalSize": 1, "done": True, "records": [rec]})
    locator = ids.make_id("01g", next(_locators))
    with req.org.lock:
        size = _batch_size(req.headers.get("sforce-query-options", ""), 2000)
        req.org.cursors[locator] = (runner, result, size)
        while len(req.org.cursors) > MAX_CURSORS:
            req.org.cursors.pop(next(iter(req.org.cursors)))
    return _page(req, locator, 0)


def query_more(req: Request) -> Response:
    locator, offset = req.match[1], int(req.match[2])
    cursor = req.org.cursors.get(locator)
    if cursor is None or offset > len(cursor[1].rows):
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return _page(req, locator, offset)


def _page(req: Request, locator: str, offset: int) -> Response:
    runner, result, size = req.org.cursors[locator]
    size = _batch_size(req.headers.get("sforce-query-options", ""), size)  # the cursor keeps its size
    rows = result.rows[offset : offset + size]
    with req.org.lock:
        records = [render_row(runner, result.sobject, result.columns, row, req.version) for row in rows]
    body = {"totalSize": len(result.rows), "done": offset + size >= len(result.rows)}
    if not body["done"]:
        body["nextRecordsUrl"] = f"/services/data/v{req.version}/query/{locator}-{offset + size}"
    body["records"] = records
    return json_response(body)


def _batch_size(option: str, default: int) -> int:
    found = re.search(r"batchSize\s*=\s*(\d+)", option, re.IGNORECASE)
    return min(max(int(found.group(1)), 200), 2000) if found else default


def render_row(runner: Runner, sobject: str, columns: list, row: dict, version: str) -> dict:
    """One REST record: attributes, then the selected fields; parents nest with their own attributes."""
    record = _attributes(sobject, row["Id"], version)
    for col in columns:
        target, current = record, row
        for hop in col.hops:
            rel = hop[0].relationship
            current = runner.parent(current, hop)
            if current is None:
                target.setdefault(rel, None)
                break
            if not isinstance(target.get(rel), dict):
                target[rel] = _attributes(hop[1], current["Id"], version)
            target = target[rel]
        else:
            target[col.leaf.name] = runner.value(row, col)
    return record


def _attributes(sobject: str, record_id: str, version: str) -> dict:
    return {"attributes": {"type": sobject, "url": f"/services/data/v{version}/sobjects/{sobject}/{record_id}"}}


# ---- sobjects --------------------------------------------------------------------------------------------


def _object(req: Request, name: str):
    obj = find_object(name)
    if obj is None or not can_read_object(req.user, obj.name):
        raise not_found()
    return obj


def sobjects(req: Request) -> Response:
    return json_response(describe_global(req.user, req.version))


def sobject_info(req: Request) -> Response:
    obj = _object(req, req.match[0])
    return json_response({"objectDescribe": object_summary(obj, req.user, req.version), "recentItems": []})


def describe(req: Request) -> Response:
    return json_response(describe_object(_object(req, req.match[0]), req.user, req.version))


def get_record(req: Request) -> Response:
    obj = _object(req, req.match[0])
    fields = req.params.get("fields")
    names = [f.strip() for f in fields.split(",")] if fields else None
    records = _retrieve(req, obj, [req.match[1]], names)
    if records[0] is None:
        row = req.org.data[obj.name].get(ids.to18(req.match[1]))
        if row is not None and row.get("IsDeleted") and sees_gbu(req.user, obj.name, row):
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        raise not_found()
    return json_response(records[0])


def patch_record(req: Request) -> Response:
    obj = _object(req, req.match[0])
    values = req.json()
    if not isinstance(values, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object of field values.")
    error = update_records(req.org, req.user, [(obj.name, req.match[1], values)], via="rest")[0]
    if error:
        raise ApiError(error.status, error.code, error.message, error.fields)
    return Response(204, content_type=None)


def delete_record(req: Request) -> Response:
    """DELETE /sobjects/{O}/{id}: 204 No Content ("sObject Rows",
    https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_retrieve.htm)."""
    obj = _object(req, req.match[0])
    if not ids.is_valid(req.match[1], obj.prefix):
        raise not_found()
    error = delete_records(req.org, req.user, [req.match[1]], via="rest")[0]
    if error:
        raise ApiError(error.status, error.code, error.message, error.fields)
    return Response(204, content_type=None)


def _retrieve(req: Request, obj, record_ids: list, names: list | None) -> list:
    """Records by id for the user (None where missing, deleted or invisible)."""
    runner = Runner(req.org, req.user)
    if names is None:
        names = [n for n in obj.fields if can_read_field(req.user, obj.name, n)]
    dummy = Query(obj.name, 0, [], text="")
    try:
        columns = [runner.column(dummy, obj.name, Path(n.split("."), 0)) for n in names]
    except SoqlError as err:
        raise ApiError(400, err.code, err.message) from err
    out = []
    with req.org.lock:
        for rid in record_ids:
            row = req.org.data[obj.name].get(ids.to18(rid)) if ids.is_valid(rid, obj.prefix) else None
            visible = row is not None and not row.get("IsDeleted") and sees_gbu(req.user, obj.name, row)
            out.append(render_row(runner, obj.name, columns, row, req.version) if visible else None)
    return out


# ---- sObject Collections ---------------------------------------------------------------------------------


def collection_update(req: Request) -> Response:
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", 'The request body must be {"allOrNone": …, "records": […]}.')
    records = body["records"]
    if len(records) > 200:
        raise ApiError(
            400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"
        )
    items = [((r.get("attributes") or {}).get("type"), r.get("id") or r.get("Id"), r) for r in records]
    results = update_records(req.org, req.user, items, via="composite", all_or_none=bool(body.get("allOrNone")))
    return json_response([_item(rid, error) for (_, rid, _), error in zip(items, results)])


def collection_delete(req: Request) -> Response:
    """DELETE /composite/sobjects?ids=…&allOrNone=…: up to 200 ids of any objects, one result per id in order
    ("Delete Multiple Records", https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_delete.htm)."""
    record_ids = [i for i in req.params.get("ids", "").split(",") if i]
    if not record_ids:
        raise ApiError(400, "MALFORMED_QUERY", "The 'ids' parameter is required.")
    if len(record_ids) > 200:
        raise ApiError(
            400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"
        )
    all_or_none = req.params.get("allOrNone", "false").lower() == "true"
    results = delete_records(req.org, req.user, record_ids, via="composite", all_or_none=all_or_none)
    return json_response([_item(rid, error) for rid, error in zip(record_ids, results)])


def _item(record_id: str, error) -> dict:
    if error is None:
        return {"id": ids.to18(record_id), "success": True, "errors": []}
    if error.code == "ALL_OR_NONE_OPERATION_ROLLED_BACK":
        return {"id": ids.to18(record_id), "success": False, "errors": [error.item()]}
    return {"success": False, "errors": [error.item()]}


def collection_retrieve(req: Request) -> Response:
    obj = _object(req, req.match[0])
    if req.method == "POST":
        body = req.json() or {}
        record_ids, names = body.get("ids") or [], body.get("fields") or []
    else:
        record_ids = [i for i in req.params.get("ids", "").split(",") if i]
        names = [f for f in req.params.get("fields", "").split(",") if f]
    if not names:
        raise ApiError(400, "MALFORMED_QUERY", "The 'fields' parameter is required.")
    if len(record_ids) > 2000:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 2000 ids")
    return json_response(_retrieve(req, obj, record_ids, names))
