"""The one update pipeline behind REST PATCH, sObject Collections and Bulk 2.0 ingest.

Checks run in this order, first failure wins: object type, id format, existence and GBU visibility,
deleted, object edit permission, unknown / FLS-hidden fields, non-updateable fields, converted lead,
value checks (type, restricted picklist, length, required), injected faults (fail_records, row locks),
the Company validation rule. A failed write never changes the record; a successful one appends one
field-history row per field whose value actually changed.
"""

from dataclasses import dataclass

from . import ids
from .schema import SCHEMA, find_object, object_for_id
from .security import UserSpec, can_edit_field, can_edit_object, can_read_field, can_read_object, sees_gbu
from .state import Org, now_sf

TRUE_WORDS = {"true", "1", "yes", "y", "on"}
FALSE_WORDS = {"false", "0", "no", "n", "off"}
ROLLED_BACK = "Record rolled back because not all records were valid and the request was using AllOrNone header"
VALIDATION_MESSAGE = "Company must not be blank (validation rule Lead_Company_Required)."


@dataclass
class WriteError(Exception):
    code: str
    message: str
    fields: list | None = None  # None: the REST body carries no "fields" key
    status: int = 400

    def item(self) -> dict:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}


def update_records(org: Org, user: UserSpec, items: list, via: str, all_or_none: bool = False) -> list:
    """Update (sobject, id, values) items; returns one WriteError or None (success) per item."""
    with org.lock:
        staged, results, seen = [], [], set()
        for sobject, record_id, values in items:
            try:
                key = (sobject, ids.to18(str(record_id)))
                if key in seen:
                    raise WriteError("DUPLICATE_VALUE", f"Duplicate id in list: {record_id}", [])
                seen.add(key)
                staged.append(check_update(org, user, sobject, record_id, values))
                results.append(None)
            except WriteError as err:
                staged.append(None)
                results.append(err)
        if all_or_none and any(results):
            return [r or WriteError("ALL_OR_NONE_OPERATION_ROLLED_BACK", ROLLED_BACK, []) for r in results]
        for plan in staged:
            if plan:
                commit(org, user, *plan, via=via)
        return results


def check_update(org: Org, user: UserSpec, sobject: str, record_id, values: dict) -> tuple:
    """Validate one update; returns (sobject, row, changes) or raises WriteError."""
    if not isinstance(sobject, str) or not sobject:
        # a collection record without attributes.type: Salesforce's INVALID_TYPE for an sObject of no type (seen on
        # its SOAP and REST writes; salesforce_api.md §5: each record needs attributes.type)
        raise WriteError("INVALID_TYPE", "Must send a concrete entity type.", [])
    obj = find_object(sobject)
    if obj is None or obj.setup or not can_read_object(user, obj.name):
        raise WriteError("INVALID_TYPE", f"sObject type '{sobject}' is not supported.", [])
    if not ids.is_valid(record_id, obj.prefix):
        raise WriteError("MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {record_id}", ["Id"])
    row = org.data[obj.name].get(ids.to18(record_id))
    if row is None or not sees_gbu(user, obj.name, row):
        raise WriteError("NOT_FOUND", "The requested resource does not exist", None, 404)
    if row.get("IsDeleted"):
        raise WriteError("ENTITY_IS_DELETED", "entity is deleted", [], 404)
    if not can_edit_object(user, obj.name):
        raise WriteError(
            "INSUFFICIENT_ACCESS_OR_READONLY",
            "insufficient access rights on object id",
            [],
            org.faults.insufficient_access_status,
        )
    changes = _field_changes(user, obj, values)
    if obj.name == "Lead" and row.get("IsConverted"):
        raise WriteError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
    for name, value in list(changes.items()):
        changes[name] = _checked_value(obj.fields[name], value)
    fault = org.faults.record_error(row["Id"])
    if fault:
        raise WriteError(fault[0], fault[1], fault[2])
    if obj.name == "Lead" and not user.bypass_validation:
        company = changes.get("Company", row.get("Company"))
        if company is None or not str(company).strip():
            raise WriteError("FIELD_CUSTOM_VALIDATION_EXCEPTION", VALIDATION_MESSAGE, ["Company"])
    return obj.name, row, changes


def _field_changes(user: UserSpec, obj, values: dict) -> dict:
    changes, readonly = {}, []
    for name, value in values.items():
        if name in ("attributes", "Id", "id"):
            continue
        fdef = obj.field(name)
        if fdef is None or not can_read_field(user, obj.name, fdef.name):
            raise WriteError("INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}", None)
        if not can_edit_field(user, obj.name, fdef.name):
            readonly.append(fdef.name)
        changes[fdef.name] = value
    if readonly:
        raise WriteError(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(readonly)}. Please check the security "
            "settings of this field and verify that it is read/write for your profile or "
            "permission set.",
            readonly,
        )
    return changes


def _checked_value(fdef, value):
    if value is None:
        if not fdef.nillable:
            raise WriteError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{fdef.name}]", [fdef.name])
        return None
    if fdef.type == "boolean":
        return _boolean(fdef, value)
    if not isinstance(value, str):
        raise WriteError(
            "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{fdef.label}: value not of required type: {value}", [fdef.name]
        )
    if fdef.restricted and value not in fdef.picklist:
        raise WriteError(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{fdef.label}: bad value for restricted picklist field: {value}",
            [fdef.name],
        )
    # Salesforce counts as Java's String.length() does: UTF-16 code units (an emoji counts 2)
    if fdef.length and len(value.encode("utf-16-le", "surrogatepass")) // 2 > fdef.length:
        raise WriteError(
            "STRING_TOO_LONG", f"{fdef.label}: data value too large: {value} (max length={fdef.length})", [fdef.name]
        )
    return value


def _boolean(fdef, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise WriteError(
        "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{fdef.label}: value not of required type: {value}", [fdef.name]
    )


def commit(org: Org, user: UserSpec, sobject: str, row: dict, changes: dict, via: str) -> None:
    """Apply validated changes, bump the audit fields, append field history."""
    stamp = now_sf()
    for name, new in changes.items():
        old = row.get(name)
        if old == new:
            continue
        row[name] = new
        org.field_history.append(
            {
                "seq": len(org.field_history) + 1,
                "at": stamp,
                "sobject": sobject,
                "id": row["Id"],
                "field": name,
                "old": old,
                "new": new,
                "user": user.username,
                "via": via,
            }
        )
    row.update({"LastModifiedDate": stamp, "SystemModstamp": stamp, "LastModifiedById": user.user_id})
    if sobject == "Contact":
        org.contact_changed()


def delete_records(org: Org, user: UserSpec, record_ids: list, via: str, all_or_none: bool = False) -> list:
    """Delete records by id (the object comes from the key prefix); one WriteError or None per id.

    A deleted record stays in the org with IsDeleted = true (the Recycle Bin): `queryAll` returns it, `query`
    and retrieve do not, GET answers ENTITY_IS_DELETED. Deleting a Lead, Contact or Campaign deletes its
    CampaignMembers too (cascadeDelete in describe's childRelationships). Who may delete: users whose object
    describe says `deletable` (Modify All Data: the admin by default)."""
    with org.lock:
        staged, results, seen = [], [], set()
        for record_id in record_ids:
            try:
                sobject, row = _check_delete(org, user, str(record_id))
                if row["Id"] in seen:
                    raise WriteError("DUPLICATE_VALUE", f"Duplicate id in list: {record_id}", [])
                seen.add(row["Id"])
                staged.append((sobject, row))
                results.append(None)
            except WriteError as err:
                staged.append((None, None))
                results.append(err)
        if all_or_none and any(results):
            return [r or WriteError("ALL_OR_NONE_OPERATION_ROLLED_BACK", ROLLED_BACK, []) for r in results]
        for sobject, row in staged:
            if row is not None:
                _mark_deleted(org, user, sobject, row, via)
        return results


def _check_delete(org: Org, user: UserSpec, record_id: str) -> tuple:
    obj = object_for_id(record_id) if ids.is_valid(record_id) else None
    if obj is None or obj.setup or not can_read_object(user, obj.name):
        raise WriteError("MALFORMED_ID", f"malformed id {record_id}", [])
    row = org.data[obj.name].get(ids.to18(record_id))
    if row is None or not sees_gbu(user, obj.name, row):
        raise WriteError("NOT_FOUND", "The requested resource does not exist", None, 404)
    if row.get("IsDeleted"):
        raise WriteError("ENTITY_IS_DELETED", "entity is deleted", [], 404)
    if not (can_edit_object(user, obj.name) and user.modify_all):
        raise WriteError(
            "INSUFFICIENT_ACCESS_OR_READONLY",
            "insufficient access rights on object id",
            [],
            org.faults.insufficient_access_status,
        )
    return obj.name, row


def _mark_deleted(org: Org, user: UserSpec, sobject: str, row: dict, via: str) -> None:
    commit(org, user, sobject, row, {"IsDeleted": True}, via=via)
    for parent_field in ("LeadId", "ContactId", "CampaignId"):
        ref = SCHEMA["CampaignMember"].fields[parent_field].reference_to
        if ref != sobject:
            continue
        for member in org.data["CampaignMember"].values():
            if member.get(parent_field) == row["Id"] and not member.get("IsDeleted"):
                commit(org, user, "CampaignMember", member, {"IsDeleted": True}, via=via)
