"""Wire fidelity: the sandbox org driven with raw HTTP (httpx, requests, a bare TLS socket), each answer compared
with the status code and body shape Salesforce documents. The simple-salesforce view is tests/test_sandbox.py."""

import gzip
import socket
import ssl
import zlib

import httpx
import pytest
import requests

from reconcile.sandbox import start_sandbox
from reconcile.sandbox.describe import GLOBAL_KEYS
from reconcile.sandbox.ids import make_id
from reconcile.sandbox.schema import LEAD_STATUSES

V = "/services/data/v59.0"
STANDARD_FIELDS = {
    "Id",
    "Name",
    "OwnerId",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "IsDeleted",
}
LEADS = [make_id("00Q", 800000 + n) for n in range(7)]
CAMPAIGN, MEMBER = make_id("701", 800100), make_id("00v", 800101)


@pytest.fixture
def org():
    handle = start_sandbox()
    emails = ["a_b@x.test", "aab@x.test", "aZb@x.test", "b@x.test", None, "Ab@x.test", "c@x.test"]
    statuses = [
        "Closed - Converted",
        "Open - Not Contacted",
        "Working - Contacted",
        "Nurturing",
        "Unqualified",
        "Closed - Not Converted",
        "Open - Not Contacted",
    ]
    handle.org.insert(
        "Lead",
        [
            {
                "Id": i,
                "Email": e,
                "Status": s,
                "FirstName": "Ada" if n == 0 else None,
                "LastName": f"L{n}",
                "Company": "Wire",
            }
            for n, (i, e, s) in enumerate(zip(LEADS, emails, statuses))
        ],
    )
    handle.org.insert("Campaign", [{"Id": CAMPAIGN, "Name": "Spring"}])
    handle.org.insert("CampaignMember", [{"Id": MEMBER, "CampaignId": CAMPAIGN, "LeadId": LEADS[0]}])
    yield handle
    handle.stop()


def http(handle, token=None, **headers) -> httpx.Client:
    """A plain httpx client (not simple-salesforce) with the org's CA and a bearer token."""
    headers.setdefault("Authorization", f"Bearer {token or handle.session_id}")
    return httpx.Client(
        base_url=handle.instance_url,
        verify=ssl.create_default_context(cafile=handle.ca_bundle),
        trust_env=False,
        headers=headers,
    )


def soql(client, text, resource="query"):
    return client.get(f"{V}/{resource}", params={"q": text})


def error_of(response) -> str:
    body = response.json()
    assert isinstance(body, list) and set(body[0]) >= {"message", "errorCode"}  # Salesforce's error array
    return body[0]["errorCode"]


# ---- HTTP/1.1 transport ---------------------------------------------------------------------------------


def _upload_job(client) -> str:
    job = client.post(f"{V}/jobs/ingest", json={"object": "Lead", "operation": "update"})
    assert job.status_code == 200
    return job.json()["id"]


def test_chunked_bulk_upload_is_read_whole_and_the_connection_stays_usable(org):
    admin = http(org, org.admin_session_id)
    job = _upload_job(admin)

    def csv_stream():
        yield b"Id,Company\n"
        for lead in LEADS[:3]:
            yield f"{lead},Streamed\n".encode()

    upload = admin.put(f"{V}/jobs/ingest/{job}/batches", content=csv_stream(), headers={"Content-Type": "text/csv"})
    assert upload.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in upload.request.headers
    assert upload.status_code == 201
    assert admin.patch(f"{V}/jobs/ingest/{job}", json={"state": "UploadComplete"}).status_code == 200
    info = admin.get(f"{V}/jobs/ingest/{job}").json()  # same keep-alive connection, not corrupted
    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == ("JobComplete", 3, 0)
    assert [org.org.get("Lead", i)["Company"] for i in LEADS[:4]] == ["Streamed"] * 3 + ["Wire"]


def _tls_socket(handle):
    context = ssl.create_default_context(cafile=handle.ca_bundle)
    raw = socket.create_connection(("127.0.0.1", handle.port), timeout=10)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def _read_response(sock) -> tuple:
    """(status line, headers dict, body) of one Content-Length framed response."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", 0))
    while len(rest) < length:
        rest += sock.recv(65536)
    return lines[0], headers, rest[:length], rest[length:]


def test_expect_100_continue_then_chunked_body_then_keep_alive_on_a_bare_socket(org):
    job = _upload_job(http(org, org.admin_session_id))
    body = f"Id,Company\n{LEADS[0]},Raw\n".encode()
    with _tls_socket(org) as sock:
        sock.sendall(
            (
                f"PUT {V}/jobs/ingest/{job}/batches HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {org.admin_session_id}\r\nContent-Type: text/csv\r\n"
                "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
            ).encode()
        )
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 ")  # the server asks for the body before answering
        half = len(body) // 2
        for part in (body[:half], body[half:]):
            sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        status, headers, _, leftover = _read_response(sock)
        assert status.startswith("HTTP/1.1 201") and leftover == b""
        sock.sendall(
            (
                f"GET {V}/jobs/ingest/{job} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {org.admin_session_id}\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        status, headers, payload, _ = _read_response(sock)
        assert status.startswith("HTTP/1.1 200") and headers["connection"] == "close"
        assert b'"state" : "Open"' in payload or b'"state":"Open"' in payload


@pytest.mark.parametrize("encoding, compress", [("gzip", gzip.compress), ("deflate", zlib.compress)])
def test_compressed_request_bodies_are_decompressed(org, encoding, compress):
    # "Compression Headers": https://developer.salesforce.com/docs/platform/api-rest/guide/intro-rest-compression.html
    admin = http(org, org.admin_session_id)
    answer = admin.patch(
        f"{V}/sobjects/Lead/{LEADS[1]}",
        content=compress(b'{"Company": "Packed"}'),
        headers={"Content-Type": "application/json", "Content-Encoding": encoding},
    )
    assert answer.status_code == 204 and answer.content == b""
    assert org.org.get("Lead", LEADS[1])["Company"] == "Packed"


def test_unknown_content_encoding_is_refused(org):
    answer = http(org, org.admin_session_id).patch(
        f"{V}/sobjects/Lead/{LEADS[1]}", content=b"xx", headers={"Content-Encoding": "br"}
    )
    assert answer.status_code == 415 and error_of(answer) == "UNSUPPORTED_MEDIA_TYPE"
    assert org.org.get("Lead", LEADS[1])["Company"] == "Wire"


@pytest.mark.parametrize(
    "accept, coding",
    [("gzip", "gzip"), ("gzip, deflate", "gzip"), ("deflate", "deflate"), ("identity", None), ("gzip;q=0", None)],
)
def test_responses_are_compressed_only_when_accepted_with_a_matching_content_length(org, accept, coding):
    with http(org, **{"Accept-Encoding": accept}) as client:
        with client.stream("GET", f"{V}/sobjects/Lead/describe") as answer:
            raw = b"".join(answer.iter_raw())
            assert answer.headers.get("content-encoding") == coding
            assert int(answer.headers["content-length"]) == len(raw)
    plain = {"gzip": gzip.decompress, "deflate": zlib.decompress, None: bytes}[coding](raw)
    assert plain.startswith(b"{") and b'"name" : "Lead"' in plain


def test_no_content_answers_carry_no_body_or_length(org):
    answer = requests.patch(
        f"{org.instance_url}{V}/sobjects/Lead/{LEADS[1]}",
        json={"Company": "X"},
        headers={"Authorization": f"Bearer {org.admin_session_id}"},
        verify=org.ca_bundle,
    )
    assert answer.status_code == 204 and answer.content == b""
    assert "content-length" not in answer.headers and "content-type" not in answer.headers


# ---- discovery ------------------------------------------------------------------------------------------


def test_resources_by_version_list_what_the_org_serves_and_the_identity_url(org):
    # "Resources by Version": https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_discoveryresource.htm
    client = http(org)
    answer = client.get(V)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json;charset=UTF-8"
    body = answer.json()
    assert {"sobjects", "query", "queryAll", "limits", "composite", "jobs", "identity"} <= set(body)
    assert (
        body["sobjects"] == f"{V}/sobjects"
        and client.get(body["query"], params={"q": "SELECT Id FROM Lead"}).is_success
    )
    who = client.get(body["identity"])
    assert who.status_code == 200
    assert (who.json()["user_id"], who.json()["username"]) == (org.org.user("integration").user_id, org.username)
    assert client.get(body["identity"].replace(who.json()["user_id"], org.org.user("admin").user_id)).status_code == 403


def test_resources_need_a_session_and_an_existing_version(org):
    assert http(org, "nope").get(V).status_code == 401
    assert error_of(http(org, "nope").get(V)) == "INVALID_SESSION_ID"
    future = http(org).get("/services/data/v99.0/sobjects")
    assert future.status_code == 404 and error_of(future) == "NOT_FOUND"


@pytest.mark.parametrize(
    "header, status",
    [
        ("Bearer {sid}", 200),
        ("bearer {sid}", 200),  # the auth scheme is case-insensitive (RFC 7235 §2.1)
        ("OAuth {sid}", 200),  # the older form of Salesforce's REST examples
        ("Basic {sid}", 401),
        ("{sid}", 401),
        ("Bearer", 401),
    ],
)
def test_the_session_is_read_from_the_authorization_header_as_clients_send_it(org, header, status):
    # only "Bearer " exactly was read: a client sending "OAuth <sid>" or "bearer <sid>" got 401 (found by a wire audit)
    answer = http(org, Authorization=header.format(sid=org.session_id)).get(V)
    assert answer.status_code == status
    if status == 401:
        assert error_of(answer) == "INVALID_SESSION_ID"


def test_an_unknown_resource_of_an_existing_version_needs_a_session_first(org):
    # the version's resources are behind the session check: a bad token is INVALID_SESSION_ID whatever the path
    for path in (f"{V}/nope", f"{V}/sobjects/Lead/describe/nope"):
        answer = http(org, "nope").get(path)
        assert answer.status_code == 401 and error_of(answer) == "INVALID_SESSION_ID"
    assert http(org, "nope").get("/nope").status_code == 404  # no resource outside /services at all


@pytest.mark.parametrize(
    "method, path, status, code, allowed",
    [
        ("GET", f"{V}/nope", 404, "NOT_FOUND", None),
        ("POST", f"{V}/limits", 405, "METHOD_NOT_ALLOWED", "GET,HEAD"),
        ("POST", f"{V}/sobjects/Lead/{LEADS[0]}", 405, "METHOD_NOT_ALLOWED", "DELETE,GET,HEAD,PATCH"),
        ("PUT", f"{V}/query", 405, "METHOD_NOT_ALLOWED", "GET,HEAD"),
    ],
)
def test_unknown_resources_and_methods_are_salesforce_errors_and_count_as_api_calls(
    org, method, path, status, code, allowed
):
    # "Status Codes and Error Responses": https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
    # "API Usage" header on every REST answer: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm
    answer = http(org).request(method, path)
    assert answer.status_code == status and error_of(answer) == code
    assert answer.headers["content-type"] == "application/json;charset=UTF-8"
    assert answer.headers["sforce-limit-info"] == f"api-usage={org.org.api_used}/{org.org.daily_limit}"
    if allowed:
        assert answer.json()[0]["message"] == f"HTTP Method '{method}' not allowed. Allowed are {allowed}"


@pytest.mark.parametrize(
    "path, accept",
    [
        (f"{V}/limits", "identity"),
        (f"{V}/sobjects/Lead/describe", "gzip"),
        (f"{V}/sobjects/Lead/{LEADS[0]}", "identity"),
    ],
)
def test_head_answers_the_headers_of_the_get_without_its_body(org, path, accept):
    # HEAD "retrieves resource metadata" with the headers a GET would send (the resources list GET and HEAD):
    #   https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_rest_resources.htm
    client = http(org, **{"Accept-Encoding": accept})
    got, head = client.get(path), client.head(path)
    assert (head.status_code, head.content) == (200, b"")
    for name in ("content-type", "content-length", "content-encoding"):
        assert head.headers.get(name) == got.headers.get(name)
    assert head.headers["sforce-limit-info"].startswith("api-usage=")


# ---- SOQL -----------------------------------------------------------------------------------------------


def test_count_is_capped_by_limit(org):
    client = http(org)
    assert soql(client, "SELECT COUNT() FROM Lead").json() == {"totalSize": 7, "done": True, "records": []}
    assert soql(client, "SELECT COUNT() FROM Lead LIMIT 5").json()["totalSize"] == 5
    assert soql(client, "SELECT COUNT() FROM Lead LIMIT 5 OFFSET 4").json()["totalSize"] == 3


def test_count_of_a_field_counts_non_null_values(org):
    body = soql(http(org), "SELECT COUNT(Email) FROM Lead").json()
    assert body["totalSize"] == 1 and body["records"][0]["expr0"] == 6
    assert body["records"][0]["attributes"] == {"type": "AggregateResult"}


@pytest.mark.parametrize(
    "text",
    [
        "SELECT COUNT() FROM Lead ORDER BY Email",
        "SELECT COUNT(Id) FROM Lead LIMIT 5",
        "SELECT COUNT(Id) FROM Lead ORDER BY Email",
        "SELECT COUNT(), Id FROM Lead",
        "SELECT Email, COUNT(Id) FROM Lead",
    ],
)
def test_aggregates_without_group_by_reject_what_salesforce_rejects(org, text):
    answer = soql(http(org), text)
    assert answer.status_code == 400 and error_of(answer) == "MALFORMED_QUERY"
    assert "ERROR at Row:1:Column:" in answer.json()[0]["message"]


def test_picklists_sort_by_their_defined_order(org):
    rows = soql(http(org), "SELECT Status FROM Lead ORDER BY Status, Id").json()["records"]
    statuses = [r["Status"] for r in rows]
    assert statuses == sorted(statuses, key=LEAD_STATUSES.index)
    assert statuses[0] == "Open - Not Contacted" and statuses != sorted(statuses)  # not alphabetical
    desc = [r["Status"] for r in soql(http(org), "SELECT Status FROM Lead ORDER BY Status DESC").json()["records"]]
    assert desc == sorted(statuses, key=LEAD_STATUSES.index, reverse=True)


def test_text_sorts_by_upper_case_collation_nulls_first(org):
    # English locales: "SOQL uses the UTF-8 values of the uppercase character" (SOQL "ORDER BY")
    rows = soql(http(org), "SELECT Email FROM Lead ORDER BY Email").json()["records"]
    assert [r["Email"] for r in rows] == [
        None,
        "aab@x.test",
        "Ab@x.test",
        "aZb@x.test",
        "a_b@x.test",
        "b@x.test",
        "c@x.test",
    ]
    rows = soql(http(org), "SELECT Email FROM Lead ORDER BY Email DESC NULLS LAST").json()["records"]
    assert [r["Email"] for r in rows][:2] == ["c@x.test", "b@x.test"] and rows[-1]["Email"] is None


# ---- describe -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["session_id", "admin_session_id", "overprivileged_session_id"])
def test_describe_global_entries_carry_every_documented_flag(org, who):
    client = http(org, getattr(org, who))
    entries = client.get(f"{V}/sobjects").json()["sobjects"]
    assert entries and all(list(e) == list(GLOBAL_KEYS) + ["urls"] for e in entries)
    lead = next(e for e in entries if e["name"] == "Lead")
    full = client.get(f"{V}/sobjects/Lead/describe").json()
    assert {k: lead[k] for k in GLOBAL_KEYS} == {k: full[k] for k in GLOBAL_KEYS}
    assert lead["deletable"] is (who != "session_id")  # only Modify All Data deletes, by default
    assert all(isinstance(lead[k], bool) for k in ("retrieveable", "searchable", "layoutable", "deletable"))


@pytest.mark.parametrize("who", ["session_id", "admin_session_id"])
def test_standard_fields_are_described_queried_and_retrieved_for_every_user(org, who):
    client = http(org, getattr(org, who))
    described = {f["name"]: f for f in client.get(f"{V}/sobjects/Lead/describe").json()["fields"]}
    assert STANDARD_FIELDS <= set(described)
    assert described["OwnerId"]["referenceTo"] == ["User"] and described["OwnerId"]["relationshipName"] == "Owner"
    assert described["CreatedById"]["relationshipName"] == "CreatedBy" and not described["CreatedById"]["updateable"]
    assert described["Name"]["nameField"] and not described["Name"]["updateable"]
    fields = ", ".join(sorted(STANDARD_FIELDS))
    row = soql(client, f"SELECT {fields}, Owner.Name FROM Lead WHERE Id = '{LEADS[0]}'").json()["records"][0]
    admin_id = org.org.user("admin").user_id
    assert (row["Name"], row["OwnerId"], row["CreatedById"], row["IsDeleted"]) == ("Ada L0", admin_id, admin_id, False)
    assert row["Owner"]["Name"] == "Sandbox Admin"
    retrieved = client.get(f"{V}/sobjects/Lead/{LEADS[1]}").json()
    assert STANDARD_FIELDS <= set(retrieved) and retrieved["Name"] == "L1"
    member = {f["name"] for f in client.get(f"{V}/sobjects/CampaignMember/describe").json()["fields"]}
    assert STANDARD_FIELDS - {"Name", "OwnerId"} <= member  # CampaignMember has no owner


# ---- delete, IsDeleted, queryAll ------------------------------------------------------------------------


def test_admin_deletes_a_record_which_only_query_all_still_returns(org):
    admin = http(org, org.admin_session_id)
    answer = admin.delete(f"{V}/sobjects/Lead/{LEADS[0]}")
    assert answer.status_code == 204 and answer.content == b""
    gone = admin.get(f"{V}/sobjects/Lead/{LEADS[0]}")
    assert gone.status_code == 404 and error_of(gone) == "ENTITY_IS_DELETED"
    again = admin.delete(f"{V}/sobjects/Lead/{LEADS[0]}")
    assert again.status_code == 404 and error_of(again) == "ENTITY_IS_DELETED"
    assert LEADS[0] not in {r["Id"] for r in soql(admin, "SELECT Id FROM Lead").json()["records"]}
    deleted = soql(admin, "SELECT Id, IsDeleted FROM Lead WHERE IsDeleted = true", "queryAll").json()["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in deleted] == [(LEADS[0], True)]
    members = soql(admin, "SELECT Id, IsDeleted FROM CampaignMember", "queryAll").json()["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in members] == [(MEMBER, True)]  # cascadeDelete
    assert soql(admin, "SELECT COUNT() FROM CampaignMember").json()["totalSize"] == 0


def test_the_integration_user_may_not_delete(org):
    answer = http(org).delete(f"{V}/sobjects/Lead/{LEADS[0]}")
    assert answer.status_code in (400, 403) and error_of(answer) == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert org.org.get("Lead", LEADS[0])["IsDeleted"] is False
    missing = http(org, org.admin_session_id).delete(f"{V}/sobjects/Lead/{make_id('00Q', 1)}")
    assert missing.status_code == 404 and error_of(missing) == "NOT_FOUND"


def test_collection_delete_answers_one_result_per_id_in_order(org):
    # "Delete Multiple Records": https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_delete.htm
    admin = http(org, org.admin_session_id)
    ids = f"{LEADS[1]},00Qnotanid,{LEADS[2]}"
    rolled = admin.delete(f"{V}/composite/sobjects", params={"ids": ids, "allOrNone": "true"}).json()
    assert [r["success"] for r in rolled] == [False, False, False]
    assert rolled[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert org.org.get("Lead", LEADS[1])["IsDeleted"] is False
    answer = admin.delete(f"{V}/composite/sobjects", params={"ids": ids})
    assert answer.status_code == 200
    assert answer.json() == [
        {"id": LEADS[1], "success": True, "errors": []},
        {
            "success": False,
            "errors": [{"statusCode": "MALFORMED_ID", "message": "malformed id 00Qnotanid", "fields": []}],
        },
        {"id": LEADS[2], "success": True, "errors": []},
    ]
    assert soql(admin, "SELECT COUNT() FROM Lead WHERE IsDeleted = true", "queryAll").json()["totalSize"] == 2


def test_simple_salesforce_deletes_and_reads_deleted_rows_back(org):
    from simple_salesforce import Salesforce

    session = requests.Session()
    session.verify, session.trust_env = org.ca_bundle, False
    sf = Salesforce(instance_url=org.instance_url, session_id=org.admin_session_id, session=session)
    assert sf.Lead.delete(LEADS[3]) == 204
    rows = sf.query_all(f"SELECT Id, IsDeleted FROM Lead WHERE Id = '{LEADS[3]}'", include_deleted=True)["records"]
    assert [r["IsDeleted"] for r in rows] == [True]
    assert sf.query_all(f"SELECT Id FROM Lead WHERE Id = '{LEADS[3]}'")["totalSize"] == 0


def test_a_collection_record_without_its_type_fails_alone_with_invalid_type(org):
    # each record of an sObject Collections update needs attributes.type (salesforce_api.md §5); the error named
    # "sObject type 'None'", Python's word for the missing type (found by a wire audit)
    answer = http(org).patch(
        f"{V}/composite/sobjects",
        json={
            "allOrNone": False,
            "records": [
                {"id": LEADS[3], "Industry": "Retail"},
                {"attributes": {"type": "Lead"}, "id": LEADS[4], "Industry": "Retail"},
            ],
        },
    )
    assert answer.status_code == 200
    first, second = answer.json()
    assert first["success"] is False and first["errors"] == [
        {"statusCode": "INVALID_TYPE", "message": "Must send a concrete entity type.", "fields": []}
    ]
    assert second["success"] is True
