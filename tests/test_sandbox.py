"""The sandbox org, exercised through unmodified simple-salesforce over real HTTPS."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from reconcile.sandbox import start_sandbox
from reconcile.sandbox.ids import make_id

SF_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


def client(handle, session_id=None) -> Salesforce:
    session = requests.Session()
    session.verify = handle.ca_bundle
    session.trust_env = False  # this machine sets REQUESTS_CA_BUNDLE (reference §1.3)
    return Salesforce(instance_url=handle.instance_url, session_id=session_id or handle.session_id, session=session)


def error_code(exc_info) -> str:
    return exc_info.value.content[0]["errorCode"]


LEAD = make_id("00Q", 900001)
BLANK_CO = make_id("00Q", 900002)
CONVERTED = make_id("00Q", 900003)
AROMA = make_id("00Q", 900004)
DELETED = make_id("00Q", 900005)
CONTACT = make_id("003", 900006)
CAMPAIGN = make_id("701", 900007)
MEMBER = make_id("00v", 900008)


def seed(org):
    org.insert(
        "Lead",
        [
            {
                "Id": LEAD,
                "Email": "ada@acme.test",
                "LastName": "Lovelace",
                "Company": "Acme",
                "GBU__c": "Specialty Polymers",
            },
            {"Id": BLANK_CO, "Email": "bob@blank.test", "LastName": "Blank", "Company": None, "GBU__c": "Novecare"},
            {
                "Id": CONVERTED,
                "Email": "cy@conv.test",
                "LastName": "Conv",
                "Company": "C",
                "IsConverted": True,
                "GBU__c": "Specialty Polymers",
            },
            {
                "Id": AROMA,
                "Email": "lu@aroma.test",
                "LastName": "Lu",
                "Company": "L",
                "GBU__c": "Aroma Performance",
                "pi__pardot_hard_bounced__c": True,
            },
            {"Id": DELETED, "Email": "del@x.test", "LastName": "Del", "Company": "D", "IsDeleted": True},
        ],
    )
    org.insert("Contact", [{"Id": CONTACT, "Email": "ADA@acme.test", "LastName": "Lovelace"}])
    org.insert("Campaign", [{"Id": CAMPAIGN, "Name": "Spring", "GBU__c": "Specialty Polymers", "IsActive": True}])
    org.insert("CampaignMember", [{"Id": MEMBER, "CampaignId": CAMPAIGN, "LeadId": LEAD, "Status": "Sent"}])


@pytest.fixture
def org_handle():
    handle = start_sandbox()
    seed(handle.org)
    yield handle
    handle.stop()


@pytest.fixture
def sf(org_handle):
    return client(org_handle)


@pytest.fixture
def admin(org_handle):
    return client(org_handle, org_handle.admin_session_id)


@pytest.fixture
def legacy(org_handle):
    return client(org_handle, org_handle.overprivileged_session_id)


# ---- query ------------------------------------------------------------------------------------------


def test_query_all_pages_2000_at_a_time(org_handle, sf):
    org_handle.org.insert("Lead", [{"LastName": f"L{i}", "Company": "Bulk", "GBU__c": "Novecare"} for i in range(4500)])
    before = len(org_handle.org.request_log)
    result = sf.query_all("SELECT Id, LastName FROM Lead WHERE Company = 'bulk'")
    queries = [r for r in org_handle.org.request_log[before:] if "/query" in r["path"]]
    assert result["totalSize"] == 4500
    assert len({r["Id"] for r in result["records"]}) == 4500
    assert len(queries) == 3
    assert queries[1]["path"].startswith("/services/data/v59.0/query/01g")


def test_query_batch_size_header_and_next_records_url(org_handle, sf):
    org_handle.org.insert("Lead", [{"LastName": f"L{i}", "Company": "Bulk"} for i in range(450)])
    first = sf.query("SELECT Id FROM Lead WHERE Company = 'Bulk'", headers={"Sforce-Query-Options": "batchSize=200"})
    assert (first["totalSize"], first["done"], len(first["records"])) == (450, False, 200)
    assert re.fullmatch(r"/services/data/v59.0/query/01g\w+-200", first["nextRecordsUrl"])
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 200 and second["nextRecordsUrl"].endswith("-400")


def test_query_filters_relationships_and_formulas(sf):
    rows = sf.query(
        "SELECT Id, Email, overall_hard_bounced__c, Cold_Lead_Eligible__c FROM Lead "
        "WHERE (Email LIKE '%@acme.test' OR GBU__c IN ('aroma performance')) AND Email != null "
        "ORDER BY Email DESC"
    )["records"]
    assert [r["Email"] for r in rows] == ["lu@aroma.test", "ada@acme.test"]
    assert rows[0]["overall_hard_bounced__c"] is True and rows[0]["Cold_Lead_Eligible__c"] is False
    assert rows[1]["Cold_Lead_Eligible__c"] is False  # a Contact has the same email (other case)
    semi = sf.query(
        f"SELECT Id FROM Lead WHERE Id IN (SELECT LeadId FROM CampaignMember "
        f"WHERE CampaignId = '{CAMPAIGN[:15]}') AND IsConverted = false"
    )
    assert [r["Id"] for r in semi["records"]] == [LEAD]
    member = sf.query("SELECT Id, Lead.Email, Campaign.Name FROM CampaignMember")["records"][0]
    assert member["Lead"]["Email"] == "ada@acme.test" and member["Campaign"]["Name"] == "Spring"
    assert member["Lead"]["attributes"]["type"] == "Lead"
    assert sf.query("SELECT COUNT() FROM Lead WHERE GBU__c NOT IN ('Specialty Polymers')") == {
        "totalSize": 2,
        "done": True,
        "records": [],
    }
    deleted = sf.query_all("SELECT Id FROM Lead WHERE IsDeleted = true", include_deleted=True)
    assert [r["Id"] for r in deleted["records"]] == [DELETED]


@pytest.mark.parametrize(
    "soql, code",
    [
        ("SELECT Id FROM Lede", "INVALID_TYPE"),
        ("SELECT Idd FROM Lead", "INVALID_FIELD"),
        ("SELECT Phone FROM Lead", "INVALID_FIELD"),  # FLS-hidden from the integration user
        ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
        ("SELECT Id Lead", "MALFORMED_QUERY"),
    ],
)
def test_query_errors(sf, soql, code):
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query(soql)
    assert error_code(exc) == code
    if code == "INVALID_FIELD":
        assert "No such column" in exc.value.content[0]["message"]


def test_gbu_visibility_hides_rows(admin, legacy):
    assert admin.query("SELECT Phone FROM Lead WHERE Id = '%s'" % AROMA)["totalSize"] == 1
    assert legacy.query("SELECT Id FROM Lead WHERE Id = '%s'" % AROMA)["totalSize"] == 0
    with pytest.raises(SalesforceResourceNotFound):
        legacy.Lead.update(AROMA, {"Industry": "Banking"})


def test_setup_objects_answer_preflight_queries(sf):
    me = sf.query(
        "SELECT Id, Username, Profile.Name, Profile.PermissionsApiUserOnly, UserRole.DeveloperName "
        "FROM User WHERE Username LIKE 'clay.integration@%'"
    )["records"][0]
    assert me["Profile"]["Name"] == "API Only Integration" and me["Profile"]["PermissionsApiUserOnly"]
    assert me["UserRole"]["DeveloperName"] == "SBS"
    sets = "SELECT PermissionSetId FROM PermissionSetAssignment WHERE AssigneeId = '%s'" % me["Id"]
    edits = sf.query(f"SELECT Field FROM FieldPermissions WHERE PermissionsEdit = true AND ParentId IN ({sets})")
    assert sorted(r["Field"] for r in edits["records"]) == [
        "CampaignMember.Has_Replied__c",
        "CampaignMember.ReplyClassification__c",
        "Lead.Industry",
        "Lead.company_description__c",
        "Lead.external_hard_bounced__c",
    ]
    bypass = sf.query("SELECT Id FROM CustomPermission WHERE DeveloperName = 'Bypass_Validation_Rules'")
    grant = sf.query(
        f"SELECT Id FROM SetupEntityAccess WHERE SetupEntityId = '{bypass['records'][0]['Id']}' "
        f"AND ParentId IN ({sets})"
    )
    assert grant["totalSize"] == 1


# ---- describe ---------------------------------------------------------------------------------------


def test_describe_follows_each_users_field_level_security(sf, admin):
    mine = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    theirs = {f["name"]: f for f in admin.Lead.describe()["fields"]}
    assert "Phone" not in mine and "Phone" in theirs
    assert mine["Industry"]["updateable"] and not mine["Email"]["updateable"]
    assert theirs["Email"]["updateable"]
    overall = mine["overall_hard_bounced__c"]
    assert overall["calculated"] and overall["calculatedFormula"] and not overall["updateable"]
    assert not mine["IsConverted"]["updateable"] and not mine["SystemModstamp"]["updateable"]
    assert len(mine["Email"]) == 57 and mine["Email"]["byteLength"] == 240
    assert mine["Industry"]["restrictedPicklist"]
    assert mine["Industry"]["picklistValues"][0] == {
        "active": True,
        "defaultValue": False,
        "label": "Agriculture",
        "validFor": None,
        "value": "Agriculture",
    }
    assert not sf.Contact.describe()["updateable"] and admin.Contact.describe()["updateable"]


# ---- single-record PATCH ------------------------------------------------------------------------------


def test_patch_updates_record_history_and_modstamp(org_handle, sf):
    before = org_handle.org.records("Lead")[LEAD]
    time.sleep(0.002)
    assert sf.Lead.update(LEAD, {"Industry": "Banking", "external_hard_bounced__c": False}) == 204
    after = org_handle.org.records("Lead")[LEAD]
    assert after["Industry"] == "Banking"
    assert SF_DATETIME.match(after["SystemModstamp"]) and after["SystemModstamp"] > before["SystemModstamp"]
    assert after["LastModifiedDate"] == after["SystemModstamp"]
    history = org_handle.org.field_history
    assert [(h["field"], h["old"], h["new"], h["via"]) for h in history] == [("Industry", None, "Banking", "rest")]
    assert history[0]["user"].startswith("clay.integration@")
    assert sf.Lead.get(LEAD)["Industry"] == "Banking"


@pytest.mark.parametrize(
    "sobject, record_id, values, exc_type, code",
    [
        ("Lead", LEAD, {"Email": "x@y.z"}, SalesforceMalformedRequest, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        (
            "Lead",
            LEAD,
            {"overall_hard_bounced__c": True},
            SalesforceMalformedRequest,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
        ),
        ("Lead", LEAD, {"Phone": "1"}, SalesforceMalformedRequest, "INVALID_FIELD"),
        (
            "Lead",
            LEAD,
            {"Industry": "Banking & Co"},
            SalesforceMalformedRequest,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        ),
        ("Lead", LEAD, {"company_description__c": "x" * 256}, SalesforceMalformedRequest, "STRING_TOO_LONG"),
        # Salesforce counts UTF-16 code units (Java's String.length()): an emoji counts 2
        (
            "Lead",
            LEAD,
            {"company_description__c": "x" * 254 + "\U0001f600"},
            SalesforceMalformedRequest,
            "STRING_TOO_LONG",
        ),
        ("Lead", CONVERTED, {"Industry": "Banking"}, SalesforceMalformedRequest, "CANNOT_UPDATE_CONVERTED_LEAD"),
        ("Lead", "00Q123", {"Industry": "Banking"}, SalesforceMalformedRequest, "MALFORMED_ID"),
        ("Lead", CONTACT, {"Industry": "Banking"}, SalesforceMalformedRequest, "MALFORMED_ID"),
        ("Lead", make_id("00Q", 1), {"Industry": "Banking"}, SalesforceResourceNotFound, "NOT_FOUND"),
        ("Lead", DELETED, {"Industry": "Banking"}, SalesforceResourceNotFound, "ENTITY_IS_DELETED"),
        ("Contact", CONTACT, {"Email": "n@x.test"}, SalesforceMalformedRequest, "INSUFFICIENT_ACCESS_OR_READONLY"),
        (
            "CampaignMember",
            MEMBER,
            {"ReplyClassification__c": "Maybe"},
            SalesforceMalformedRequest,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        ),
    ],
)
def test_patch_errors_leave_record_unchanged(org_handle, sf, sobject, record_id, values, exc_type, code):
    before = org_handle.org.records(sobject)
    with pytest.raises(exc_type) as exc:
        getattr(sf, sobject).update(record_id, values)
    assert error_code(exc) == code
    assert org_handle.org.records(sobject) == before
    assert org_handle.org.field_history == []


def test_error_body_is_salesforce_pretty_json(org_handle):
    session = client(org_handle).session
    url = f"{org_handle.instance_url}/services/data/v59.0/sobjects/Lead/{make_id('00Q', 1)}"
    response = session.patch(
        url, json={"Industry": "Banking"}, headers={"Authorization": f"Bearer {org_handle.session_id}"}
    )
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert response.text == (
        '[ {\n  "message" : "The requested resource does not exist",\n  "errorCode" : "NOT_FOUND"\n} ]'
    )


def test_validation_rule_is_bypassed_only_with_the_custom_permission(org_handle, sf, legacy):
    assert sf.Lead.update(BLANK_CO, {"Industry": "Retail"}) == 204
    with pytest.raises(SalesforceMalformedRequest) as exc:
        legacy.Lead.update(BLANK_CO, {"Industry": "Media"})
    assert error_code(exc) == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert org_handle.org.get("Lead", BLANK_CO)["Industry"] == "Retail"


# ---- sObject Collections --------------------------------------------------------------------------------


def _records(*items):
    return [{"attributes": {"type": t}, "id": i, **v} for t, i, v in items]


def test_composite_update_reports_each_record_in_order(org_handle, sf):
    payload = {
        "allOrNone": False,
        "records": _records(
            ("Lead", LEAD, {"Industry": "Banking"}),
            ("Lead", CONVERTED, {"Industry": "Banking"}),
            ("CampaignMember", MEMBER, {"Has_Replied__c": True}),
            ("Lead", "bad", {"Industry": "Banking"}),
        ),
    }
    result = sf.restful("composite/sobjects", method="PATCH", json=payload)
    assert [r["success"] for r in result] == [True, False, True, False]
    assert result[0] == {"id": LEAD, "success": True, "errors": []}
    assert "id" not in result[1]
    assert result[1]["errors"][0]["statusCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert result[3]["errors"][0]["statusCode"] == "MALFORMED_ID"
    assert {h["via"] for h in org_handle.org.field_history} == {"composite"}
    assert org_handle.org.records("CampaignMember")[MEMBER]["Has_Replied__c"] is True


def test_composite_all_or_none_rolls_everything_back(org_handle, sf):
    payload = {
        "allOrNone": True,
        "records": _records(
            ("Lead", LEAD, {"Industry": "Banking"}),
            ("Lead", LEAD[:-3].replace("8d", "8e") + "AAA", {}),
            ("Lead", BLANK_CO, {"Industry": "Nope"}),
        ),
    }
    result = sf.restful("composite/sobjects", method="PATCH", json=payload)
    assert result[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert result[0]["id"] == LEAD and not result[0]["success"]
    assert result[2]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert org_handle.org.records("Lead")[LEAD]["Industry"] is None
    assert org_handle.org.field_history == []


def test_composite_rejects_more_than_200_records(sf):
    payload = {"allOrNone": False, "records": _records(*[("Lead", LEAD, {})] * 201)}
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.restful("composite/sobjects", method="PATCH", json=payload)
    assert error_code(exc) == "EXCEEDED_ID_LIMIT"


def test_composite_retrieve_rereads_current_values(sf):
    result = sf.restful(
        "composite/sobjects/Lead",
        method="POST",
        json={"ids": [LEAD, make_id("00Q", 1)], "fields": ["Id", "Industry", "SystemModstamp"]},
    )
    assert result[1] is None
    assert list(result[0]) == ["attributes", "Id", "Industry", "SystemModstamp"]


# ---- Bulk API 2.0 ------------------------------------------------------------------------------------------


def test_bulk_update_reports_successes_and_failures(org_handle, sf):
    org_handle.org.set_faults(
        fail_records={CONVERTED: ("REQUIRED_FIELD_MISSING", "Required fields are missing: [Company]", ["Company"])}
    )
    org_handle.org.insert(
        "Lead", [{"Id": make_id("00Q", 900010), "LastName": "N", "Company": "N", "company_description__c": "old"}]
    )
    records = [
        {"Id": LEAD, "Industry": "Banking", "company_description__c": None},
        {"Id": make_id("00Q", 900010), "Industry": None, "company_description__c": "#N/A"},
        {"Id": BLANK_CO, "Industry": "Not An Industry", "company_description__c": None},
        {"Id": CONVERTED, "Industry": "Retail", "company_description__c": None},
    ]
    [summary] = sf.bulk2.Lead.update(records=records, wait=0.01)
    assert (summary["numberRecordsProcessed"], summary["numberRecordsFailed"]) == (4, 2)
    results = sf.bulk2.Lead.get_all_ingest_records(summary["job_id"])
    assert sorted(r["sf__Id"] for r in results["successfulRecords"]) == sorted([LEAD, make_id("00Q", 900010)])
    errors = {r["sf__Id"]: r["sf__Error"] for r in results["failedRecords"]}
    assert errors[BLANK_CO].startswith("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:")
    assert errors[CONVERTED] == "CANNOT_UPDATE_CONVERTED_LEAD:cannot reference converted lead:--"
    assert results["unprocessedRecords"] == []
    leads = org_handle.org.records("Lead")
    assert leads[LEAD]["Industry"] == "Banking" and leads[LEAD]["company_description__c"] is None
    assert leads[make_id("00Q", 900010)]["company_description__c"] is None  # "#N/A" nulls
    assert {h["via"] for h in org_handle.org.field_history} == {"bulk"}


def test_bulk_failed_results_csv_layout(org_handle, sf):
    org_handle.org.set_faults(lock_fraction=1.0, lock_failures=1)
    client_ = sf.bulk2.Lead._client
    job = client_.create_job("update")
    client_.upload_job_data(job["id"], f"Id,Industry\n{LEAD},Banking\n")
    client_.close_job(job["id"])
    assert client_.get_job(job["id"], False)["state"] == "JobComplete"
    failed = client_.get_ingest_results(job["id"], "failedResults")
    assert failed == (
        f'"sf__Id","sf__Error",Id,Industry\n"{LEAD}","UNABLE_TO_LOCK_ROW:unable to obtain '
        f'exclusive access to this record or 1 records: {LEAD}:--","{LEAD}","Banking"\n'
    )
    assert client_.get_ingest_results(job["id"], "unprocessedRecords") == "Id,Industry\n"


def test_a_closed_bulk_job_can_be_held_in_progress_as_a_real_org_runs_it_later(org_handle, sf):
    """Real orgs run a closed ingest job asynchronously (UploadComplete → InProgress → JobComplete): the fault
    `bulk_processing_polls` holds it for that many polls of its info, writing nothing, before it runs."""
    org_handle.org.set_faults(bulk_processing_polls=2)
    client_ = sf.bulk2.Lead._client
    job = client_.create_job("update")
    client_.upload_job_data(job["id"], f"Id,Industry\n{LEAD},Banking\n")
    assert client_.close_job(job["id"])["state"] == "UploadComplete"
    assert client_.get_job(job["id"], False)["state"] == "InProgress"
    assert org_handle.org.field_history == [] and org_handle.org.records("Lead")[LEAD]["Industry"] is None
    assert [client_.get_job(job["id"], False)["state"] for _ in range(2)] == ["InProgress", "JobComplete"]
    assert [h["id"] for h in org_handle.org.field_history] == [LEAD]
    assert org_handle.org.records("Lead")[LEAD]["Industry"] == "Banking"
    assert client_.get_ingest_results(job["id"], "successfulResults").count("\n") == 2


def test_a_bulk_close_can_be_carried_out_and_answered_503_as_a_lost_answer(org_handle, sf):
    """`http_503_after_paths`: the org commits the request, the caller hears 503 (a proxy that lost the answer)."""
    org_handle.org.set_faults(http_503_after_paths={r"^PATCH .*/jobs/ingest/\w+$": 1})
    client_ = sf.bulk2.Lead._client
    job = client_.create_job("update")
    client_.upload_job_data(job["id"], f"Id,Industry\n{LEAD},Banking\n")
    with pytest.raises(SalesforceGeneralError) as exc:
        client_.close_job(job["id"])
    assert exc.value.status == 503 and error_code(exc) == "SERVER_UNAVAILABLE"
    assert client_.get_job(job["id"], False)["state"] == "JobComplete"  # the close was committed: the job ran
    assert org_handle.org.records("Lead")[LEAD]["Industry"] == "Banking"
    with pytest.raises(SalesforceMalformedRequest):  # the fault is used up: the next answer is the org's own
        client_.close_job(job["id"])


def test_bulk_job_with_hidden_field_fails(sf):
    with pytest.raises(SalesforceOperationError, match="Field name not found : Phone"):
        sf.bulk2.Lead.update(records=[{"Id": LEAD, "Phone": "1"}], wait=0.01)


def test_bulk_query_pages_with_locator(org_handle, sf, tmp_path):
    org_handle.org.insert(
        "Lead", [{"LastName": f"L{i}", "Company": "Q", "external_hard_bounced__c": i % 2 == 0} for i in range(2500)]
    )
    pages = list(
        sf.bulk2.Lead.query(
            "SELECT Id, external_hard_bounced__c FROM Lead WHERE Company = 'Q'", max_records=1000, wait=0.01
        )
    )
    assert len(pages) == 3
    assert pages[0].splitlines()[0] == '"Id","external_hard_bounced__c"'
    assert pages[0].splitlines()[1].endswith(',"true"')
    assert sum(len(p.splitlines()) - 1 for p in pages) == 2500
    files = sf.bulk2.Lead.download(
        "SELECT Id FROM Lead WHERE Company = 'Q'", str(tmp_path), max_records=2000, wait=0.01
    )
    assert [f["number_of_records"] for f in files] == [2000, 500]


# ---- limits and faults ---------------------------------------------------------------------------------------


def test_limit_info_header_and_request_limit_exceeded(org_handle, sf):
    org_handle.org.daily_limit = 4
    lead = sf.Lead
    lead.get(LEAD)
    assert lead.api_usage["api-usage"].total == 4
    assert sf.limits()["DailyApiRequests"]["Remaining"] == 2
    sf.query("SELECT Id FROM Lead LIMIT 1")
    assert sf.api_usage["api-usage"].used == 3
    sf.query("SELECT Id FROM Lead LIMIT 1")
    with pytest.raises(SalesforceRefusedRequest) as exc:
        sf.query("SELECT Id FROM Lead LIMIT 1")
    assert error_code(exc) == "REQUEST_LIMIT_EXCEEDED"
    org_handle.org.reset_counters()
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 4


def test_lock_fault_fails_first_attempts_then_succeeds(org_handle, sf):
    org_handle.org.set_faults(lock_fraction=1.0, lock_failures=2)
    for _ in range(2):
        with pytest.raises(SalesforceMalformedRequest) as exc:
            sf.Lead.update(LEAD, {"Industry": "Banking"})
        assert error_code(exc) == "UNABLE_TO_LOCK_ROW"
    assert org_handle.org.field_history == []
    assert sf.Lead.update(LEAD, {"Industry": "Banking"}) == 204


def test_lock_fraction_picks_a_deterministic_subset(org_handle, sf):
    org_handle.org.set_faults(lock_fraction=0.5)
    members = [{"Id": make_id("00v", 800000 + i), "CampaignId": CAMPAIGN} for i in range(40)]
    org_handle.org.insert("CampaignMember", members)
    payload = {
        "allOrNone": False,
        "records": _records(*[("CampaignMember", m["Id"], {"Has_Replied__c": True}) for m in members]),
    }
    first = sf.restful("composite/sobjects", method="PATCH", json=payload)
    locked = [r for r in first if not r["success"]]
    assert 5 < len(locked) < 35
    assert {r["errors"][0]["statusCode"] for r in locked} == {"UNABLE_TO_LOCK_ROW"}
    assert all(r["success"] for r in sf.restful("composite/sobjects", method="PATCH", json=payload))


def test_http_503_faults(org_handle, sf):
    org_handle.org.set_faults(http_503_next=2)
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError) as exc:
            sf.query("SELECT Id FROM Lead")
        assert exc.value.status == 503 and error_code(exc) == "SERVER_UNAVAILABLE"
    sf.query("SELECT Id FROM Lead")
    org_handle.org.set_faults(http_503_every=3)
    statuses = []
    for _ in range(6):
        try:
            sf.query("SELECT Id FROM Lead")
            statuses.append(200)
        except SalesforceGeneralError as err:
            statuses.append(err.status)
    assert statuses.count(503) == 2


def test_session_expires_after_calls_until_renewed(org_handle, sf):
    org_handle.org.set_faults(expire_after_calls=2)
    sf.query("SELECT Id FROM Lead")
    sf.query("SELECT Id FROM Lead")
    with pytest.raises(SalesforceExpiredSession) as exc:
        sf.query("SELECT Id FROM Lead")
    assert error_code(exc) == "INVALID_SESSION_ID"
    old = sf.session_id
    new = org_handle.org.renew_session()
    assert new != old and org_handle.session_id == new
    assert client(org_handle, new).query("SELECT COUNT() FROM Lead")["totalSize"] == 4


def test_latency_fault_delays_responses(org_handle, sf):
    org_handle.org.set_faults(latency_ms=150)
    started = time.monotonic()
    sf.query("SELECT Id FROM Lead LIMIT 1")
    assert time.monotonic() - started >= 0.15


def test_unknown_fault_name_is_refused(org_handle):
    with pytest.raises(ValueError, match="Unknown fault 'lock_percent'"):
        org_handle.org.set_faults(lock_percent=1)


# ---- persistence, formulas, CLI ---------------------------------------------------------------------------


def test_state_survives_restart_with_same_sessions(tmp_path):
    state = tmp_path / "org.json"
    first = start_sandbox(state_path=state)
    seed(first.org)
    client(first).Lead.update(LEAD, {"Industry": "Energy"})
    sessions = (first.session_id, first.admin_session_id, first.ca_bundle)
    first.stop()
    second = start_sandbox(state_path=state)
    try:
        assert (second.session_id, second.admin_session_id, second.ca_bundle) == sessions
        assert client(second).Lead.get(LEAD)["Industry"] == "Energy"
        assert [h["new"] for h in second.org.field_history] == ["Energy"]
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    finally:
        second.stop()


def test_formulas_are_computed_not_stored(org_handle):
    org = org_handle.org
    assert "overall_hard_bounced__c" not in org.records("Lead")[AROMA]
    assert org.get("Lead", AROMA)["overall_hard_bounced__c"] is True
    assert org.get("Lead", BLANK_CO)["Cold_Lead_Eligible__c"] is True
    org.insert("Contact", [{"Email": " Bob@Blank.test", "LastName": "B"}])
    assert org.get("Lead", BLANK_CO)["Cold_Lead_Eligible__c"] is False


def test_module_entry_point_prints_connection_line(tmp_path):
    env = {k: v for k, v in os.environ.items()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconcile.sandbox", "--state", str(tmp_path / "s.json")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert set(info) == {
            "instance_url",
            "session_id",
            "admin_session_id",
            "ca_bundle",
            "login_url",
            "client_id",
            "client_secret",
            "username",
            "jwt_key_file",
            "password",
            "security_token",
        }
        session = requests.Session()
        session.verify, session.trust_env = info["ca_bundle"], False
        listed = session.get(info["instance_url"] + "/services/data/").json()
        assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in listed
        # every supported version from 31.0 (Summer '14); 21.0-30.0 were retired in Summer '25 and answer 410 GONE
        assert (listed[0]["version"], listed[0]["label"]) == ("31.0", "Summer '14")
        gone = session.get(info["instance_url"] + "/services/data/v30.0/limits/")
        assert gone.status_code == 410 and gone.json()[0]["errorCode"] == "GONE"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_users_can_be_overridden_and_added():
    handle = start_sandbox(
        users={"integration": {"bypass_validation": False}, "noapi": {"api_enabled": False, "profile": "Standard User"}}
    )
    try:
        seed(handle.org)
        with pytest.raises(SalesforceMalformedRequest) as exc:
            client(handle).Lead.update(BLANK_CO, {"Industry": "Retail"})
        assert error_code(exc) == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
        with pytest.raises(SalesforceRefusedRequest) as exc:
            client(handle, handle.session_for("noapi")).query("SELECT Id FROM Lead")
        assert error_code(exc) == "API_CURRENTLY_DISABLED"
    finally:
        handle.stop()
