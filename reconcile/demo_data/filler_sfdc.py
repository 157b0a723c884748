"""Filler Salesforce tables (Lead, CampaignMember, Contact, Campaign) rendered from the population."""

from __future__ import annotations

import numpy as np
import polars as pl

from . import vocab
from .ids import CAMPAIGN_MEMBER, id_series
from .population import (
    N_CAMPAIGNS,
    RATES,
    Population,
    blanks,
    keep,
    clay_descriptions,
    companies,
    contact_ids,
    sfdc_own_descriptions,
    words,
)
from .render import BOOL_EXCEL, BOOL_PLAIN, TS_MILLIS_Z, Renderer

LEAD_COLUMNS = [
    "Id",
    "Email",
    "Company",
    "Industry",
    "company_description__c",
    "external_hard_bounced__c",
    "overall_hard_bounced__c",
    "pi__pardot_hard_bounced__c",
    "Cold_Lead_Eligible__c",
    "HasOptedOutOfEmail",
    "IsConverted",
    "Status",
    "SystemModstamp",
    "GBU__c",
]
CM_COLUMNS = [
    "Id",
    "CampaignId",
    "LeadId",
    "ContactId",
    "Status",
    "Has_Replied__c",
    "ReplyClassification__c",
    "SystemModstamp",
]
CONTACT_COLUMNS = ["Id", "Email"]
CAMPAIGN_COLUMNS = ["Id", "Name", "GBU__c"]


def campaign_frame(pop: Population) -> pl.DataFrame:
    names, gbus = [], []
    for k in range(N_CAMPAIGNS):
        gbu = vocab.GBUS[k % 3]  # three GBUs run campaigns (the fourth only owns leads)
        theme = vocab.CAMPAIGN_THEMES[k % len(vocab.CAMPAIGN_THEMES)]
        names.append(f"FY26 Q{1 + k % 4} {gbu} {theme} {k + 1:02d} (Smartlead {pop.campaign_sl_ids[k]})")
        gbus.append(gbu)
    return pl.DataFrame({"Id": pop.campaign_ids, "Name": names, "GBU__c": gbus})


def lead_frame(pop: Population, r: Renderer) -> pl.DataFrame:
    lead = pop.lead
    state = pl.Series(lead["description_state"])
    description = pl.DataFrame({"s": state, "clay": clay_descriptions(lead), "own": sfdc_own_descriptions(lead)})
    description = description.select(
        pl.when(pl.col("s") == 0)
        .then(pl.col("clay"))
        .when(pl.col("s") == 2)
        .then(pl.lit("   "))
        .when(pl.col("s") == 3)
        .then(pl.col("own"))
        .otherwise(None)
        .alias("d")
    ).to_series()
    industry = np.where(lead["industry_state"] == 3, (lead["industry"] + 7) % len(vocab.INDUSTRIES), lead["industry"])
    industry = keep(words(vocab.INDUSTRIES, industry), lead["industry_state"] != 1, None)
    status = np.where(lead["converted"], -1, lead["status"])
    statuses = words(
        vocab.LEAD_STATUSES + [vocab.CONVERTED_STATUS], np.where(status < 0, len(vocab.LEAD_STATUSES), status)
    )

    def flag(name: str) -> pl.Series:
        return r.bools(lead[name], BOOL_PLAIN)

    return pl.DataFrame(
        {
            "Id": pop.lead_ids,
            "Email": r.emails(pop.lead_emails, 0.05, 0.0),
            "Company": companies(lead),
            "Industry": industry,
            "company_description__c": description,
            "external_hard_bounced__c": flag("external"),
            "overall_hard_bounced__c": flag("overall"),
            "pi__pardot_hard_bounced__c": flag("pi"),
            "Cold_Lead_Eligible__c": flag("eligible"),
            "HasOptedOutOfEmail": flag("opted_out"),
            "IsConverted": flag("converted"),
            "Status": statuses,
            "SystemModstamp": r.timestamps(pop.taken_us - lead["modstamp_age"], TS_MILLIS_Z),
            "GBU__c": words(vocab.GBUS, lead["gbu"]),
        }
    )


def contact_frame(pop: Population, r: Renderer) -> tuple[pl.DataFrame, pl.Series]:
    """Converted leads' Contacts (same email, the eligibility rule's 'Contact with the same email') + others.

    Returns the frame and the ids of the other Contacts (campaign members may point at them)."""
    converted = np.flatnonzero(pop.lead["converted"])
    extra = int(pop.n * RATES["extra_contacts"])
    ids = contact_ids(len(converted) + extra)
    rng = pop.rng
    extra_emails = (
        pl.DataFrame(
            {
                "f": words(vocab.FIRST_NAMES, rng.integers(0, len(vocab.FIRST_NAMES), extra)),
                "n": np.arange(extra, dtype=np.int64) + 500_000_000,
                "d": words(["customer-accounts.com", "key-account.de", "distributor.fr"], rng.integers(0, 3, extra)),
            }
        )
        .select(
            pl.concat_str(
                [pl.col("f").str.to_lowercase(), pl.lit(".c"), pl.col("n").cast(pl.String), pl.lit("@"), pl.col("d")]
            ).alias("e")
        )
        .to_series()
    )
    emails = pl.concat([r.emails(pop.lead_emails.gather(converted), 0.3, 0.0), extra_emails])
    return pl.DataFrame({"Id": ids, "Email": emails}), ids.slice(len(converted))


def cm_frame(pop: Population, r: Renderer, other_contacts: pl.Series) -> pl.DataFrame:
    cm, m = pop.cm, pop.m
    classes = vocab.FILLER_CATEGORY_NAMES
    sfdc_class = words(classes + [""], np.where(cm["sfdc_class"] < 0, len(classes), cm["sfdc_class"]))
    status_pick = pop.rng.integers(0, len(vocab.CM_STATUSES), m)
    status = words(
        vocab.CM_STATUSES + [vocab.CM_REPLIED_STATUS], np.where(cm["sfdc_replied"], len(vocab.CM_STATUSES), status_pick)
    )
    frame = pl.DataFrame(
        {
            "Id": pop.cm_ids,
            "CampaignId": pl.Series(pop.campaign_ids).gather(cm["campaign"]),
            "LeadId": pop.lead_ids.gather(cm["lead"]),
            "ContactId": blanks(m),
            "Status": status,
            "Has_Replied__c": r.bools(cm["sfdc_replied"], BOOL_EXCEL, BOOL_PLAIN),
            "ReplyClassification__c": sfdc_class,
            "SystemModstamp": r.timestamps(cm["reply_us"] + cm["clay_lag_us"] + 3_600_000_000, TS_MILLIS_Z),
        }
    )
    k = min(int(pop.n * RATES["contact_members"]), len(other_contacts))
    if k == 0:
        return frame
    contacts = pl.DataFrame(
        {
            "Id": id_series(CAMPAIGN_MEMBER, "6h", k, salt=5),
            "CampaignId": pl.Series(pop.campaign_ids).gather(pop.rng.integers(0, N_CAMPAIGNS, k)),
            "LeadId": blanks(k),
            "ContactId": other_contacts.slice(0, k),
            "Status": pl.repeat("Sent", k, eager=True),
            "Has_Replied__c": r.bools(np.zeros(k, bool), BOOL_EXCEL),
            "ReplyClassification__c": blanks(k),
            "SystemModstamp": r.timestamps(pop.taken_us - pop.rng.integers(1, 60, k) * 86_400_000_000, TS_MILLIS_Z),
        }
    )
    return pl.concat([frame, contacts])
