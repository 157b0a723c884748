"""`reconcile preflight`: the connected user against seed §3.1 and the policy. One check per line, with the fix."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SalesforceError
from .ids import id18
from .policy import WRITABLE_OBJECTS, Policy
from .salesforce import error_code, soql

SYSTEM_FIELDS = {
    "Id",
    "IsDeleted",
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
    "CreatedById",
    "LastModifiedById",
}
ADMIN_PERMISSIONS = (
    "PermissionsModifyAllData",
    "PermissionsViewAllData",
    "PermissionsManageUsers",
    "PermissionsCustomizeApplication",
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warn: bool = False  # could not be checked for sure: printed as WARN (ok stays True: not a failure)

    @property
    def label(self) -> str:
        return "WARN" if self.warn else ("PASS" if self.ok else "FAIL")


def run_preflight(client, policy: Policy) -> list[Check]:
    info = client.userinfo()
    uid = id18(info.get("user_id", ""))
    user = client.query_all(
        soql(
            "SELECT Id, Username, ProfileId, Profile.Name, UserRoleId, UserRole.Name, "
            "UserRole.DeveloperName FROM User WHERE Id = {}",
            uid,
        )
    )[0]
    profile = client.query_all(
        soql(
            "SELECT Id, Name, PermissionsApiEnabled, PermissionsApiUserOnly, "
            "PermissionsModifyAllData, PermissionsViewAllData FROM Profile WHERE Id = {}",
            user["ProfileId"],
        )
    )[0]
    assignments = client.query_all(
        soql("SELECT PermissionSetId FROM PermissionSetAssignment WHERE AssigneeId = {}", uid)
    )
    ps_ids = [a["PermissionSetId"] for a in assignments]
    sets = (
        client.query_all(
            soql(
                f"SELECT Id, Name, IsOwnedByProfile, PermissionsApiUserOnly, {', '.join(ADMIN_PERMISSIONS)} "
                "FROM PermissionSet WHERE Id IN {}",
                ps_ids,
            )
        )
        if ps_ids
        else []
    )
    describes = {obj: _describe(client, obj) for obj in ("Contact", "Lead", "CampaignMember", "Campaign")}
    checks = [
        _api_only_check(profile, sets),
        _admin_check(profile, sets),
        *_object_checks(describes),
        *_field_checks(describes, policy),
        _writes_check(client, ps_ids),
        _bypass_check(client, ps_ids, policy.bypass_permission),
        _dedicated_check(client, uid, ps_ids),
        _role_check(user, policy),
        *_gbu_checks(client, describes, policy, _granted_gbus(client, uid, policy.gbu_access_field)),
    ]
    return checks


def _api_only_check(profile: dict, sets: list[dict]) -> Check:
    """API Only User (no UI access, seed §3.1) granted by the profile or by one of the user's permission sets."""
    by_sets = sorted(s["Name"] for s in sets if s.get("PermissionsApiUserOnly") and not s.get("IsOwnedByProfile"))
    detail = f"profile '{profile.get('Name')}' API only = {profile.get('PermissionsApiUserOnly')}"
    return Check(
        "API-only profile",
        bool(profile.get("PermissionsApiUserOnly")) or bool(by_sets),
        detail + (f"; granted by permission set {', '.join(by_sets)}" if by_sets else ""),
        "Give the integration user an API Only profile or a permission set with API Only User (no UI access), "
        "seed §3.1.",
    )


def _admin_check(profile: dict, sets: list[dict]) -> Check:
    broad = [f"profile:{p}" for p in ADMIN_PERMISSIONS if profile.get(p)]
    broad += [f"{s['Name']}:{p}" for s in sets for p in ADMIN_PERMISSIONS if s.get(p)]
    return Check(
        "no admin-wide permissions",
        not broad,
        "none" if not broad else "granted: " + ", ".join(broad),
        "Remove ModifyAllData/ViewAllData/ManageUsers/CustomizeApplication; least privilege only.",
    )


def _describe(client, sobject: str) -> dict | None:
    """The object's describe, or None when the user may not see the object (Salesforce answers NOT_FOUND)."""
    try:
        return client.describe(sobject)
    except SalesforceError as e:
        if error_code(e.__cause__) == "NOT_FOUND":
            return None
        raise


def _invisible(sobject: str) -> str:
    return f"{sobject} is not visible to the integration user (its describe answers NOT_FOUND)"


def _object_checks(describes: dict) -> list[Check]:
    out = []
    contact = describes["Contact"]
    if contact is None:
        contact = {}
        out.append(
            Check(
                "read on Contacts, no edit",
                False,
                _invisible("Contact"),
                "Grant Read (not Edit) on Contact in the dedicated permission set.",
            )
        )
    else:
        out.append(
            Check(
                "read on Contacts, no edit",
                bool(contact.get("queryable")) and not contact.get("updateable"),
                f"Contact queryable={contact.get('queryable')} updateable={contact.get('updateable')}",
                "Grant Read (not Edit) on Contact in the dedicated permission set.",
            )
        )
    for obj in ("Lead", "CampaignMember"):
        d = describes[obj]
        if d is None:
            out.append(
                Check(
                    f"edit on {obj}",
                    False,
                    _invisible(obj),
                    f"Grant Read and Edit on {obj} in the dedicated permission set.",
                )
            )
            continue
        out.append(
            Check(
                f"edit on {obj}",
                bool(d.get("updateable")),
                f"{obj} updateable={d.get('updateable')}",
                f"Grant Edit on {obj} in the dedicated permission set.",
            )
        )
    return out


def _field_checks(describes: dict, policy: Policy) -> list[Check]:
    out = []
    for obj in ("Lead", "CampaignMember"):
        if describes[obj] is None:  # its fields cannot be checked: one failure, the object check says why
            out.append(
                Check(
                    f"{obj} edit limited to the allowlist",
                    False,
                    _invisible(obj),
                    f"Grant Read and Edit on {obj} (Edit on the allowlisted fields only), then run preflight again.",
                )
            )
            continue
        fields = {f["name"]: f for f in describes[obj].get("fields", [])}
        allowed = {f.field for f in policy.fields if f.object == obj and f.status != "read_only"}
        extra = sorted(
            n for n, f in fields.items() if f.get("updateable") and n not in allowed and n not in SYSTEM_FIELDS
        )
        out.append(
            Check(
                f"{obj} edit limited to the allowlist",
                not extra,
                "editable outside the allowlist: " + ", ".join(extra) if extra else "only allowlisted fields",
                "Remove field-level Edit on these fields from the integration user's permission sets.",
            )
        )
        for fp in (f for f in policy.fields if f.object == obj):
            f = fields.get(fp.field)
            if f is None:
                out.append(
                    Check(
                        f"org field {obj}.{fp.field}",
                        False,
                        "not visible to the integration user",
                        "Create the field or grant Read on it (field-level security).",
                    )
                )
            elif fp.status != "read_only" and (f.get("calculated") or not f.get("updateable")):
                what = "a formula" if f.get("calculated") else "not updateable"
                out.append(
                    Check(
                        f"org field {obj}.{fp.field}",
                        False,
                        f"policy says {fp.status}, org says {what}",
                        "Fix the org's field (or the policy) so they agree before applying.",
                    )
                )
            elif fp.status == "read_only" and f.get("updateable"):
                out.append(
                    Check(
                        f"org field {obj}.{fp.field}",
                        False,
                        "policy says read_only, org lets the user edit it",
                        "Remove Edit on this field; the workbench never writes it.",
                    )
                )
    return out


def _writes_check(client, ps_ids: list[str]) -> Check:
    """Seed §3.1, least privilege: Write on Leads and Campaign Members, nothing else — no Edit or Create on any other
    object, and no Delete or Modify All (every record, sharing aside) anywhere. Create on the two is allowed (the
    seed's "Write"); View All is too (one way to reach every GBU)."""
    rows = (
        client.query_all(
            soql(
                "SELECT SobjectType, Parent.Name, PermissionsCreate, PermissionsEdit, PermissionsDelete, "
                "PermissionsModifyAllRecords FROM ObjectPermissions WHERE ParentId IN {}",
                ps_ids,
            )
        )
        if ps_ids
        else []
    )
    grants = set()
    for r in rows:
        obj, where = r["SobjectType"], (r.get("Parent") or {}).get("Name") or "?"
        perms = [("Delete", r.get("PermissionsDelete")), ("Modify All", r.get("PermissionsModifyAllRecords"))]
        if obj not in WRITABLE_OBJECTS:
            perms += [("Create", r.get("PermissionsCreate")), ("Edit", r.get("PermissionsEdit"))]
        grants |= {(obj, perm, where) for perm, on in perms if on}
    return Check(
        "writes only Lead and CampaignMember",
        not grants,
        "granted: " + ", ".join(f"{o}: {p} ({w})" for o, p, w in sorted(grants)) if grants else "none beyond",
        "Remove these object permissions from the integration user's profile and permission sets (seed §3.1: Read "
        "Contacts, Write Leads and Campaign Members only; no Delete or Modify All).",
    )


def _bypass_check(client, ps_ids: list[str], name: str) -> Check:
    perm = client.query_all(soql("SELECT Id FROM CustomPermission WHERE DeveloperName = {}", name))
    granted = []
    if perm and ps_ids:
        granted = client.query_all(
            soql("SELECT Id FROM SetupEntityAccess WHERE SetupEntityId = {} AND ParentId IN {}", perm[0]["Id"], ps_ids)
        )
    detail = "granted" if granted else ("missing" if perm else f"the org has no custom permission {name}")
    return Check(
        "validation bypass",
        bool(granted),
        f"{name}: {detail}",
        f"Grant the {name} custom permission (enriched leads may lack required fields), or name the org's "
        "own bypass permission in the policy's [org] bypass_permission.",
    )


def _dedicated_check(client, uid: str, ps_ids: list[str]) -> Check:
    """Seed §3.1: a dedicated permission set ("do not use existing sets") — whatever grants Edit on Lead or
    CampaignMember to the integration user is a permission set (not the profile's own: IsOwnedByProfile) assigned to
    integration (API-only) users only."""
    writing = (
        client.query_all(
            soql(
                "SELECT ParentId, Parent.Name, Parent.IsOwnedByProfile FROM ObjectPermissions WHERE PermissionsEdit = true "
                "AND SobjectType IN ('Lead', 'CampaignMember') AND ParentId IN {}",
                ps_ids,
            )
        )
        if ps_ids
        else []
    )
    sets = {r["ParentId"]: (r.get("Parent") or {}).get("Name") or r["ParentId"] for r in writing}
    by_profile = sorted({sets[r["ParentId"]] for r in writing if (r.get("Parent") or {}).get("IsOwnedByProfile")})
    others = (
        client.query_all(
            soql(
                "SELECT AssigneeId, PermissionSetId FROM PermissionSetAssignment WHERE PermissionSetId IN {} "
                "AND AssigneeId != {}",
                list(sets),
                uid,
            )
        )
        if sets
        else []
    )
    people = {}
    if others:
        ids = sorted({o["AssigneeId"] for o in others})
        users = client.query_all(
            soql("SELECT Id, Username, Profile.PermissionsApiUserOnly FROM User WHERE Id IN {}", ids)
        )
        people = {u["Id"]: u["Username"] for u in users if not (u.get("Profile") or {}).get("PermissionsApiUserOnly")}
    shared = sorted(
        {f"{sets[o['PermissionSetId']]} → {people[o['AssigneeId']]}" for o in others if o["AssigneeId"] in people}
    )
    names = ", ".join(sorted(set(sets.values()))) or "none"
    detail = f"edit granted by {names}"
    if by_profile:
        detail += f"; by the user's profile ({', '.join(by_profile)}), not a dedicated permission set"
    if shared:
        detail += f"; also assigned to people: {', '.join(shared)}"
    return Check(
        "dedicated permission set",
        not shared and not by_profile,
        detail,
        "Grant the writes through a permission set of the integration user's own (seed §3.1: do not use "
        "existing sets), not its profile; unassign the set from these users.",
    )


def _role_check(user: dict, policy: Policy) -> Check:
    role = user.get("UserRole") or {}
    names = {role.get("Name"), role.get("DeveloperName")}
    ok = not policy.role or policy.role in names
    return Check(
        f"role {policy.role or '(any)'}",
        ok,
        f"role = {role.get('Name') or '(none)'}",
        f"Assign the {policy.role} role (seed §3.1: required for the iCare access scope).",
    )


def _granted_gbus(client, uid: str, field: str) -> set[str] | None:
    """The GBUs the org states the user may see (the multi-select `[org] gbu_access_field` of the user's User record,
    values joined by ';'), or None when the org has no such field: GBU access is then known only from records."""
    if not field:
        return None
    describe = _describe(client, "User") or {}
    if not any(f.get("name", "").lower() == field.lower() for f in describe.get("fields", [])):
        return None
    rows = client.query_all(soql(f"SELECT Id, {field} FROM User WHERE Id = {{}}", uid))
    value = next((v for k, v in (rows[0] if rows else {}).items() if k.lower() == field.lower()), None)
    return {g.strip() for g in (value or "").split(";") if g.strip()}


def _gbu_checks(client, describes: dict, policy: Policy, granted: set[str] | None = None) -> list[Check]:
    """Every GBU must be visible (seed §3.1: critical): those the policy lists, or with none listed the GBUs the org
    defines (the active GBU__c picklist values of Lead and Campaign).

    A visible Lead or Campaign of the GBU shows it. A GBU with none visible may simply have no records yet (a new
    GBU before its first campaign), so that alone is no failure: where the org states the user's GBUs (`granted`,
    from _granted_gbus) that decides — a GBU it does not grant fails, listed or not — else it is a warning saying
    it could not be confirmed."""
    listed = list(policy.gbus)
    gbus = listed or _org_gbus(describes)
    if not gbus:
        return [
            Check(
                "GBU visibility",
                True,
                "not checked: the policy lists no GBUs and the org defines no GBU__c picklist values",
                "List every GBU in the policy's [org] gbus (seed §3.1).",
                warn=True,
            )
        ]
    out = []
    where = "policy" if listed else "org's GBU__c picklist"
    fix = (
        "Give the integration user access to every GBU (seed §3.1, multi-GBU campaigns); list the "
        "GBUs in the policy's [org] gbus to make this a hard check."
    )
    for gbu in gbus:
        seen = any(  # an object the user cannot see shows no GBU (its own check fails)
            describes[obj] is not None
            and client.query_all(soql(f"SELECT Id FROM {obj} WHERE GBU__c = {{}} LIMIT 1", gbu))
            for obj in ("Lead", "Campaign")
        )
        name = f"GBU {gbu} visible"
        if seen:
            out.append(Check(name, True, f"visible (from the {where})", fix))
        elif granted is not None:
            ok = gbu in granted
            state = "granted" if ok else "not granted"
            detail = (
                f"{state} by User.{policy.gbu_access_field} = {';'.join(sorted(granted)) or '(none)'}; "
                f"no Lead or Campaign of this GBU is visible (from the {where})"
            )
            out.append(Check(name, ok, detail, fix))
        else:
            detail = (
                "not confirmed: no Lead or Campaign of this GBU is visible — it may have no records yet, or the "
                f"user may not see them (from the {where}; the org has no User.{policy.gbu_access_field or '…'} "
                "stating the user's GBUs)"
            )
            fix_unknown = (
                f"As an admin, count the GBU's records (SELECT COUNT() FROM Lead WHERE GBU__c = '{gbu}'): if there "
                "are any, give the integration user access to the GBU (seed §3.1); if none, rerun once it has some."
            )
            out.append(Check(name, True, detail, fix_unknown, warn=True))
    return out


def _org_gbus(describes: dict) -> list[str]:
    values = []
    for obj in ("Lead", "Campaign"):
        for f in (describes[obj] or {}).get("fields", []):
            if f.get("name") == "GBU__c":
                values += [p["value"] for p in f.get("picklistValues") or [] if p.get("active", True)]
    return sorted(set(values))
