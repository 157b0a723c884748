"""ScenarioBuilder: writes the hand-made scenario records row by row (a few dozen, so plain Python is fine)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .events import BOUNCE_TEXT, category_id
from .ids import CAMPAIGN_MEMBER, CONTACT, LEAD, scenario_id
from .render import BOOL_EXCEL, BOOL_PLAIN, TS_MICROS_UTC, TS_MILLIS_Z, TS_MINUS5, TS_Z, Renderer

HOUR = 3_600_000_000
DAY = 24 * HOUR
SL_LEAD_BASE, SL_MAP_BASE, PARDOT_BASE = 2_800_000_000, 2_300_000_000, 40_000_000


def company_of(email: str) -> str:
    """'kai.blank@keystone-batteries.de' → 'Keystone Batteries'."""
    return email.split("@")[1].rsplit(".", 1)[0].replace("-", " ").title()


def names_of(email: str) -> tuple[str, str]:
    first, _, last = email.split("@")[0].partition(".")
    return first.title(), last.title()


@dataclass
class Ref:
    id: str
    email: str
    number: int
    lead: Ref | None = None  # for a campaign member: its lead
    campaign: int = 0


@dataclass
class Scenario:
    name: str
    covers: str  # the SPEC §4 / §3 case
    expect: list[str]
    records: list[str] = field(default_factory=list)


class ScenarioBuilder:
    def __init__(self, r: Renderer, taken_us: int, campaign_ids: list[str], sl_ids: list[int]):
        self.r, self.t = r, taken_us
        self.campaign_ids, self.sl_ids = campaign_ids, sl_ids
        self.rows: dict[str, list] = {
            k: []
            for k in (
                "lead",
                "cm",
                "contact",
                "clay_enrichment",
                "clay_replies",
                "smartlead",
                "pardot",
                "events",
                "errors",
            )
        }
        self.catalogue: list[Scenario] = []
        self.counts = {"lead": 0, "cm": 0, "contact": 0, "pardot": 0}

    def begin(self, name: str, covers: str, *expect: str) -> None:
        self.catalogue.append(Scenario(name, covers, list(expect)))

    def _next(self, kind: str) -> int:
        self.counts[kind] += 1
        return self.counts[kind]

    # Salesforce ------------------------------------------------------------------------------------------
    def lead(
        self,
        email: str,
        *,
        company: str | None = None,
        industry: str | None = "Chemicals",
        description: str | None = "Supplier of adhesives based in Lyon.",
        external: bool = False,
        pardot: bool = False,
        overall: bool | None = None,
        eligible: bool | None = None,
        opted_out: bool = False,
        converted: bool = False,
        gbu: str = "Specialty Polymers",
        spelled: str | None = None,
    ) -> Ref:
        number = self._next("lead")
        ref = Ref(scenario_id(LEAD, number), email, number)
        overall = (pardot or external) if overall is None else overall
        eligible = (not opted_out and not overall and not converted) if eligible is None else eligible
        b = self.r.bool1
        self.rows["lead"].append(
            {
                "Id": ref.id,
                "Email": self.r.email1(email, spelled or email),
                "Company": company or company_of(email),
                "Industry": industry,
                "company_description__c": description,
                "external_hard_bounced__c": b(external),
                "overall_hard_bounced__c": b(overall),
                "pi__pardot_hard_bounced__c": b(pardot),
                "Cold_Lead_Eligible__c": b(eligible),
                "HasOptedOutOfEmail": b(opted_out),
                "IsConverted": b(converted),
                "Status": "Closed - Converted" if converted else "Working - Contacted",
                "SystemModstamp": self.r.ts1(self.t - 3 * DAY - number * HOUR, TS_MILLIS_Z),
                "GBU__c": gbu,
            }
        )
        self.catalogue[-1].records.append(ref.id)
        return ref

    def contact(self, email: str) -> str:
        contact_id = scenario_id(CONTACT, self._next("contact"))
        self.rows["contact"].append({"Id": contact_id, "Email": self.r.email1(email.lower(), email)})
        return contact_id

    def member(
        self,
        lead: Ref,
        campaign: int = 0,
        *,
        replied: bool = False,
        classification: str = "",
        smartlead: bool = True,
        **smartlead_fields,
    ) -> Ref:
        number = self._next("cm")
        ref = Ref(scenario_id(CAMPAIGN_MEMBER, number), lead.email, number, lead, campaign)
        self.rows["cm"].append(
            {
                "Id": ref.id,
                "CampaignId": self.campaign_ids[campaign],
                "LeadId": lead.id,
                "ContactId": "",
                "Status": "Responded" if replied else "Sent",
                "Has_Replied__c": self.r.bool1(replied, BOOL_EXCEL),
                "ReplyClassification__c": classification,
                "SystemModstamp": self.r.ts1(self.t - 2 * DAY - number * HOUR, TS_MILLIS_Z),
            }
        )
        self.catalogue[-1].records.append(ref.id)
        if smartlead:
            self.smartlead(ref, **smartlead_fields)
        return ref

    # Smartlead -------------------------------------------------------------------------------------------
    def smartlead(
        self,
        cm: Ref,
        *,
        category: str = "",
        reply_count: int = 0,
        status: str = "COMPLETED",
        custom_fields: str | None = None,
        email: str | None = None,
        lead_number: int | None = None,
        short_id: bool = False,
    ) -> None:
        lead = cm.lead
        if custom_fields is None:
            custom_fields = json.dumps(
                {
                    "job_title": "Buyer",
                    "sfdc_lead_id": self.r.id1(lead.id, short_id),
                    "sfdc_campaign_id": self.campaign_ids[cm.campaign],
                }
            )
        self.rows["smartlead"].append(
            {
                "_campaign": cm.campaign,
                "id": str(SL_LEAD_BASE + (lead_number or lead.number)),
                "campaign_lead_map_id": str(SL_MAP_BASE + cm.number),
                "status": status,
                "category": category,
                "is_interested": self.r.bool1(category in ("Interested", "Meeting Request")),
                "created_at": self.r.ts1(self.t - 30 * DAY, TS_MILLIS_Z),
                "first_name": names_of(cm.email)[0],
                "last_name": names_of(cm.email)[1],
                "email": email or cm.email,
                "phone_number": "",
                "company_name": company_of(cm.email),
                "website": "",
                "location": "Lyon",
                "custom_fields": custom_fields,
                "linkedin_profile": "",
                "company_url": "",
                "is_unsubscribed": "false",
                "unsubscribed_client_id_map": "",
                "last_email_sequence_sent": "2",
                "open_count": "0",
                "click_count": "0",
                "reply_count": str(reply_count),
            }
        )

    def event(
        self, event_type: str, cm: Ref, at_us: int, style: str = TS_MICROS_UTC, *, old: bool = False, **fields
    ) -> None:
        """One webhook payload; `old` uses deprecated names (lead_email, campaign_id as a string)."""
        sl_campaign = self.sl_ids[cm.campaign]
        payload = {
            "event_type": event_type,
            "event_timestamp": self.r.ts1(at_us, style),
            "campaign_id": str(sl_campaign) if (old and self.r.quirks) else sl_campaign,
        }
        if not event_type.startswith("EMAIL_BOUNCE"):
            payload["sl_email_lead_id"] = str(SL_LEAD_BASE + cm.lead.number)
        payload["sl_email_lead_map_id"] = SL_MAP_BASE + cm.number
        payload["lead_email" if old else "sl_lead_email"] = cm.email
        payload["to_email"] = cm.email
        payload.update(fields)
        self.rows["events"].append((at_us, payload))

    def bounce_event(self, cm: Ref, at_us: int, *, old: bool = False) -> None:
        name = "EMAIL_BOUNCED" if (old and self.r.quirks) else "EMAIL_BOUNCE"
        self.event(name, cm, at_us, TS_MILLIS_Z, old=old, is_bounced=True, bounce_message={"text": BOUNCE_TEXT})

    def category_event(self, cm: Ref, at_us: int, new: str, old_name: str | None = None, style: str = TS_Z) -> None:
        category = {
            "old_id": category_id(old_name) if old_name else None,
            "old_name": old_name,
            "new_id": category_id(new),
            "new_name": new,
        }
        self.event(
            "LEAD_CATEGORY_UPDATED",
            cm,
            at_us,
            style,
            lead_category=category,
            lead_data={"email": cm.email, "first_name": names_of(cm.email)[0]},
        )

    # Clay --------------------------------------------------------------------------------------------------
    def clay(
        self,
        cm: Ref | None,
        *,
        lead: Ref | None = None,
        email: str | None = None,
        lead_id: str | None = None,
        description: str = "",
        industry: str = "",
        validation: str = "valid",
        hard_bounced: str = "",
        replied: str = "",
        category: str = "",
        reply_at: str = "",
        replies: bool = True,
        enrichment: bool = True,
    ) -> None:
        """A Clay row in enrichment.csv and/or replies.csv; values are given as the export spells them."""
        lead = lead or (cm.lead if cm else None)
        email = self.r.email1(lead.email if lead else (email or "").strip().lower(), email or lead.email)
        keys = {
            "CampaignMemberId": cm.id if cm else "",
            "LeadId": lead_id if lead_id is not None else (self.r.id1(lead.id, short=True) if lead else ""),
            "Email": email,
            "Smartlead Lead ID": str(SL_LEAD_BASE + lead.number) if lead else "",
            "Smartlead Campaign ID": str(self.sl_ids[cm.campaign]) if cm else "",
        }
        if enrichment:
            self.rows["clay_enrichment"].append(
                {
                    **{k: keys[k] for k in ("CampaignMemberId", "LeadId", "Email")},
                    "Company Description": description,
                    "Industry": industry,
                    "Email Validation": validation,
                    **{k: keys[k] for k in ("Smartlead Lead ID", "Smartlead Campaign ID")},
                }
            )
        if replies:
            self.rows["clay_replies"].append(
                {
                    **keys,
                    "Hard Bounced": hard_bounced,
                    "Replied": replied,
                    "Reply Category": category,
                    "Reply At": reply_at,
                }
            )

    def yes(self, value: bool = True, style: tuple[str, str] = BOOL_PLAIN) -> str:
        return self.r.bool1(value, style)

    # Pardot, error log -------------------------------------------------------------------------------------
    def prospect(
        self, email: str, *, lead: Ref | None = None, bounced: bool = False, at_us: int = 0, linked: bool = True
    ) -> None:
        self.rows["pardot"].append(
            {
                "id": str(PARDOT_BASE + self._next("pardot")),
                "email": self.r.email1(email.strip().lower(), email),
                "salesforceLeadId": lead.id if (lead and linked) else "",
                "salesforceContactId": "",
                "isEmailHardBounced": self.r.bool1(bounced),
                "emailBouncedAt": self.r.ts1(at_us, TS_MINUS5) if bounced else "",
                "updatedAt": self.r.ts1((at_us or self.t - 5 * DAY) + HOUR, TS_MINUS5),
            }
        )

    def error(self, at_us: int, obj: str, record: str, field_name: str, message: str) -> None:
        self.rows["errors"].append(
            {
                "time": self.r.ts1(at_us, TS_Z),
                "object": obj,
                "record id": record,
                "field": field_name,
                "message": message,
            }
        )
