"""The snapshot contract (SPEC §2): which files a snapshot holds and which columns each must carry.

This registry is the only place file headers are named. Column `name` is the canonical (raw-table) name;
`header` is the name expected in the file (matched case-insensitively), `aliases` are accepted too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

# value types checked at ingest; the checks themselves live in sql/macros/values.sql
TYPES = {
    "id": "a Salesforce id (15 or 18 letters and digits with a valid checksum)",
    "bool": "a boolean (true/false/1/0/yes/no/y/n/t/f or empty)",
    "timestamp": "an ISO 8601 timestamp such as 2025-03-28T09:35:01Z",
    "int": "a whole number",
    "json": "a JSON document",
    "text": "text without NUL bytes (shown as \\x00: a sign of a damaged or wrongly encoded export)",
}


class Parser(NamedTuple):
    """How a typed column's value is parsed once, in the read, into a column beside its text: `<name>__<suffix>`
    holds `cast(<macro>(<name>) as <sql_type>)` (macros in sql/macros/values.sql), NULL when blank or malformed.
    Checks compare the two; staging models select the parsed column instead of parsing again. JSON is only
    checked, not parsed."""

    suffix: str
    macro: str
    sql_type: str


PARSERS = {
    "id": Parser("id18", "sf_id18_read", "varchar"),  # + snapshots.verify_ids (18-byte ids checked in bulk)
    "bool": Parser("bool", "sf_bool", "boolean"),
    "timestamp": Parser("ts", "sf_ts", "timestamptz"),
    "int": Parser("int", "sf_int", "bigint"),
}


@dataclass(frozen=True)
class Column:
    name: str
    header: str
    type: str = "text"
    required: bool = True
    aliases: tuple[str, ...] = ()
    stg: str | None = None  # the column's name in its stg_ model when that differs from `name`
    prefix: str | None = None  # an id column of a Salesforce export: the key prefix of the object it holds ids of

    def headers(self) -> tuple[str, ...]:
        return (self.header, *self.aliases)

    @property
    def parsed(self) -> str | None:
        """The raw-table column holding this column's parsed value (None for text and JSON)."""
        return f"{self.name}__{PARSERS[self.type].suffix}" if self.type in PARSERS else None

    @property
    def staged(self) -> str:
        """The column's name in its stg_ model."""
        return self.stg or self.name


@dataclass(frozen=True)
class Source:
    name: str  # raw table is raw_<name>
    system: str  # sfdc | clay | smartlead | pardot
    globs: tuple[str, ...]  # the documented name (messages); `pattern` decides which files are the source's
    columns: tuple[Column, ...]
    required: bool = False
    key: str | None = None  # primary key column (duplicates are bad input)
    formats: tuple[str, ...] = (".csv", ".parquet", ".jsonl")
    keep_payload: bool = False  # keep each JSON line whole (webhook events)
    pattern: str = ""  # regex on the lower-cased path without its suffix ("sfdc/lead_2026-11-27")
    multi_file: bool = False  # several files make one source (Clay tables, Smartlead campaigns, event days)

    @property
    def table(self) -> str:
        return f"raw_{self.name}"

    def matches(self, stem_path: str) -> bool:
        return re.fullmatch(self.pattern, stem_path) is not None


# The Salesforce sources' headers are the objects' API field names: `reconcile pull` queries exactly these fields
# (salesforce_fields) and the sandbox is seeded from the staged columns back to them (seeding.py).
# Natural export names are accepted: the object or file name, optionally plural, optionally followed by a separator
# and anything (a date, "export", "(1)"): sfdc/Lead.csv, sfdc/leads_2026-11-27.csv, pardot/Prospects export.csv.
_AFTER = r"([-_ .(].*)?"


def C(name, header=None, type="text", required=True, aliases=(), stg=None, prefix=None):  # noqa: N802 - registry
    return Column(
        name=name, header=header or name, type=type, required=required, aliases=tuple(aliases), stg=stg, prefix=prefix
    )


# Key prefixes (the first three characters of a Salesforce id name its object, the same in every org for standard
# objects): an export's Id column holding another object's id is bad input, as a malformed id is — a Contact id in
# Lead.csv would be planned as a Lead; `explain` names a record's object by it.
# https://help.salesforce.com/s/articleView?id=000385203&type=1 (Standard field record ID prefix decoder)
KEY_PREFIXES = {"00Q": "Lead", "003": "Contact", "00v": "CampaignMember", "701": "Campaign"}


SFDC_LEAD = Source(
    "sfdc__lead",
    "sfdc",
    ("sfdc/Lead.*",),
    required=True,
    key="id",
    pattern=r"sfdc/leads?" + _AFTER,
    columns=(
        C("id", "Id", "id", stg="sf_lead_id", prefix="00Q"),
        C("email", "Email", stg="email_raw"),
        C("company", "Company"),
        C("industry", "Industry"),
        C("company_description", "company_description__c"),
        C("external_hard_bounced", "external_hard_bounced__c", "bool"),
        C("overall_hard_bounced", "overall_hard_bounced__c", "bool"),
        C("pardot_hard_bounced", "pi__pardot_hard_bounced__c", "bool"),
        C("cold_lead_eligible", "Cold_Lead_Eligible__c", "bool"),
        C("has_opted_out", "HasOptedOutOfEmail", "bool"),
        C("is_converted", "IsConverted", "bool"),
        C("status", "Status"),
        C("system_modstamp", "SystemModstamp", "timestamp"),
        C("gbu", "GBU__c", required=False),
    ),
)
SFDC_CAMPAIGN_MEMBER = Source(
    "sfdc__campaign_member",
    "sfdc",
    ("sfdc/CampaignMember.*",),
    required=True,
    key="id",
    pattern=r"sfdc/campaign[-_ ]?members?" + _AFTER,
    columns=(
        C("id", "Id", "id", stg="sf_campaign_member_id", prefix="00v"),
        C("campaign_id", "CampaignId", "id", stg="sf_campaign_id", prefix="701"),
        C("lead_id", "LeadId", "id", stg="sf_lead_id", prefix="00Q"),
        C("contact_id", "ContactId", "id", stg="sf_contact_id", prefix="003"),
        C("status", "Status"),
        C("has_replied", "Has_Replied__c", "bool"),
        C("reply_classification", "ReplyClassification__c"),
        C("system_modstamp", "SystemModstamp", "timestamp"),
    ),
)
SFDC_CONTACT = Source(
    "sfdc__contact",
    "sfdc",
    ("sfdc/Contact.*",),
    required=True,
    key="id",
    pattern=r"sfdc/contacts?" + _AFTER,
    columns=(
        C("id", "Id", "id", stg="sf_contact_id", prefix="003"),
        C("email", "Email", stg="email_raw"),
    ),
)
SFDC_CAMPAIGN = Source(
    "sfdc__campaign",
    "sfdc",
    ("sfdc/Campaign.*",),
    key="id",
    pattern=r"sfdc/campaigns?" + _AFTER,
    columns=(
        C("id", "Id", "id", stg="sf_campaign_id", prefix="701"),
        C("name", "Name", required=False),
        C("gbu", "GBU__c", required=False),
    ),
)
CLAY_ERRORS = Source(
    "clay__errors",
    "clay",
    ("clay/errors.*",),
    pattern=r"clay/errors?" + _AFTER,
    columns=(
        C("time", "time", "timestamp", aliases=("timestamp", "created_at")),
        C("object", "object", required=False),
        C("record_id", "record id", aliases=("record_id", "recordid", "id"), required=False),
        C("field", "field", required=False),
        C("message", "message", aliases=("error",)),
    ),
)
SMARTLEAD_LEADS = Source(
    "smartlead__leads",
    "smartlead",
    ("smartlead/campaign-<id>.*",),
    multi_file=True,
    pattern=r"smartlead/campaign[-_ ]?\d+" + _AFTER,
    columns=(
        C("sl_lead_id", "id", stg="smartlead_lead_id"),
        C("map_id", "campaign_lead_map_id", required=False, stg="smartlead_lead_map_id"),
        C("status", "status", required=False),
        C("category", "category", required=False),
        C("email", "email"),
        C("reply_count", "reply_count", "int", required=False),
        C("custom_fields", "custom_fields", "json", required=False),
    ),
)
SMARTLEAD_EVENTS = Source(
    "smartlead__events",
    "smartlead",
    ("smartlead/events.jsonl",),
    formats=(".jsonl",),
    keep_payload=True,
    multi_file=True,
    pattern=r"smartlead/events?" + _AFTER,
    columns=(),
)
PARDOT_PROSPECTS = Source(
    "pardot__prospects",
    "pardot",
    ("pardot/prospects.*",),
    pattern=r"pardot/.*prospect.*",
    columns=(
        C("prospect_id", "id", stg="pardot_prospect_id"),
        C("email", "email", required=False),
        C("sf_lead_id", "salesforceLeadId", "id", required=False, aliases=("crm_lead_fid",)),
        C("sf_contact_id", "salesforceContactId", "id", required=False, aliases=("crm_contact_fid",)),
        C("sf_id", "salesforceId", "id", required=False, aliases=("salesforce_fid",)),
        C(
            "is_hard_bounced",
            "isEmailHardBounced",
            "bool",
            required=False,
            aliases=("is_email_hard_bounced", "email_hard_bounced"),
        ),
        C("bounced_at", "emailBouncedAt", "timestamp", required=False, aliases=("email_bounced_at",)),
        C("updated_at", "updatedAt", "timestamp", required=False, aliases=("updated_at",)),
    ),
)


SALESFORCE_OBJECTS = {
    "Lead": SFDC_LEAD,
    "CampaignMember": SFDC_CAMPAIGN_MEMBER,
    "Contact": SFDC_CONTACT,
    "Campaign": SFDC_CAMPAIGN,
}


def salesforce_fields() -> dict[str, list[str]]:
    """The API field names `reconcile pull` reads, per sObject, in snapshot column order."""
    return {obj: [c.header for c in src.columns] for obj, src in SALESFORCE_OBJECTS.items()}


# Clay tables: every column the policy can map ([clay.columns] key = `name`), its type, and the header Clay's
# exports use unless the policy renames it (the packaged default policy spells the same headers; a test checks).
CLAY_COLUMNS = (
    C("campaign_member_id", "CampaignMemberId", "id"),
    C("lead_id", "LeadId", "id"),
    C("email", "Email"),
    C("company_description", "Company Description"),
    C("industry", "Industry"),
    C("smartlead_lead_id", "Smartlead Lead ID"),
    C("smartlead_campaign_id", "Smartlead Campaign ID"),
    C("hard_bounced", "Hard Bounced", "bool"),
    C("replied", "Replied", "bool"),
    C("reply_category", "Reply Category"),
    C("reply_at", "Reply At", "timestamp"),
    C("email_validation", "Email Validation"),
)
CLAY_KEYS = tuple(c.name for c in CLAY_COLUMNS)


def clay_source(columns: dict[str, str]) -> Source:
    """Clay exports: headers come from the policy's [clay.columns] mapping; every column is optional."""
    types = {c.name: c.type for c in CLAY_COLUMNS}
    cols = tuple(C(key, header, types.get(key, "text"), required=False) for key, header in columns.items())
    return Source("clay__rows", "clay", ("clay/*",), columns=cols, multi_file=True, pattern=r"clay/.+")


SYSTEMS = ("sfdc", "clay", "smartlead", "pardot")  # the snapshot's source folders


def sources(clay_columns: dict[str, str]) -> list[Source]:
    """All sources in load order (a more specific name is matched first: CampaignMember before Campaign; Clay tables
    take what no other Clay source claims)."""
    return [
        SFDC_LEAD,
        SFDC_CAMPAIGN_MEMBER,
        SFDC_CONTACT,
        SFDC_CAMPAIGN,
        clay_source(clay_columns),
        CLAY_ERRORS,
        SMARTLEAD_LEADS,
        SMARTLEAD_EVENTS,
        PARDOT_PROSPECTS,
    ]


CLAY_IDENTITY = ("campaign_member_id", "lead_id", "email")
