"""Render the users' permissions as the setup-object rows a preflight queries (see security.py)."""

from .schema import BUSINESS_OBJECTS, GBUS, SCHEMA
from .security import BYPASS_PERMISSION, UserSpec, can_edit_field, can_edit_object, can_read_field, can_read_object


def setup_rows(users: list, next_id) -> dict:
    """{sobject: [row, …]} for every setup object, derived from `users`."""
    rows = {name: [] for name, obj in SCHEMA.items() if obj.setup}
    custom = {
        "Id": next_id("CustomPermission"),
        "DeveloperName": BYPASS_PERMISSION,
        "MasterLabel": "Bypass Validation Rules",
    }
    rows["CustomPermission"].append(custom)
    roles, profiles, granted = {}, {}, set()
    for user in users:
        role_id = _role(rows, roles, user.role, next_id)
        profile_id, owned_ps = _profile(rows, profiles, user, next_id)
        rows["User"].append(
            {
                "Id": user.user_id,
                "Username": user.username,
                "Name": user.name,
                "IsActive": True,
                "ProfileId": profile_id,
                "UserRoleId": role_id,
                "Visible_GBUs__c": ";".join(user.visible_gbus if user.visible_gbus is not None else GBUS),
            }
        )
        grant_ps = owned_ps
        if user.permission_set:
            grant_ps = _permission_set(
                rows, user.permission_set, user.permission_set.replace("_", " "), None, {}, next_id
            )
            _grants(rows, grant_ps, user, next_id)
        elif owned_ps not in granted:
            _grants(rows, owned_ps, user, next_id)
            granted.add(owned_ps)
        for ps in {owned_ps, grant_ps}:
            rows["PermissionSetAssignment"].append(
                {"Id": next_id("PermissionSetAssignment"), "AssigneeId": user.user_id, "PermissionSetId": ps}
            )
        if user.bypass_validation:
            rows["SetupEntityAccess"].append(
                {
                    "Id": next_id("SetupEntityAccess"),
                    "ParentId": grant_ps,
                    "SetupEntityId": custom["Id"],
                    "SetupEntityType": "CustomPermission",
                }
            )
    for row in (r for rs in rows.values() for r in rs):
        row.setdefault("IsDeleted", False)
    return rows


def _role(rows, roles, name, next_id):
    if name is None:
        return None
    if name not in roles:
        roles[name] = next_id("UserRole")
        rows["UserRole"].append({"Id": roles[name], "Name": name, "DeveloperName": name.replace(" ", "_")})
    return roles[name]


def _profile(rows, profiles, user: UserSpec, next_id):
    if user.profile not in profiles:
        flags = {
            "PermissionsApiEnabled": user.api_enabled,
            "PermissionsApiUserOnly": user.api_only,
            "PermissionsModifyAllData": user.modify_all,
            "PermissionsViewAllData": user.view_all,
        }
        pid = next_id("Profile")
        rows["Profile"].append({"Id": pid, "Name": user.profile, **flags})
        extra = {"PermissionsManageUsers": user.modify_all, "PermissionsCustomizeApplication": user.modify_all}
        ps = _permission_set(rows, "X00e" + pid[3:15], user.profile, pid, {**flags, **extra}, next_id)
        profiles[user.profile] = (pid, ps)
    return profiles[user.profile]


def _permission_set(rows, name, label, profile_id, flags, next_id):
    ps = {
        "Id": next_id("PermissionSet"),
        "Name": name,
        "Label": label,
        "IsOwnedByProfile": bool(profile_id),
        "ProfileId": profile_id,
        "PermissionsModifyAllData": False,
        "PermissionsViewAllData": False,
        "PermissionsApiEnabled": False,
        "PermissionsApiUserOnly": False,
        "PermissionsManageUsers": False,
        "PermissionsCustomizeApplication": False,
    }
    ps.update(flags)
    rows["PermissionSet"].append(ps)
    return ps["Id"]


def _grants(rows, ps_id, user: UserSpec, next_id):
    """ObjectPermissions and FieldPermissions rows for the user's business-object access."""
    for sobject in BUSINESS_OBJECTS:
        if not can_read_object(user, sobject):
            continue
        edit = can_edit_object(user, sobject)
        rows["ObjectPermissions"].append(
            {
                "Id": next_id("ObjectPermissions"),
                "ParentId": ps_id,
                "SobjectType": sobject,
                "PermissionsRead": True,
                "PermissionsCreate": edit,
                "PermissionsEdit": edit,
                "PermissionsDelete": user.modify_all,
                "PermissionsViewAllRecords": user.view_all,
                "PermissionsModifyAllRecords": user.modify_all,
            }
        )
        for name, fdef in SCHEMA[sobject].fields.items():
            if fdef.permissionable and can_read_field(user, sobject, name):
                rows["FieldPermissions"].append(
                    {
                        "Id": next_id("FieldPermissions"),
                        "ParentId": ps_id,
                        "SobjectType": sobject,
                        "Field": f"{sobject}.{name}",
                        "PermissionsRead": True,
                        "PermissionsEdit": can_edit_field(user, sobject, name),
                    }
                )
