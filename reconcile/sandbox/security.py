"""Users, profiles, permission sets and field-level security of the sandbox org.

A `UserSpec` is the source of truth for what a user may do; `setup_rows()` renders the same facts as
the setup objects a preflight check queries (User, Profile, UserRole, PermissionSet,
PermissionSetAssignment, ObjectPermissions, FieldPermissions, CustomPermission, SetupEntityAccess).

Setup objects are queryable by every user here. A real org needs "View Setup and Configuration" for
some of them (FieldPermissions, PermissionSet, …); an integration user may lack it.

Validation bypass is the custom permission `Bypass_Validation_Rules` granted through a permission set.
Preflight can check it with:
    SELECT Id, DeveloperName FROM CustomPermission WHERE DeveloperName = 'Bypass_Validation_Rules'
    SELECT Id FROM SetupEntityAccess WHERE SetupEntityId = '<CustomPermission id>'
        AND ParentId IN (SELECT PermissionSetId FROM PermissionSetAssignment WHERE AssigneeId = '005…')
GBU visibility (a sharing concept in a real org) is exposed as the multi-select `User.Visible_GBUs__c`
(values joined by ';').
"""

import copy
import secrets
import string
from dataclasses import asdict, dataclass, field

from .schema import BUSINESS_OBJECTS, GBUS, SCHEMA

ORG_DOMAIN = "sandbox.reconcile.example"
BYPASS_PERMISSION = "Bypass_Validation_Rules"
WRITEBACK_FIELDS = {
    "Lead": ["external_hard_bounced__c", "company_description__c", "Industry"],
    "CampaignMember": ["Has_Replied__c", "ReplyClassification__c"],
}


@dataclass
class UserSpec:
    key: str
    username: str
    name: str
    profile: str
    role: str | None = None
    api_enabled: bool = True
    api_only: bool = False
    modify_all: bool = False
    view_all: bool = False
    objects: dict = field(default_factory=dict)  # sobject -> "read" | "edit" (ignored with modify_all)
    field_read: dict | None = None  # sobject -> [fields]; None = every field readable
    field_edit: dict | None = None  # sobject -> [fields]; None = every updateable field
    bypass_validation: bool = False
    visible_gbus: list | None = None  # None = all GBUs
    permission_set: str | None = None  # dedicated permission set holding the grants
    session_id: str = ""
    user_id: str = ""
    password: str = ""  # SOAP login(): password + security_token (soap.py); generated when empty
    security_token: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> "UserSpec":
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)


def default_users() -> list:
    """The three users of seed 3.1: least-privilege integration, admin, over-privileged integration."""
    business_read = {"Lead": "edit", "CampaignMember": "edit", "Contact": "read", "Campaign": "read"}
    hidden = {"Lead": ["Phone"]}
    readable = {o: [f for f in SCHEMA[o].fields if f not in hidden.get(o, [])] for o in BUSINESS_OBJECTS}
    return [
        UserSpec(
            "integration",
            f"clay.integration@{ORG_DOMAIN}",
            "Clay Integration",
            "API Only Integration",
            role="SBS",
            api_only=True,
            objects=business_read,
            field_read=readable,
            field_edit=copy.deepcopy(WRITEBACK_FIELDS),
            bypass_validation=True,
            permission_set="Clay_Integration_Writeback",
        ),
        UserSpec(
            "admin",
            f"admin@{ORG_DOMAIN}",
            "Sandbox Admin",
            "System Administrator",
            role="CEO",
            modify_all=True,
            view_all=True,
        ),
        UserSpec(
            "overprivileged",
            f"clay.legacy@{ORG_DOMAIN}",
            "Clay Legacy Integration",
            "Integration Power User",
            role="Marketing",
            modify_all=True,
            view_all=True,
            objects={"Lead": "edit", "CampaignMember": "edit", "Contact": "edit", "Campaign": "read"},
            field_edit={
                "Lead": WRITEBACK_FIELDS["Lead"] + ["Email", "Status", "Company"],
                "CampaignMember": WRITEBACK_FIELDS["CampaignMember"] + ["Status"],
                "Contact": ["Email", "FirstName", "LastName", "HasOptedOutOfEmail"],
            },
            visible_gbus=list(GBUS[:-1]),
        ),
    ]


def build_users(overrides: dict | None, next_id) -> list:
    """Default users with `overrides` ({key: {field: value}}) applied; new keys start from 'integration'."""
    users = {u.key: u for u in default_users()}
    for key, changes in (overrides or {}).items():
        base = users.get(key) or UserSpec(
            **{**users["integration"].to_dict(), "key": key, "username": f"{key}@{ORG_DOMAIN}", "name": key}
        )
        users[key] = UserSpec(**{**base.to_dict(), **changes})
    for user in users.values():
        user.user_id = user.user_id or next_id("User")
        user.session_id = user.session_id or new_session_id()
        give_password(user)
    return list(users.values())


def give_password(user: UserSpec) -> None:
    """A password and a security token (25 letters and digits, as Salesforce sends by email) if it has none."""
    alphabet = string.ascii_letters + string.digits
    user.password = user.password or "Sbx-" + secrets.token_urlsafe(12)
    user.security_token = user.security_token or "".join(secrets.choice(alphabet) for _ in range(25))


def new_session_id() -> str:
    return "00D8d0000000SbxEAE!" + secrets.token_urlsafe(48)


# ---- access checks ---------------------------------------------------------------------------------


def can_read_object(user: UserSpec, sobject: str) -> bool:
    obj = SCHEMA[sobject]
    return obj.setup or user.view_all or user.modify_all or sobject in user.objects


def can_edit_object(user: UserSpec, sobject: str) -> bool:
    if SCHEMA[sobject].setup:
        return False
    return user.modify_all or user.objects.get(sobject) == "edit"


def can_read_field(user: UserSpec, sobject: str, name: str) -> bool:
    fdef = SCHEMA[sobject].fields[name]
    if not can_read_object(user, sobject):
        return False
    if SCHEMA[sobject].setup or not fdef.permissionable or user.field_read is None:
        return True
    return name in user.field_read.get(sobject, ())


def can_edit_field(user: UserSpec, sobject: str, name: str) -> bool:
    fdef = SCHEMA[sobject].fields[name]
    if not (fdef.updateable and can_edit_object(user, sobject) and can_read_field(user, sobject, name)):
        return False
    return user.field_edit is None or name in user.field_edit.get(sobject, ())


def sees_gbu(user: UserSpec, sobject: str, record: dict) -> bool:
    """Record visibility by GBU (Lead, Campaign): rows outside the user's GBUs are invisible."""
    if not SCHEMA[sobject].gbu_scoped or user.visible_gbus is None:
        return True
    return record.get("GBU__c") in user.visible_gbus
