"""The sandbox org's schema: objects, fields, picklists, formulas, key prefixes.

One `FieldDef` per field. `updateable` here is the field's own property (formulas and system fields are
never updateable); what a given user may read or edit is decided in `security.py`.

Deviation from a real org, on purpose: every non-system field is FLS-controlled (`permissionable`),
including required standard fields such as Company, LastName and Status, so that a permission set can
limit the integration user's edit rights to exactly the seed's allowlist (seed §3.1/3.2).
"""

from dataclasses import dataclass, field

LEAD_INDUSTRIES = (
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Other",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
)
REPLY_CLASSIFICATIONS = (
    "Interested",
    "Meeting Request",
    "Not Interested",
    "Do Not Contact",
    "Information Request",
    "Out Of Office",
    "Wrong Person",
    "Uncategorizable by AI",
    "Sender Originated Bounce",
)
LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Nurturing",
    "Unqualified",
    "Closed - Converted",
    "Closed - Not Converted",
)
CM_STATUSES = ("Planned", "Sent", "Opened", "Clicked", "Received", "Responded")
# The demo data's Global Business Units (reconcile/demo_data/vocab.py); GBU__c is not restricted.
GBUS = ("Specialty Polymers", "Composite Materials", "Novecare", "Aroma Performance")

SYSTEM_FIELDS = (
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)


@dataclass
class FieldDef:
    name: str
    type: str  # id, string, email, textarea, picklist, boolean, datetime, reference, phone
    label: str
    length: int = 0
    updateable: bool = True
    createable: bool = True
    nillable: bool = True
    custom: bool = False
    system: bool = False  # audit / system field: never FLS-restricted, never written by API
    formula: str | None = None  # calculatedFormula text (formula fields are computed at read)
    picklist: tuple = ()
    restricted: bool = False
    default: object = None
    reference_to: str | None = None
    relationship: str | None = None
    derived: bool = False  # computed at read from other fields, not a formula (Lead/Contact Name)

    @property
    def calculated(self) -> bool:
        return self.formula is not None

    @property
    def permissionable(self) -> bool:
        return not self.system and self.type != "id"


@dataclass
class ObjectDef:
    name: str
    label: str
    plural: str
    prefix: str
    fields: dict = field(default_factory=dict)
    gbu_scoped: bool = False  # rows invisible to users whose visible GBUs exclude GBU__c
    setup: bool = False  # setup object: readable by every user, never writable by API
    children: tuple = ()  # (childSObject, field, relationshipName)

    def field(self, name: str) -> FieldDef | None:
        """Case-insensitive field lookup (SOQL and CSV headers are case-insensitive)."""
        found = self.fields.get(name)
        if found is None:
            found = self._lower().get(name.lower())
        return found

    def relationship(self, name: str) -> FieldDef | None:
        lower = name.lower()
        for fdef in self.fields.values():
            if fdef.relationship and fdef.relationship.lower() == lower:
                return fdef
        return None

    def _lower(self) -> dict:
        if not hasattr(self, "_lower_cache"):
            self._lower_cache = {k.lower(): v for k, v in self.fields.items()}
        return self._lower_cache


def _s(name, label, length=255, **kw):
    return FieldDef(name, "string", label, length, **kw)


def _b(name, label, **kw):
    kw.setdefault("nillable", False)
    kw.setdefault("default", False)
    return FieldDef(name, "boolean", label, **kw)


def _ref(name, label, target, rel, **kw):
    return FieldDef(name, "reference", label, 18, reference_to=target, relationship=rel, **kw)


def _system_fields(owner: bool = True) -> list:
    """The standard fields of every record (Object Reference, "System Fields":
    https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/system_fields.htm):
    Id, IsDeleted, the audit fields CreatedDate/CreatedById/LastModifiedDate/LastModifiedById/SystemModstamp,
    and OwnerId on objects that have owners. None of them can be hidden by field-level security."""

    def audit(name, label, kind="datetime", target=None):
        if kind == "reference":
            return _ref(
                name,
                label,
                target,
                label.removesuffix(" ID").replace(" ", ""),
                updateable=False,
                createable=False,
                nillable=False,
                system=True,
            )
        return FieldDef(name, kind, label, updateable=False, createable=False, nillable=False, system=True)

    out = [
        FieldDef("Id", "id", "Record ID", 18, updateable=False, createable=False, nillable=False, system=True),
        _b("IsDeleted", "Deleted", updateable=False, createable=False, system=True),
    ]
    if owner:
        out.append(_ref("OwnerId", "Owner ID", "User", "Owner", nillable=False, system=True))
    out += [
        audit("CreatedDate", "Created Date"),
        audit("CreatedById", "Created By ID", "reference", "User"),
        audit("LastModifiedDate", "Last Modified Date"),
        audit("LastModifiedById", "Last Modified By ID", "reference", "User"),
        audit("SystemModstamp", "System Modstamp"),
    ]
    return out


def _full_name() -> FieldDef:
    """Lead/Contact `Name`: the read-only concatenation of FirstName and LastName."""
    return _s("Name", "Full Name", 121, updateable=False, createable=False, system=True, derived=True)


def _obj(name, label, plural, prefix, fields, **kw) -> ObjectDef:
    return ObjectDef(name, label, plural, prefix, {f.name: f for f in fields}, **kw)


OVERALL_FORMULA = "OR(pi__pardot_hard_bounced__c, external_hard_bounced__c)"
COLD_FORMULA = (
    "AND(NOT(HasOptedOutOfEmail), NOT(overall_hard_bounced__c), "
    "NOT(Contact_With_Same_Email__c))"
)  # the last term: a Contact whose Email matches, any case


def compute_formulas(sobject: str, record: dict, contact_emails: set) -> dict:
    """Formula values of one stored record (`contact_emails`: lower-cased Emails of live Contacts)."""
    if sobject == "Contact":
        return {"Name": _name_of(record)}
    if sobject != "Lead":
        return {}
    overall = bool(record.get("pi__pardot_hard_bounced__c")) or bool(record.get("external_hard_bounced__c"))
    email = (record.get("Email") or "").strip().lower()
    has_contact = bool(email) and email in contact_emails
    cold = not record.get("HasOptedOutOfEmail") and not overall and not has_contact
    return {"overall_hard_bounced__c": overall, "Cold_Lead_Eligible__c": cold, "Name": _name_of(record)}


def _name_of(record: dict) -> str | None:
    return " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p) or None


def _lead() -> ObjectDef:
    return _obj(
        "Lead",
        "Lead",
        "Leads",
        "00Q",
        _system_fields()
        + [
            FieldDef("Email", "email", "Email", 80),
            _s("FirstName", "First Name", 40),
            _s("LastName", "Last Name", 80, nillable=False),
            _full_name(),
            _s("Company", "Company", 255, nillable=False),
            FieldDef("Phone", "phone", "Phone", 40),
            FieldDef("Industry", "picklist", "Industry", 255, picklist=LEAD_INDUSTRIES, restricted=True),
            FieldDef("company_description__c", "textarea", "Company Description", 255, custom=True),
            _b("external_hard_bounced__c", "External Hard Bounced", custom=True),
            _b("pi__pardot_hard_bounced__c", "Pardot Hard Bounced", custom=True),
            _b(
                "overall_hard_bounced__c",
                "Overall Hard Bounced",
                custom=True,
                updateable=False,
                createable=False,
                formula=OVERALL_FORMULA,
            ),
            _b(
                "Cold_Lead_Eligible__c",
                "Cold Lead Eligible",
                custom=True,
                updateable=False,
                createable=False,
                formula=COLD_FORMULA,
            ),
            _b("HasOptedOutOfEmail", "Email Opt Out"),
            _b("IsConverted", "Converted", updateable=False, system=True),
            _ref(
                "ConvertedContactId",
                "Converted Contact ID",
                "Contact",
                "ConvertedContact",
                updateable=False,
                createable=False,
                system=True,
            ),
            FieldDef(
                "Status",
                "picklist",
                "Status",
                255,
                nillable=False,
                picklist=LEAD_STATUSES,
                default="Open - Not Contacted",
            ),
            FieldDef("GBU__c", "picklist", "GBU", 255, custom=True, picklist=GBUS),
        ],
        gbu_scoped=True,
        children=(("CampaignMember", "LeadId", "CampaignMembers"),),
    )


def _campaign_member() -> ObjectDef:
    return _obj(
        "CampaignMember",
        "Campaign Member",
        "Campaign Members",
        "00v",
        _system_fields(owner=False)
        + [
            _ref("CampaignId", "Campaign ID", "Campaign", "Campaign", nillable=False, updateable=False),
            _ref("LeadId", "Lead ID", "Lead", "Lead", updateable=False),
            _ref("ContactId", "Contact ID", "Contact", "Contact", updateable=False),
            FieldDef("Status", "picklist", "Status", 40, picklist=CM_STATUSES, default="Sent"),
            _b("Has_Replied__c", "Has Replied", custom=True),
            FieldDef(
                "ReplyClassification__c",
                "picklist",
                "Reply Classification",
                255,
                custom=True,
                picklist=REPLY_CLASSIFICATIONS,
                restricted=True,
            ),
        ],
    )


def _contact() -> ObjectDef:
    return _obj(
        "Contact",
        "Contact",
        "Contacts",
        "003",
        _system_fields()
        + [
            FieldDef("Email", "email", "Email", 80),
            _s("FirstName", "First Name", 40),
            _s("LastName", "Last Name", 80, nillable=False),
            _full_name(),
            _b("HasOptedOutOfEmail", "Email Opt Out"),
        ],
        children=(("CampaignMember", "ContactId", "CampaignMembers"),),
    )


def _campaign() -> ObjectDef:
    return _obj(
        "Campaign",
        "Campaign",
        "Campaigns",
        "701",
        _system_fields()
        + [
            _s("Name", "Campaign Name", 80, nillable=False),
            FieldDef("GBU__c", "picklist", "GBU", 255, custom=True, picklist=GBUS),
            _b("IsActive", "Active"),
        ],
        gbu_scoped=True,
        children=(("CampaignMember", "CampaignId", "CampaignMembers"),),
    )


def _setup(name, label, prefix, fields) -> ObjectDef:
    base = [FieldDef("Id", "id", f"{label} ID", 18, updateable=False, createable=False, nillable=False, system=True)]
    return _obj(name, label, label + "s", prefix, base + fields, setup=True)


def _perm_flags(*names) -> list:
    return [_b(n, n.replace("Permissions", "")) for n in names]


def _setup_objects() -> list:
    perms = ("PermissionsApiEnabled", "PermissionsApiUserOnly", "PermissionsModifyAllData", "PermissionsViewAllData")
    return [
        _setup(
            "User",
            "User",
            "005",
            [
                _s("Username", "Username", 80),
                _s("Name", "Full Name", 121),
                _b("IsActive", "Active"),
                _ref("ProfileId", "Profile ID", "Profile", "Profile"),
                _ref("UserRoleId", "Role ID", "UserRole", "UserRole"),
                FieldDef("Visible_GBUs__c", "multipicklist", "Visible GBUs", 4099, custom=True, picklist=GBUS),
            ],
        ),
        _setup("Profile", "Profile", "00e", [_s("Name", "Name")] + _perm_flags(*perms)),
        _setup("UserRole", "Role", "00E", [_s("Name", "Name", 80), _s("DeveloperName", "Developer Name", 80)]),
        _setup(
            "PermissionSet",
            "Permission Set",
            "0PS",
            [
                _s("Name", "Name", 80),
                _s("Label", "Label", 80),
                _b("IsOwnedByProfile", "Is Owned By Profile"),
                _ref("ProfileId", "Profile ID", "Profile", "Profile"),
            ]
            + _perm_flags(*perms, "PermissionsManageUsers", "PermissionsCustomizeApplication"),
        ),
        _setup(
            "PermissionSetAssignment",
            "Permission Set Assignment",
            "0Pa",
            [
                _ref("AssigneeId", "Assignee ID", "User", "Assignee"),
                _ref("PermissionSetId", "Permission Set ID", "PermissionSet", "PermissionSet"),
            ],
        ),
        _setup(
            "ObjectPermissions",
            "Object Permissions",
            "110",
            [
                _ref("ParentId", "Parent ID", "PermissionSet", "Parent"),
                _s("SobjectType", "Sobject Type", 40),
            ]
            + _perm_flags(
                "PermissionsRead",
                "PermissionsCreate",
                "PermissionsEdit",
                "PermissionsDelete",
                "PermissionsViewAllRecords",
                "PermissionsModifyAllRecords",
            ),
        ),
        _setup(
            "FieldPermissions",
            "Field Permissions",
            "01k",
            [
                _ref("ParentId", "Parent ID", "PermissionSet", "Parent"),
                _s("SobjectType", "Sobject Type", 40),
                _s("Field", "Field Name", 255),
            ]
            + _perm_flags("PermissionsRead", "PermissionsEdit"),
        ),
        _setup(
            "CustomPermission",
            "Custom Permission",
            "0CP",
            [
                _s("DeveloperName", "Name", 80),
                _s("MasterLabel", "Label", 80),
            ],
        ),
        _setup(
            "SetupEntityAccess",
            "Setup Entity Access",
            "0J0",
            [
                _ref("ParentId", "Parent ID", "PermissionSet", "Parent"),
                FieldDef("SetupEntityId", "reference", "Setup Entity ID", 18),
                _s("SetupEntityType", "Setup Entity Type", 40),
            ],
        ),
    ]


def build_schema() -> dict:
    """All objects of the sandbox org, by API name."""
    objects = [_lead(), _campaign_member(), _contact(), _campaign()] + _setup_objects()
    return {o.name: o for o in objects}


SCHEMA = build_schema()
BUSINESS_OBJECTS = ("Lead", "CampaignMember", "Contact", "Campaign")


def find_object(name: str) -> ObjectDef | None:
    """Case-insensitive object lookup."""
    found = SCHEMA.get(name)
    if found is None:
        found = next((o for n, o in SCHEMA.items() if n.lower() == name.lower()), None)
    return found


def object_for_id(record_id: str) -> ObjectDef | None:
    return next((o for o in SCHEMA.values() if record_id.startswith(o.prefix)), None)
